"""Training health: divergence stops with status "diverged"; healthy runs are left alone;
Ctrl-C saves last.pt and prints a resume command that continues to the numbers of an unbroken run;
stale temporary files of killed runs are removed."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from savos.config import load_config
from savos.training.health import MIN_DIVERGE_STEPS, START_STEPS, DivergedError, LossWatch, val_diverged
from savos.training.train import train

TINY = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"


def _config(root: Path, *overrides: str):
    return load_config(TINY, [f"data.root={root}", "train.threads=1", *overrides])


def test_loss_watch_fires_only_on_an_explosion_after_the_first_steps():
    watch = LossWatch(factor=3.0)
    for step in range(MIN_DIVERGE_STEPS + 20):  # a flat loss never fires
        assert watch.update(step, 1.0) is None
    watch = LossWatch(factor=3.0)
    losses = [1.0] * START_STEPS + [10.0] * MIN_DIVERGE_STEPS
    fired = [s for s, v in enumerate(losses) if watch.update(s, v)]
    assert fired and fired[0] >= MIN_DIVERGE_STEPS - 1  # not before the minimum number of steps
    off = LossWatch(factor=0.0)
    assert all(off.update(s, v) is None for s, v in enumerate(losses))
    again = LossWatch(factor=3.0)
    again.load_state_dict(watch.state_dict())
    assert again.running == watch.running and again.start_sum == watch.start_sum


def test_val_divergence_rule():
    assert val_diverged(100, 400, 0.25, 1.0, 1.0) is not None  # no better than at step 0
    assert val_diverged(100, 400, 0.25, 0.9, 1.0) is None
    assert val_diverged(99, 400, 0.25, 5.0, 1.0) is None  # before 25 % of the run
    assert val_diverged(100, 400, 0.0, 5.0, 1.0) is None  # off
    assert val_diverged(100, 400, 0.25, float("nan"), 1.0) is not None


def test_absurd_learning_rate_diverges_with_status_and_keeps_good_checkpoints(toy_root, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(DivergedError) as e:
        train(_config(toy_root, "train.lr=1.0", "train.steps=200", "train.val_every=50", "train.warmup=0"),
              run, progress=False)
    assert "diverged" in str(e.value) and "\n" not in str(e.value)
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["status"] == "diverged" and summary["message"] and summary["step"] <= 100
    assert not (run / "best.pt").exists()  # a diverged model is never "best"


def test_a_healthy_run_is_not_stopped(toy_root, tmp_path):
    summary = train(_config(toy_root, "train.steps=60", "train.val_every=30"), tmp_path / "run",
                    progress=False)
    assert summary["status"] == "finished" and summary["val_loss_at_start"] is not None
    assert summary["history"][-1]["loss_total"] < summary["val_loss_at_start"]


def test_stale_temporary_files_are_removed_on_resume(toy_root, tmp_path):
    run = tmp_path / "run"
    train(_config(toy_root, "train.steps=4", "train.val_every=2"), run, stop_after=2, progress=False)
    stale = [run / ".last.pt.tmp-999999", run / ".metrics.json.tmp-1"]
    for p in stale:
        p.write_bytes(b"half")
    (run / "notes.tmp-1").write_text("mine")  # not a temporary file of ours: kept
    train(_config(toy_root, "train.steps=4", "train.val_every=2"), run, resume=True, progress=False)
    assert not any(p.exists() for p in stale) and (run / "notes.tmp-1").read_text() == "mine"


def test_ctrl_c_saves_and_prints_a_resume_command_that_matches_an_unbroken_run(toy_root, tmp_path):
    args = ["--set", f"data.root={toy_root}", "--set", "train.steps=200", "--set", "train.val_every=50",
            "--set", "train.threads=1"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    base = [sys.executable, "-m", "savos.cli.main", "train", str(TINY), *args, "-q"]
    clean = tmp_path / "clean"
    assert subprocess.run([*base, "--out", str(clean)], env=env, capture_output=True).returncode == 0

    run = tmp_path / "run"
    proc = subprocess.Popen([*base, "--out", str(run)], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "last.pt").is_file():  # past the first save: well inside the run
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    assert "interrupted at step" in line and "resume with: " in line
    step = torch.load(run / "last.pt", weights_only=True)["step"]
    assert f"at step {step};" in line and 0 < step < 200
    assert json.loads((run / "metrics.json").read_text())["status"] == "interrupted"

    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[:2] == ["savos", "train"] and command[-1] == "--resume"
    resumed = subprocess.run([sys.executable, "-m", "savos.cli.main", *command[1:], "-q"], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a = torch.load(run / "last.pt", weights_only=True)["model"]
    b = torch.load(clean / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in b)


def test_notes_for_a_batch_larger_than_the_split_and_no_validation(toy_root, tmp_path, capsys):
    summary = train(_config(toy_root, "train.steps=2", "train.val_every=2", "train.batch_size=8",
                            "data.val_clips=0"), tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert "note: train.batch_size 8 is more than the 6 clips of split 'train'" in err
    assert "no validation, no best.pt" in err
    assert summary["status"] == "finished" and not (tmp_path / "run" / "best.pt").exists()


def test_resume_of_a_run_saved_before_new_config_keys_existed(toy_root, tmp_path):
    """A checkpoint written before a key was added (here: the divergence settings) resumes: the saved
    config is resolved again, so the missing key takes its default."""
    from savos.training.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    config = _config(toy_root, "train.steps=4", "train.val_every=2")
    train(config, run, stop_after=2, progress=False)
    ckpt = load_checkpoint(run / "last.pt")
    for key in ("diverge_factor", "diverge_after"):
        del ckpt["config"]["train"][key]
    save_checkpoint(run / "last.pt", {k: v for k, v in ckpt.items() if k not in ("format", "version")})
    assert train(config, run, resume=True, progress=False)["status"] == "finished"
