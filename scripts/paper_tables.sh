#!/usr/bin/env bash
# The paper's three tables, one command, through the formats real data comes in: each set is generated
# with exact truth, exported (savos-gen export), and imported back the way real data is (savos-gen import:
# frames decoded from H.264, flow estimated by DIS), then trained, adapted and scored under the paper's
# protocols.
#   Table 1, FISHBOWL column   fishbowl-sim -> export fishbowl (mp4 + RLE json) -> import fishbowl;
#                              rows visible, convex, union, image-ssl, SaVos, oracle (savos protocol)
#   Table 1, KINS column       parked-cars -> export kins (PNG drives + MOTS tracks + KINS json) ->
#                              import kins-video-car (the KINS-style matching); the same rows (savos-kins)
#   Table 2, unseen type       the fishbowl-sim export imported with --unseen-type $UNSEEN: train on the
#                              other four types, test on it; image-ssl and SaVos, each without and with
#                              test-time adaptation (savos adapt), and SaVos trained on all types
#   Table 3, transfer          SaVos of the FISHBOWL column tested on the KINS column's test split,
#                              without and with adaptation, and SaVos trained on parked-cars itself
# Settings (environment): TABLES ("1 2 3"), DATA_DIR (data), RUNS (runs/paper), N (clips per set, 1200),
# MINUTES (training budget per learned method, 10; 0: none), EXTRA (more --set KEY=VALUE for every
# training run), FLOW (dis-fine), MOTION (mask-align-smooth: the object motion of the carry and of union on
# estimated flow; savos.motion), UNSEEN (fish-tuna), ADAPT (more --set adapt.KEY=VALUE for every
# adaptation; every test clip is adapted), BIN, RESULTS (results: where the scores are published; empty: not published).
# Re-running resumes: finished data, imports and training are kept; predictions and scores are redone.
# Output: $RUNS/<table>/<row>/ (runs and predictions), $RUNS/<table>/table.md, and
# $RESULTS/<table>/<row>/metrics_<protocol>.json with $RESULTS/<table>/dataset.json, which
# `python scripts/results_doc.py` turns into docs/results.md.
set -euo pipefail
TABLES=${TABLES:-1 2 3}
DATA_DIR=${DATA_DIR:-data}
RUNS=${RUNS:-runs/paper}
N=${N:-1200}
MINUTES=${MINUTES:-10}
EXTRA=${EXTRA:-}
FLOW=${FLOW:-dis-fine}
MOTION=${MOTION:-mask-align-smooth}
UNSEEN=${UNSEEN:-fish-tuna}
BIN=${BIN:-.venv/bin}
RESULTS=${RESULTS-results}
step() { printf '\n== %s\n' "$*"; }
source "$(dirname "$0")/publish.sh"

scene() {  # PRESET -> $DATA_DIR/PRESET, exact truth
  step "data: savos-gen scene recipes/scenes/$1.yaml --n $N"
  "$BIN/savos-gen" scene "recipes/scenes/$1.yaml" --n "$N" --out "$DATA_DIR/$1" -q
}
exported() {  # SRC EXP: whether EXP holds an export of dataset SRC as it is now (its fingerprint)
  [ -f "$2/export.json" ] && "$BIN/python" -c 'import json, sys; from savos.data.dataset import fingerprint
sys.exit(json.load(open(sys.argv[2] + "/export.json"))["source"]["fingerprint"] != fingerprint(sys.argv[1]))' "$1" "$2"
}
as_fishbowl() {  # PRESET OUT [import options]: export as FISHBOWL, import back
  local src="$DATA_DIR/$1" exp="$DATA_DIR/$1-fishbowl" out="$2"
  shift 2
  exported "$src" "$exp" || "$BIN/savos-gen" export fishbowl "$src" --out "$exp" -q
  step "data: savos-gen import fishbowl $exp --flow $FLOW $* --out $out"
  "$BIN/savos-gen" import fishbowl "$exp" --flow "$FLOW" "$@" --out "$out" -q
}
as_kins() {  # PRESET OUT: export as KINS-Video-Car, import back
  local src="$DATA_DIR/$1" exp="$DATA_DIR/$1-kins"
  exported "$src" "$exp" || "$BIN/savos-gen" export kins "$src" --out "$exp" -q
  step "data: savos-gen import kins-video-car ($exp) --flow $FLOW --out $2"
  "$BIN/savos-gen" import kins-video-car --kins "$exp/kins" --kitti-raw "$exp/raw" --tracks "$exp/tracks" \
    --window 16 --flow "$FLOW" --out "$2" -q
}
train() {  # RECIPE DATA RUN [--set KEY=VALUE ...]: train (or resume) a recipe on a dataset
  local recipe="$1" data="$2" run="$3" resume=() extra=()
  shift 3
  [ -f "$run/last.pt" ] && resume=(--resume)
  for kv in $EXTRA; do extra+=(--set "$kv"); done
  step "train $recipe on $data -> $run"
  "$BIN/savos" train "recipes/$recipe.yaml" --set "data.root=$data" --set "train.max_minutes=$MINUTES" \
    "${extra[@]}" "$@" --out "$run" -q "${resume[@]}"
}
predict() { "$BIN/savos" predict "$1" "$2" --split test --out "$3" --overwrite -q; }
adapt() {  # RUN DATA OUT
  local extra=()
  for kv in ${ADAPT:-}; do extra+=(--set "$kv"); done
  "$BIN/savos" adapt "$1" "$2" --split test "${extra[@]}" --out "$3" --overwrite -q
}
baselines() {  # DATA TABLE_DIR
  for b in visible convex; do "$BIN/savos" baseline "$b" "$1" --split test --out "$2/$b/pred" --overwrite -q; done
  "$BIN/savos" baseline union "$1" --split test --motion "$MOTION" --out "$2/union/pred" --overwrite -q
}
score() {  # TABLE PROTOCOL DATA ROW...: score each row's prediction, write the table, publish
  local table="$1" protocol="$2" data="$3" dir="$RUNS/$1"; shift 3
  step "$table: score ($protocol) -> $dir/table.md"
  {
    echo "| row | full | occluded |"
    echo "|---|---|---|"
    for row in "$@"; do
      "$BIN/savos" eval "$dir/$row/pred" "$data" --split test --protocol "$protocol" -q | sed -n 2p \
        | awk -v m="$row" '{print "| " m " | " $3 " | " $4 " |"}'
    done
  } | tee "$dir/table.md"
  if [ -n "$RESULTS" ]; then
    publish "$RESULTS/$table" "$protocol" "$data" "$dir" pred "$@"
  fi
}
learned() {  # TABLE DATA ROW RECIPE [--set ...]: train RECIPE on DATA as row ROW, predict its test split
  local run="$RUNS/$1/$3" data="$2" recipe="$4"
  shift 4
  train "$recipe" "$data" "$run" "$@"
  predict "$run" "$data" "$run/pred"
}
# SaVos with carry on estimated flow moves the carried masks with $MOTION
moved=(--set "model.carry_motion=$MOTION")

fish="$DATA_DIR/fishbowl-sim-real" cars="$DATA_DIR/parked-cars-real"
want() { [[ " $TABLES " == *" $1 "* ]]; }
scene fishbowl-sim; as_fishbowl fishbowl-sim "$fish"
scene parked-cars; as_kins parked-cars "$cars"
mkdir -p "$RUNS/table1-fishbowl" "$RUNS/table1-kins"
if want 1; then
  baselines "$fish" "$RUNS/table1-fishbowl"
  learned table1-fishbowl "$fish" image-ssl fishbowl-sim-image-ssl
  learned table1-fishbowl "$fish" savos fishbowl-sim-cpu "${moved[@]}"
  learned table1-fishbowl "$fish" oracle fishbowl-sim-oracle-unet
  score table1-fishbowl savos "$fish" visible convex union image-ssl savos oracle
  baselines "$cars" "$RUNS/table1-kins"
  learned table1-kins "$cars" image-ssl parked-cars-image-ssl
  learned table1-kins "$cars" savos parked-cars-cpu "${moved[@]}"
  learned table1-kins "$cars" oracle parked-cars-oracle-unet
  score table1-kins savos-kins "$cars" visible convex union image-ssl savos oracle
fi
if want 2; then
  unseen="$DATA_DIR/fishbowl-sim-unseen"
  as_fishbowl fishbowl-sim "$unseen" --unseen-type "$UNSEEN"
  mkdir -p "$RUNS/table2"
  learned table2 "$unseen" image-ssl fishbowl-sim-image-ssl
  learned table2 "$unseen" savos fishbowl-sim-cpu "${moved[@]}"
  for row in image-ssl savos; do
    mkdir -p "$RUNS/table2/$row+tta"
    adapt "$RUNS/table2/$row" "$unseen" "$RUNS/table2/$row+tta/pred"
  done
  all="$RUNS/table1-fishbowl/savos"  # trained on every type
  [ -f "$all/best.pt" ] || learned table1-fishbowl "$fish" savos fishbowl-sim-cpu "${moved[@]}"
  mkdir -p "$RUNS/table2/savos-all-types"
  predict "$all" "$unseen" "$RUNS/table2/savos-all-types/pred"
  score table2 savos "$unseen" image-ssl image-ssl+tta savos savos+tta savos-all-types
fi
if want 3; then
  from="$RUNS/table1-fishbowl/savos"
  [ -f "$from/best.pt" ] || learned table1-fishbowl "$fish" savos fishbowl-sim-cpu "${moved[@]}"
  own="$RUNS/table1-kins/savos"
  [ -f "$own/best.pt" ] || learned table1-kins "$cars" savos parked-cars-cpu "${moved[@]}"
  mkdir -p "$RUNS/table3/savos-fishbowl" "$RUNS/table3/savos-fishbowl+tta" "$RUNS/table3/savos-kins"
  predict "$from" "$cars" "$RUNS/table3/savos-fishbowl/pred"
  adapt "$from" "$cars" "$RUNS/table3/savos-fishbowl+tta/pred"
  predict "$own" "$cars" "$RUNS/table3/savos-kins/pred"
  score table3 savos-kins "$cars" savos-fishbowl savos-fishbowl+tta savos-kins
fi
