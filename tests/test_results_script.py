"""scripts/results.sh (the results tables, one command) in a shortened mode: both Chewing-Gum sets and a
scene preset, the non-learned baselines and two learned recipes, one of which gum-hard and fishbowl-sim
replace with their own (gum-hard-cpu.yaml, fishbowl-sim-cpu.yaml), scored into a table and a report with
the reach plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_results_script_shortened_makes_every_table(tmp_path):
    env = {**os.environ, "SETS": "gum gum-hard fishbowl-sim", "DATA_DIR": str(tmp_path / "data"),
           "RUNS": str(tmp_path / "runs"),
           "RESULTS": str(tmp_path / "results"), "N": "10", "METHODS": "gum-tiny gum-cpu", "MINUTES": "2",
           "EXTRA": "train.steps=2 data.val_clips=1", "BIN": str(Path(sys.executable).parent),
           "OMP_NUM_THREADS": "1", "MOTION": "mask-align-smooth"}
    r = subprocess.run(["bash", "scripts/results.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for name, own in (("gum", "gum-cpu"), ("gum-hard", "gum-hard-cpu"), ("fishbowl-sim", "fishbowl-sim-cpu")):
        table = (tmp_path / "runs" / name / "table.md").read_text().splitlines()
        methods = [line.split("|")[1].strip() for line in table[2:]]
        assert methods == ["visible", "convex", "circle", "union", "gum-tiny", own], table
        visible = table[2].split("|")
        assert float(visible[3]) == 0.0 and 0 < float(visible[2]) < 1  # visible: nothing completed
        index = (tmp_path / "runs" / name / "report" / "index.md").read_text()
        assert "iou_vs_reach.png" in index and "| circle |" in index
    ran = yaml.safe_load((tmp_path / "runs" / "gum-hard" / "gum-hard-cpu" / "config.yaml").read_text())
    assert ran["loss"]["horizon"] > 1 and ran["loss"]["lambda3"] > 0  # gum-hard's own loss terms
    assert ran["data"]["root"] == str(tmp_path / "data" / "gum-hard")
    fish_run = tmp_path / "runs" / "fishbowl-sim" / "fishbowl-sim-cpu"
    fish = yaml.safe_load((fish_run / "config.yaml").read_text())
    assert fish["loss"]["occlude"] > 0 and fish["data"]["patch"] == 32  # fishbowl-sim's own recipe
    made = (tmp_path / "data" / "fishbowl-sim" / "dataset.json").read_text()
    assert "fish-" in made  # made with recipes/scenes/fishbowl-sim.yaml
    header = (tmp_path / "runs" / "fishbowl-sim" / "table.md").read_text().splitlines()[0]
    assert "never seen" in header
    # published where RESULTS says, with the dataset they scored
    for name in ("gum", "gum-hard", "fishbowl-sim"):
        published = tmp_path / "results" / name
        made = (tmp_path / "data" / name / "dataset.json").read_bytes()
        assert (published / "dataset.json").read_bytes() == made
        assert (published / "union" / "metrics_savos.json").is_file()
    union = json.loads((tmp_path / "runs" / "gum" / "union" / "pred-test" / "predictions.json").read_text())
    assert union["motion"] == "mask-align-smooth"  # MOTION: the union rule's object motion
    hard = (tmp_path / "data" / "gum-hard" / "dataset.json").read_text()
    assert '"arms"' in hard  # made with recipes/data/gum-hard.yaml
