"""The main job (scripts/demo.sh, what `make demo` runs) in a shortened mode, and the report it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_shortened_writes_the_promised_report(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "DEMO_DIR": str(out), "DEMO_N": "12", "DEMO_RECIPE": "recipes/gum-tiny.yaml",
           "DEMO_STEPS": "3", "DEMO_MINUTES": "2", "BIN": str(Path(sys.executable).parent),
           "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "demo done" in r.stdout
    report = out / "report"
    index = (report / "index.md").read_text()
    for method in ("savos", "convex", "visible"):
        assert f"| {method} |" in index
    for promised in ("results.md", "iou_vs_occlusion.png", "iou_vs_reach.png", "iou_vs_reach.md",
                     "training_curves.png"):
        assert (report / promised).is_file() and promised in index
    gifs = sorted((report / "clips").glob("*.gif"))
    assert gifs and all(f"clips/{g.name}" in index for g in gifs)
    from PIL import Image

    for png in ("iou_vs_occlusion.png", "training_curves.png"):
        with Image.open(report / png) as im:
            assert im.size[0] > 300 and im.size[1] > 200
    # visible masks never complete anything: their occluded IoU is 0 by construction
    visible_row = next(line for line in index.splitlines() if line.startswith("| visible |"))
    assert visible_row.split("|")[3].strip() == "0.0000"

    # re-running resumes: the finished run is kept, predictions and scores are redone
    r = subprocess.run(["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
