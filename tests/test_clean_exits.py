"""Faults that ended in a traceback end in one line:

- an output name that is not UTF-8 is refused by every writer before it writes anything (outputs record
  their paths as text: config.yaml, TensorBoard events, predictions.json);
- Ctrl-C while `savos adapt --workers 2` starts its workers exits 130 with one line, and the same command
  then finishes the work;
- a device that is not there is refused with a suggestion that works for the command at hand (running
  the suggestion succeeds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.evaluation.baselines import run_baseline

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
SAVOS = str(Path(sys.executable).with_name("savos"))


@pytest.fixture(scope="module")
def world(tiny_run, tmp_path_factory):
    pred = run_baseline("convex", tiny_run["data"], "test", tmp_path_factory.mktemp("exits") / "pred",
                        progress=False)
    return {**tiny_run, "pred": pred}


def _lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]


WRITERS = {  # name -> args writing into ``out``
    "chewing-gum": lambda w, out: (gen_main, ["chewing-gum", "--n", "4", "--out", out, "-q"]),
    "preview": lambda w, out: (gen_main, ["preview", str(w["data"]), "--out", f"{out}.gif"]),
    "train": lambda w, out: (savos_main, ["train", str(w["recipe"]), "--set", "train.steps=1", "--out", out,
                                          "-q"]),
    "predict": lambda w, out: (savos_main, ["predict", str(w["run"]), str(w["data"]), "--out", out, "-q"]),
    "baseline": lambda w, out: (savos_main, ["baseline", "convex", str(w["data"]), "--out", out, "-q"]),
    "eval": lambda w, out: (savos_main, ["eval", str(w["pred"]), str(w["data"]), "--out", out, "-q"]),
    "report": lambda w, out: (savos_main, ["report", str(w["pred"]), "--out", out, "--clips", "1"]),
    "adapt": lambda w, out: (savos_main, ["adapt", str(w["run"]), str(w["data"]), "--out", out, "-q"]),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("where", ["name", "parent"])
def test_an_output_name_that_is_not_utf8_is_refused_before_writing(world, tmp_path, writer, where):
    name = os.fsdecode(b"out\xff")
    out = str(tmp_path / name) if where == "name" else str(tmp_path / name / "sub")
    cli, args = WRITERS[writer](world, out)
    before = sorted(tmp_path.iterdir())
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    lines = _lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: --out ") and "out\\xff" in lines[0], result.stderr
    assert "not UTF-8" in lines[0]
    assert sorted(tmp_path.iterdir()) == before  # nothing written: no config.yaml, no event file


def test_ctrl_c_while_adapt_starts_its_workers_is_one_line(world, tmp_path):
    out = tmp_path / "a"
    args = [SAVOS, "adapt", str(world["run"]), str(world["data"]), "--split", "train", "--out", str(out),
            "--workers", "2", "--set", "adapt.max_iters=1", "-q"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while not (out / ".adapt.json").exists() and proc.poll() is None:  # written just before the pool
            time.sleep(0.01)
        time.sleep(0.3)  # the workers are being spawned: importing torch, loading the run
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole process group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert proc.returncode == 130 and lines == ["interrupted"], err
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)  # the same command finishes
    assert done.returncode == 0, done.stderr
    assert (out / "predictions.json").is_file()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("command", ["adapt", "predict", "train"])
def test_a_missing_gpu_suggests_what_works(world, tmp_path, command):
    out = str(tmp_path / "o")
    asks = {"adapt": ["adapt", str(world["run"]), str(world["data"]), "--out", out, "--device", "cuda",
                      "--set", "adapt.max_iters=1", "-q"],
            "predict": ["predict", str(world["run"]), str(world["data"]), "--out", out, "--device", "cuda",
                        "-q"],
            "train": ["train", str(world["recipe"]), "--set", "train.steps=1", "--set", "train.device=cuda",
                      "--out", out, "-q"]}[command]
    result = CliRunner().invoke(savos_main, asks)
    lines = _lines(result)
    assert result.exit_code == 2 and len(lines) == 1 and "no CUDA GPU" in lines[0], result.output
    suggestion = lines[0].split("; use ", 1)[1]  # e.g. "--device=cpu or auto"
    if command == "train":  # train takes the device from the recipe: --set train.device
        assert suggestion == "--set train.device=cpu or auto", lines[0]
        fixed = [a if a != "train.device=cuda" else "train.device=cpu" for a in asks]
    else:  # adapt and predict take --device (adapt refuses --set train.*)
        assert suggestion == "--device=cpu or auto", lines[0]
        fixed = [a for a in asks if a != "cuda"]
        fixed[fixed.index("--device")] = "--device=cpu"
    done = CliRunner().invoke(savos_main, fixed)  # the suggestion, as given, works
    assert done.exit_code == 0, done.output
