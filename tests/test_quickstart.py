"""The README: its two fresh-machine commands exist, and its Quick start runs top to bottom as written,
at a tiny size (fewer clips, two training steps, two adaptation steps), in a fresh folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Only sizes change; every command, path and option of the Quick start runs as written.
TINY = {
    "savos-gen chewing-gum": lambda a: re.sub(r"--n \d+", "--n 20", a),
    "savos train": lambda a: a + " --set train.steps=2 --set data.val_clips=1 --set train.threads=1 -q",
    "savos adapt": lambda a: re.sub(r"--clips \S+", "--clips 0", a) + " --set adapt.max_iters=2 -q",
}


def quickstart_lines() -> list[str]:
    text = README.read_text()
    block = text.split("<!-- quickstart:begin -->", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    body = block.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in body.strip().splitlines()]


def test_readme_starts_with_the_two_fresh_machine_commands_and_stays_short():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    head = "\n".join(lines[:6])
    assert "make demo" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_quickstart_runs_as_written_at_tiny_size(tmp_path):
    lines = quickstart_lines()
    assert lines[0] == "make setup && . .venv/bin/activate"  # the test runs inside that environment
    (tmp_path / "recipes").symlink_to(ROOT / "recipes")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "OMP_NUM_THREADS": "1"}
    for line in lines[1:]:
        for prefix, shrink in TINY.items():
            if line.startswith(prefix):
                line = shrink(line)
        r = subprocess.run(shlex.split(line), cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"{line}\n{r.stdout[-1500:]}{r.stderr[-1500:]}"
    assert (tmp_path / "preview.gif").is_file()
    assert (tmp_path / "runs" / "gum-cpu" / "pred-test" / "metrics_savos.json").is_file()
    assert "| union |" in (tmp_path / "runs" / "report" / "index.md").read_text()
    assert (tmp_path / "runs" / "gum-cpu" / "tta-gum-hard" / "predictions.json").is_file()
