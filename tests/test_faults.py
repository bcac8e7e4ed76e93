"""Faults during long work: kill -9 and a full disk during generation, training and prediction.

Each command is run as a real process. After the fault, the same command (``--resume`` for training)
finishes, and its outputs are byte-identical to those of a run that never failed. A full disk is
simulated with RLIMIT_FSIZE: writes past the limit fail with EFBIG, exactly where ENOSPC would (Python
ignores SIGXFSZ, so the error reaches the code as an OSError).
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import torch

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.data.writer import write_dataset

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
GEN = [sys.executable, "-m", "savos.cli.gen"]
SAVOS = [sys.executable, "-m", "savos.cli.main"]
SMALL = ["--height", "32", "--width", "32", "--frames", "8"]
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}


def _run(cmd: list[str], limit: int | None = None) -> subprocess.CompletedProcess:
    def cap():  # in the child only
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300,
                          preexec_fn=cap if limit else None)


def _kill_when(cmd: list[str], ready, timeout: float = 120) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` is true; fail if it finished first."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"finished before it could be killed: {proc.stderr.read().decode()[-500:]}")
            if time.monotonic() > deadline:
                pytest.fail("never became ready to kill")
            time.sleep(0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _files(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under root (TensorBoard events excluded: they carry times)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "tfevents" not in p.name}


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]


def _one_line_naming(result: subprocess.CompletedProcess, text: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert result.returncode != 0 and len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert text in lines[0] and "Traceback" not in result.stderr, result.stderr


# ---- generation ---------------------------------------------------------------------------------------

GEN_ARGS = ["chewing-gum", "--n", "1500", *SMALL, "--shard-size", "20", "--workers", "1", "-q"]


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("gen") / "clean"
    assert _run([*GEN, *GEN_ARGS, "--out", str(out)]).returncode == 0
    return _files(out)


def test_generation_killed_then_rerun_gives_identical_bytes(tmp_path, clean_dataset):
    out = tmp_path / "ds"
    _kill_when([*GEN, *GEN_ARGS, "--out", str(out)],
               lambda: len(list((out / "train").glob("shard-*.tar"))) >= 3)
    assert not (out / "dataset.json").exists()
    assert _run([*GEN, *GEN_ARGS, "--out", str(out)]).returncode == 0
    assert _files(out) == clean_dataset and not _temps(out)


def test_generation_on_a_full_disk_is_one_line_then_resumes(tmp_path, clean_dataset):
    out = tmp_path / "ds"
    result = _run([*GEN, *GEN_ARGS, "--out", str(out)], limit=60_000)  # a shard is ~100 kB
    _one_line_naming(result, str(out / "train" / "shard-000000.tar"))
    assert not (out / "dataset.json").exists() and not _temps(out)  # no partial file under any name
    assert _run([*GEN, *GEN_ARGS, "--out", str(out)]).returncode == 0
    assert _files(out) == clean_dataset


# ---- training and prediction --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "gum"
    config = ChewingGumConfig.from_dict({"height": 32, "width": 32, "frames": 8, "radius": [5.0, 7.0]})
    write_dataset(root, partial(generate_clip, config, 0), {"train": 6, "val": 2, "test": 120},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=20, workers=1, progress=False)
    return root


def _train_cmd(data: Path, out: Path, steps: int = 40) -> list[str]:
    return [*SAVOS, "train", str(RECIPES / "gum-tiny.yaml"), "--set", f"data.root={data}", "--set",
            f"train.steps={steps}", "--set", "train.val_every=5", "--out", str(out), "-q"]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, weights_only=True)
    return {"step": torch.tensor(ckpt["step"]), **ckpt["model"]}


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, data) -> Path:
    out = tmp_path_factory.mktemp("runs") / "clean"
    assert _run(_train_cmd(data, out)).returncode == 0
    return out


def test_training_killed_then_resumed_gives_identical_weights(tmp_path, data, clean_run):
    out = tmp_path / "run"
    _kill_when(_train_cmd(data, out), lambda: (out / "last.pt").is_file())
    assert torch.load(out / "last.pt", weights_only=True)["step"] < 40
    result = _run([*_train_cmd(data, out), "--resume"])
    assert result.returncode == 0, result.stderr
    assert _same_weights(out / "last.pt", clean_run / "last.pt")
    assert _same_weights(out / "best.pt", clean_run / "best.pt") and not _temps(out)


def test_training_on_a_full_disk_is_one_line_then_reruns(tmp_path, data, clean_run):
    out = tmp_path / "run"
    result = _run(_train_cmd(data, out), limit=60_000)  # a checkpoint of the tiny model is ~160 kB
    _one_line_naming(result, str(out / "best.pt"))
    assert not (out / "best.pt").exists() and not (out / "last.pt").exists() and not _temps(out)
    result = _run(_train_cmd(data, out))
    assert result.returncode == 0, result.stderr
    assert _same_weights(out / "last.pt", clean_run / "last.pt")


def _predict_cmd(run: Path, data: Path, out: Path) -> list[str]:
    return [*SAVOS, "predict", str(run), str(data), "--split", "test", "--out", str(out), "-q"]


@pytest.fixture(scope="module")
def clean_predictions(tmp_path_factory, data, clean_run) -> dict[str, str]:
    out = tmp_path_factory.mktemp("pred") / "clean"
    assert _run(_predict_cmd(clean_run, data, out)).returncode == 0
    return _files(out)


def test_prediction_killed_then_rerun_gives_identical_bytes(tmp_path, data, clean_run, clean_predictions):
    out = tmp_path / "pred"
    _kill_when(_predict_cmd(clean_run, data, out), lambda: len(list(out.glob("clip_*.npz"))) >= 3)
    assert not (out / "predictions.json").exists()
    assert _run(_predict_cmd(clean_run, data, out)).returncode == 0
    assert _files(out) == clean_predictions and not _temps(out)


def test_prediction_on_a_full_disk_is_one_line_then_resumes(tmp_path, data, clean_run):
    clean, out = tmp_path / "clean", tmp_path / "pred"
    cmd = partial(_predict_cmd, clean_run, data)
    assert _run([*cmd(clean), "--split", "val"]).returncode == 0
    result = _run([*cmd(out), "--split", "val"], limit=900)  # a clip's file is ~1 kB
    _one_line_naming(result, str(out / "clip_"))
    assert not (out / "predictions.json").exists() and not _temps(out)
    assert _run([*cmd(out), "--split", "val"]).returncode == 0
    assert _files(out) == _files(clean)
