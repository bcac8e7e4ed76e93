#!/usr/bin/env bash
# The README's results table: the default Chewing-Gum set, SaVos with the CPU recipe and every baseline,
# scored on the test split under the savos protocol, plus a report. Several hours on a 2-core CPU
# (each learned method has a 60-minute budget in its recipe); MINUTES caps each training run.
# Settings (environment): DATA (dataset folder), RUNS, MINUTES, BIN. Re-running resumes.
set -euo pipefail
DATA=${DATA:-data/gum}
RUNS=${RUNS:-runs}
BIN=${BIN:-.venv/bin}
MINUTES=${MINUTES:-60}
step() { printf '\n== %s\n' "$*"; }

step "data: savos-gen chewing-gum --n 5000 --out $DATA"
"$BIN/savos-gen" chewing-gum --n 5000 --out "$DATA" -q

for recipe in gum-cpu gum-image-ssl gum-oracle-unet gum-oracle-savos; do
  step "train $recipe (at most $MINUTES min)"
  resume=()
  [ -f "$RUNS/$recipe/last.pt" ] && resume=(--resume)
  "$BIN/savos" train "recipes/$recipe.yaml" --set "data.root=$DATA" --set "train.max_minutes=$MINUTES" \
    --out "$RUNS/$recipe" "${resume[@]}"
  "$BIN/savos" predict "$RUNS/$recipe" "$DATA" --split test --out "$RUNS/$recipe/pred-test" --overwrite -q
done
for b in convex visible; do
  "$BIN/savos" baseline "$b" "$DATA" --split test --out "$RUNS/$b/pred-test" --overwrite -q
done

step "score and report -> $RUNS/report"
preds=()
for m in visible convex gum-image-ssl gum-cpu gum-oracle-unet gum-oracle-savos; do
  "$BIN/savos" eval "$RUNS/$m/pred-test" "$DATA" --split test -q | sed -n 2p
  preds+=("$RUNS/$m/pred-test")
done
"$BIN/savos" report "${preds[@]}" --out "$RUNS/report"
