"""Every script in examples/ runs, in the order a newcomer would try them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_examples_run_end_to_end(tmp_path):
    assert "clip_000002" in _run("generate_in_process.py")
    data, run, png = tmp_path / "data", tmp_path / "run", tmp_path / "frame.png"
    assert "2 test clips" in _run("open_dataset.py", str(data))
    assert "finished at step 4" in _run("train_few_steps.py", str(data), str(run))
    assert (run / "last.pt").is_file()
    assert "IoU" in _run("predict_and_plot.py", str(run), str(data), str(png))
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] == 4 * im.size[1]  # four square panels side by side
