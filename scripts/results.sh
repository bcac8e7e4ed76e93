#!/usr/bin/env bash
# The results tables of docs/results.md, one command: for each set (Chewing Gum: the default one and gum-hard;
# a scene preset: fishbowl-sim, parked-cars, where part of every target is never seen), every method of the
# table trained and scored on the test split under the savos protocol, plus a report.
#   visible, convex, circle, union    non-learned baselines (savos baseline ...); union is the temporal one
#   gum-image-ssl                     the per-frame self-supervised baseline
#   gum-oracle-unet                   the per-frame network trained with amodal labels
#   gum-cpu-paper                     the paper's SaVos network (a 128-number LSTM state)
#   gum-cpu                           SaVos whose completer also reads the carried visible masks (model.carry)
#   gum-oracle-savos                  gum-cpu's network trained with amodal labels
# A set's data: gum is `savos-gen chewing-gum`, S with recipes/data/S.yaml is chewing-gum --config that
# file, S with recipes/scenes/S.yaml is `savos-gen scene` of that preset.
# A set may have its own recipe of a method: on set S, method gum-X trains recipes/S-X.yaml when it exists
# (gum-hard-cpu.yaml: gum-cpu with the loss terms gum-hard needs; fishbowl-sim-*.yaml: its crop size and
# levers), else recipes/gum-X.yaml; the table names the recipe that ran.
# Many hours on a 2-core CPU: each learned method has a MINUTES budget (default 60, its recipe's).
# Settings (environment): SETS ("gum gum-hard"), DATA_DIR (data), RUNS (runs), MINUTES, N (clips; default
# 5000 for a Chewing-Gum set, 1200 for a scene preset),
# METHODS (the learned recipes; empty: baselines only), EXTRA (more --set KEY=VALUE for every training
# run), MOTION (the union rule's object motion, savos.motion: affine-lsq; mask-align-smooth on estimated
# flow), BIN, RESULTS (results: where the scores are published; empty: not published).
# Re-running resumes: finished data and training are kept; predictions and scores are redone.
# Output: $RUNS/<set>/<method>/pred-test, $RUNS/<set>/table.md (the scores), $RUNS/<set>/report/, and
# $RESULTS/<set>/<method>/ (metrics_savos.json, and a learned method's config.yaml and run summary), which
# `python scripts/results_doc.py` turns into docs/results.md and the README's headline table.
set -euo pipefail
SETS=${SETS:-gum gum-hard}
DATA_DIR=${DATA_DIR:-data}
RUNS=${RUNS:-runs}
MINUTES=${MINUTES:-60}
N=${N:-}
METHODS=${METHODS-gum-image-ssl gum-oracle-unet gum-cpu-paper gum-cpu gum-oracle-savos}
EXTRA=${EXTRA:-}
MOTION=${MOTION:-affine-lsq}
BIN=${BIN:-.venv/bin}
RESULTS=${RESULTS-results}
step() { printf '\n== %s\n' "$*"; }
source "$(dirname "$0")/publish.sh"
recipe_for() {  # SET METHOD -> the recipe that method trains on that set (header)
  local own="$1-${2#gum-}"
  if [ -f "recipes/$own.yaml" ]; then echo "$own"; else echo "$2"; fi
}

for set in $SETS; do
  data="$DATA_DIR/$set"
  out="$RUNS/$set"
  if [ "$set" = gum ]; then make=(chewing-gum); n=${N:-5000}
  elif [ -f "recipes/data/$set.yaml" ]; then make=(chewing-gum --config "recipes/data/$set.yaml"); n=${N:-5000}
  elif [ -f "recipes/scenes/$set.yaml" ]; then make=(scene "recipes/scenes/$set.yaml"); n=${N:-1200}
  else
    echo "scripts/results.sh: set '$set' has no recipes/data/$set.yaml or recipes/scenes/$set.yaml" >&2
    exit 2
  fi
  step "$set: savos-gen ${make[*]} --n $n --out $data"
  "$BIN/savos-gen" "${make[@]}" --n "$n" --out "$data" -q
  "$BIN/savos-gen" verify "$data" -q | tail -n 1

  recipes=()
  for m in $METHODS; do recipes+=("$(recipe_for "$set" "$m")"); done
  for recipe in "${recipes[@]}"; do
    budget="at most $MINUTES min"; [ "$MINUTES" = 0 ] && budget="no time limit"
  step "$set: train $recipe ($budget)"
    resume=()
    [ -f "$out/$recipe/last.pt" ] && resume=(--resume)
    extra=()
    for kv in $EXTRA; do extra+=(--set "$kv"); done
    "$BIN/savos" train "recipes/$recipe.yaml" --set "data.root=$data" --set "train.max_minutes=$MINUTES" \
      "${extra[@]}" --out "$out/$recipe" -q "${resume[@]}"
    "$BIN/savos" predict "$out/$recipe" "$data" --split test --out "$out/$recipe/pred-test" --overwrite -q
  done
  for b in visible convex circle; do
    "$BIN/savos" baseline "$b" "$data" --split test --out "$out/$b/pred-test" --overwrite -q
  done
  "$BIN/savos" baseline union "$data" --split test --motion "$MOTION" --out "$out/union/pred-test" --overwrite -q

  step "$set: score -> $out/table.md, report -> $out/report"
  preds=()
  methods=(visible convex circle union "${recipes[@]}")
  for m in "${methods[@]}"; do preds+=("$out/$m/pred-test"); done
  {
    echo "| method | full | occluded | never seen |"
    echo "|---|---|---|---|"
    for m in "${methods[@]}"; do
      "$BIN/savos" eval "$out/$m/pred-test" "$data" --split test -q | sed -n 2p \
        | awk -v m="$m" '{print "| " m " | " $3 " | " $4 " | " $5 " |"}'
    done
  } | tee "$out/table.md"
  "$BIN/savos" report "${preds[@]}" --data "$data" --out "$out/report" --overwrite -q

  if [ -n "$RESULTS" ]; then
    step "$set: publish the scores -> $RESULTS/$set"
    publish "$RESULTS/$set" savos "$data" "$out" pred-test "${methods[@]}"
  fi
done
