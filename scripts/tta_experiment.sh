#!/usr/bin/env bash
# Test-time adaptation under a distribution shift (paper Table 2, on Chewing Gum), one command:
#   bash scripts/tta_experiment.sh            (environment settings below; re-running resumes)
#
# Train distribution: the default Chewing-Gum set (7-12-gons, two targets). Test distribution, never seen
# in training: recipes/data/gum-hard.yaml (one target with 1-3 thin arms, an occluder twice its size),
# test clips from another seed than the ceiling's training clips. Rows (savos protocol, test split):
#   image-ssl without / with adaptation, SaVos without / with adaptation (trained on the default set),
#   SaVos trained on gum-hard itself (the ceiling, the paper's "w. All" row).
# "Without adaptation" is `savos adapt`'s before/ folder: the run's plain predictions (what `savos
# predict` writes; tests/test_adapt.py checks they are identical).
#
# SHIFT=heldout tests instead on recipes/scenes/heldout.yaml (block letters and hearts, shape families no
# other preset or set uses; the ceiling trains on its clips of seed 0, the test clips are seed 1).
#
# Settings: SHIFT (gum-hard | heldout), OUT (folder), N (clips per training set), TEST (test clips),
# MINUTES (per training run), STEPS, PATCH, ITERS (adapt.max_iters), LR (adapt.lr), WORKERS, THREADS
# (train.threads; the recipes' own by default), BIN. Defaults: a small scale that runs on a 2-core
# machine; full scale is N=5000 MINUTES=60 PATCH=64 with the
# recipes' own models (SMALL=0), TEST=100 ITERS=30.
set -euo pipefail
OUT=${OUT:-out/tta}
N=${N:-1000}
TEST=${TEST:-16}
MINUTES=${MINUTES:-10}
STEPS=${STEPS:-1500}
PATCH=${PATCH:-32}
ITERS=${ITERS:-20}
LR=${LR:-1e-3}
WORKERS=${WORKERS:-2}
SMALL=${SMALL:-1}
SHIFT=${SHIFT:-gum-hard}
THREADS=${THREADS:-}
BIN=${BIN:-.venv/bin}
NICE=(nice -n 10)
step() { printf '\n== %s\n' "$*"; }

case "$SHIFT" in
  gum-hard) shifted=(chewing-gum --config recipes/data/gum-hard.yaml) ;;
  heldout) shifted=(scene recipes/scenes/heldout.yaml) ;;
  *) echo "error: SHIFT must be gum-hard or heldout, got '$SHIFT'" >&2; exit 2 ;;
esac
step "data: $N default clips -> $OUT/gum, $N $SHIFT clips -> $OUT/$SHIFT, $TEST $SHIFT test clips (seed 1)"
"${NICE[@]}" "$BIN/savos-gen" chewing-gum --n "$N" --val 40 --test 40 --out "$OUT/gum" -q
"${NICE[@]}" "$BIN/savos-gen" "${shifted[@]}" --n "$N" --val 40 --test 40 --out "$OUT/$SHIFT" -q
"${NICE[@]}" "$BIN/savos-gen" "${shifted[@]}" --n "$TEST" --val 0 --test "$TEST" --seed 1 \
  --out "$OUT/$SHIFT-test" -q

common=(--set "data.patch=$PATCH" --set "train.steps=$STEPS" --set "train.max_minutes=$MINUTES"
        --set train.val_every=100 --set data.val_clips=8 --set train.warmup=50)
[ -n "$THREADS" ] && common+=(--set "train.threads=$THREADS")
savos_model=() ssl_model=()
if [ "$SMALL" = 1 ]; then  # a smaller network, windows and batches: ~4x cheaper steps
  common+=(--set data.window=8 --set train.batch_size=4)
  # the paper's LSTM memory, no others' masks as input: the paper's network
  savos_model=(--set model.memory=vector --set model.others=false
               --set "model.enc_widths=[8,16,32]" --set model.feat=64 --set model.hidden=64
               --set "model.completer_widths=[8,16,32]" --set "model.motion_widths=[8,16,32]")
  ssl_model=(--set "model.widths=[8,16,32,64]")
fi
train() {  # name recipe data extra...
  local name=$1 recipe=$2 data=$3; shift 3
  step "train $name: $recipe on $data (at most $MINUTES min)"
  local resume=() status
  status=$("$BIN/python" -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" \
           "$OUT/runs/$name/metrics.json" 2>/dev/null || true)
  if [ "$status" = finished ] || [[ "$status" == stopped* ]]; then echo "kept ($status)"; return; fi
  [ -f "$OUT/runs/$name/last.pt" ] && resume=(--resume)
  "${NICE[@]}" "$BIN/savos" train "$recipe" --set "data.root=$data" "${common[@]}" "$@" \
    --out "$OUT/runs/$name" -q "${resume[@]}" || [ -f "$OUT/runs/$name/metrics.json" ]
}
train savos-gum recipes/gum-cpu.yaml "$OUT/gum" "${savos_model[@]}"
train image-ssl-gum recipes/gum-image-ssl.yaml "$OUT/gum" "${ssl_model[@]}"
train "savos-$SHIFT" recipes/gum-cpu.yaml "$OUT/$SHIFT" "${savos_model[@]}"

T="$OUT/$SHIFT-test"
for name in image-ssl-gum savos-gum; do
  step "adapt $name to each of the $TEST unseen $SHIFT clips (adapt.max_iters=$ITERS, adapt.lr=$LR)"
  again=(--overwrite)  # redo finished adaptations (the run may have changed); resume interrupted ones
  [ -f "$OUT/pred/$name-tta/.adapt.json" ] && again=()
  "${NICE[@]}" "$BIN/savos" adapt "$OUT/runs/$name" "$T" --split test --out "$OUT/pred/$name-tta" \
    --set "adapt.max_iters=$ITERS" --set "adapt.lr=$LR" --workers "$WORKERS" -q "${again[@]}"
done
"${NICE[@]}" "$BIN/savos" predict "$OUT/runs/savos-$SHIFT" "$T" --split test --out "$OUT/pred/savos-$SHIFT" \
  --overwrite -q

step "score (savos protocol) -> $OUT/table.md, report -> $OUT/report"
rows=("image-ssl (trained on default gum)|$OUT/pred/image-ssl-gum-tta/before"
      "image-ssl + TTA|$OUT/pred/image-ssl-gum-tta"
      "SaVos (trained on default gum)|$OUT/pred/savos-gum-tta/before"
      "SaVos + TTA|$OUT/pred/savos-gum-tta"
      "SaVos trained on $SHIFT (ceiling)|$OUT/pred/savos-$SHIFT")
{
  echo "| method | full mIoU | occluded mIoU | mean TTA steps | mean s/clip |"
  echo "|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    name=${row%%|*} dir=${row#*|}
    "$BIN/savos" eval "$dir" "$T" --split test -q > /dev/null
    "$BIN/python" - "$dir" "$name" <<'EOF'
import json, sys
d, name = sys.argv[1], sys.argv[2]
s = json.load(open(f"{d}/metrics_savos.json"))["summary"]
info = json.load(open(f"{d}/predictions.json"))
steps = info.get("mean_steps"); secs = info.get("mean_seconds")
f = lambda x: "-" if x is None else f"{x:.1f}"
print(f"| {name} | {s['miou_full']:.4f} | {s['miou_occ']:.4f} | {f(steps)} | {f(secs)} |")
EOF
  done
} | tee "$OUT/table.md"
"$BIN/savos" report "$OUT/pred/image-ssl-gum-tta/before" "$OUT/pred/image-ssl-gum-tta" \
  "$OUT/pred/savos-gum-tta/before" "$OUT/pred/savos-gum-tta" "$OUT/pred/savos-$SHIFT" --data "$T" \
  --out "$OUT/report" --clips 3 --overwrite
