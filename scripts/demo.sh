#!/usr/bin/env bash
# The main job, end to end on a CPU: Chewing-Gum data -> SaVos trained with the CPU recipe for a bounded
# time -> convex and visible baselines -> scores (savos protocol) -> a report folder.
# Settings (environment): DEMO_DIR, DEMO_N clips, DEMO_RECIPE, DEMO_STEPS, DEMO_MINUTES, BIN (venv bin).
# Re-running resumes: finished data and training are kept; predictions and scores are redone.
set -euo pipefail
OUT=${DEMO_DIR:-out/demo}
N=${DEMO_N:-1000}
RECIPE=${DEMO_RECIPE:-recipes/gum-cpu.yaml}
STEPS=${DEMO_STEPS:-1500}
MINUTES=${DEMO_MINUTES:-15}
BIN=${BIN:-.venv/bin}
step() { printf '\n== %s\n' "$*"; }

step "1/5 data: $N Chewing-Gum clips -> $OUT/gum"
"$BIN/savos-gen" chewing-gum --n "$N" --out "$OUT/gum" -q
"$BIN/savos-gen" verify "$OUT/gum" -q | tail -n 1

step "2/5 train SaVos: $RECIPE, $STEPS steps, at most $MINUTES min -> $OUT/run"
resume=()
[ -f "$OUT/run/last.pt" ] && resume=(--resume)
"$BIN/savos" train "$RECIPE" --set "data.root=$OUT/gum" --set "train.steps=$STEPS" \
  --set "train.max_minutes=$MINUTES" --out "$OUT/run" "${resume[@]}"

step "3/5 predict the test split: SaVos, convex hull, visible mask -> $OUT/pred"
"$BIN/savos" predict "$OUT/run" "$OUT/gum" --split test --out "$OUT/pred/savos" --overwrite --quiet
for b in convex visible; do
  "$BIN/savos" baseline "$b" "$OUT/gum" --split test --out "$OUT/pred/$b" --overwrite --quiet
done

step "4/5 score (savos protocol)"
for m in savos convex visible; do  # one table: the header and legend once, a row per method
  table=$("$BIN/savos" eval "$OUT/pred/$m" "$OUT/gum" --split test --quiet)
  [ "$m" = savos ] && sed -n 1p <<<"$table"
  sed -n 2p <<<"$table"
done
sed -n 3p <<<"$table"

step "5/5 report -> $OUT/report"
"$BIN/savos" report "$OUT/pred/savos" "$OUT/pred/convex" "$OUT/pred/visible" --out "$OUT/report" --overwrite
printf '\ndemo done: open %s/report/index.md\n' "$OUT"
