# Sourced by results.sh and paper_tables.sh: copy a table's scores where results_doc.py reads them.
# publish DEST PROTOCOL DATA RUNS PRED ROW...: for each ROW, $RUNS/ROW/$PRED/metrics_PROTOCOL.json and, for a
# learned row, its resolved config.yaml and run summary metrics.json go to DEST/ROW/; DATA's dataset.json
# goes to DEST/, so every published score names the dataset it was scored against.
publish() {
  local dest="$1" protocol="$2" data="$3" runs="$4" pred="$5" row
  shift 5
  for row in "$@"; do
    mkdir -p "$dest/$row"
    cp "$runs/$row/$pred/metrics_$protocol.json" "$dest/$row/"
    if [ -f "$runs/$row/config.yaml" ]; then
      cp "$runs/$row/config.yaml" "$runs/$row/metrics.json" "$dest/$row/"
    fi
  done
  cp "$data/dataset.json" "$dest/dataset.json"
}
