#!/usr/bin/env bash
# Curriculum against plain training at equal compute, scored on the Chewing-Gum test split:
# recipes/gum-cpu.yaml on Chewing Gum and recipes/gum-curriculum.yaml on the curriculum
# (recipes/curricula/gum.yaml), the same model, steps, batch and schedule; both validated on the
# Chewing-Gum val split. STEPS shortens both runs alike (the curriculum's level_steps scale with it).
# Settings (environment): DATA, CURRICULUM (folders), N (Chewing-Gum clips), LEVEL_N (clips per level),
# RUNS, STEPS, BIN. Re-running resumes.
set -euo pipefail
DATA=${DATA:-data/gum}
CURRICULUM=${CURRICULUM:-data/gum-curriculum}
RUNS=${RUNS:-runs/curriculum-vs-plain}
STEPS=${STEPS:-4500}
N=${N:-5000}
LEVEL_N=${LEVEL_N:-1250}
BIN=${BIN:-.venv/bin}
step() { printf '\n== %s\n' "$*"; }

step "data: Chewing Gum (train, val, test) and the curriculum's levels"
"$BIN/savos-gen" chewing-gum --n "$N" --out "$DATA" -q
"$BIN/savos-gen" curriculum recipes/curricula/gum.yaml --out "$CURRICULUM" --n "$LEVEL_N" -q

# gum-curriculum.yaml's level_steps [750, 1000, 1250] of 4500, scaled to STEPS
# gum-cpu's warm-up (200 of 4500 steps) and validation interval (500) scale the same way
levels=$(python3 -c "s=$STEPS; print('[' + ','.join(str(round(v * s / 4500)) for v in (750, 1000, 1250)) + ']')")
warmup=$(( 200 * STEPS / 4500 ))
every=$(( 500 * STEPS / 4500 > 0 ? 500 * STEPS / 4500 : 1 ))
for name in plain curriculum; do
  if [ "$name" = plain ]; then
    recipe=recipes/gum-cpu.yaml; sets=(--set "data.root=$DATA")
  else
    recipe=recipes/gum-curriculum.yaml
    sets=(--set "data.root=$CURRICULUM" --set "data.val_root=$DATA" --set "data.level_steps=$levels")
  fi
  step "train $name ($STEPS steps)"
  resume=()
  [ -f "$RUNS/$name/last.pt" ] && resume=(--resume)
  "$BIN/savos" train "$recipe" "${sets[@]}" --set "train.steps=$STEPS" --set "train.max_minutes=0" \
    --set "train.warmup=$warmup" --set "train.val_every=$every" \
    --out "$RUNS/$name" "${resume[@]}"
  "$BIN/savos" predict "$RUNS/$name" "$DATA" --split test --out "$RUNS/$name/pred-test" --overwrite -q
done

step "scores on the Chewing-Gum test split (savos protocol)"
for name in plain curriculum; do  # one table: the header and legend once, a row per run
  table=$("$BIN/savos" eval "$RUNS/$name/pred-test" "$DATA" --split test -q)
  [ "$name" = plain ] && printf '%-11s %s\n' "run" "$(sed -n 1p <<<"$table")"
  printf '%-11s %s\n' "$name" "$(sed -n 2p <<<"$table")"
done
sed -n 3p <<<"$table"
