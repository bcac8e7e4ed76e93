"""Single-writer locks (savos/locks.py): a second writer of an output folder is refused in one line
naming the holder, for every command that writes a folder; a lock ends with its process, however it
ends; dataset slices share a folder; a command that fails leaves no folder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from tiny import tiny_gum

from savos.cli.gen import main as gen_main
from savos.cli.main import main as savos_main
from savos.evaluation.baselines import run_baseline
from savos.locks import LOCK_NAME, LockedError, hold

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "gum-tiny.yaml"

_HOLDER = textwrap.dedent("""
    import sys
    from savos.locks import hold
    part = None if sys.argv[3] == "-" else tuple(int(x) for x in sys.argv[3].split("/"))
    with hold(sys.argv[1], sys.argv[2], slice=part):
        print("held", flush=True)
        sys.stdin.readline()
""")


class Holder:
    """Another process holding the lock of ``folder`` as ``command`` until ``release`` (or a kill)."""

    def __init__(self, folder: Path, command: str = "savos train", part: str = "-"):
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder), command, part],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)


def _data(root: Path) -> Path:
    return tiny_gum(root, {"train": 2, "val": 1, "test": 2}, frames=4)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _data(tmp_path_factory.mktemp("locks") / "data")


def _refused_by(result, holder: Holder, command: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and f"in use by {command} (pid {holder.proc.pid} " in lines[0]
    assert "Traceback" not in result.output


def _scored(tmp: Path, data: Path) -> Path:
    pred = run_baseline("visible", data, "test", tmp / "scored", progress=False)
    return pred


COMMANDS = {  # a writing command -> its arguments with OUT as its output folder
    "train": lambda d, out: (savos_main, ["train", str(RECIPE), "--set", f"data.root={d}", "--out", out,
                                          "-q"]),
    "baseline": lambda d, out: (savos_main, ["baseline", "convex", str(d), "--out", out, "-q"]),
    "eval": lambda d, out: (savos_main, ["eval", "PRED", str(d), "--out", out, "-q"]),
    "report": lambda d, out: (savos_main, ["report", "PRED", "--out", out, "-q"]),
    "chewing-gum": lambda d, out: (gen_main, ["chewing-gum", "--n", "3", "--height", "32", "--width", "32",
                                              "--frames", "4", "--out", out, "-q", "--workers", "1"]),
    "gallery": lambda d, out: (gen_main, ["gallery", "--out", out, "-q"]),
    "preview": lambda d, out: (gen_main, ["preview", str(d), "--out", f"{out}/clip.gif", "-q"]),
    "verify --repair": lambda d, out: (gen_main, ["verify", out, "--repair", "-q"]),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_second_writer_is_refused_naming_the_holder(name, data, tmp_path):
    pred = _scored(tmp_path, data)
    out = _data(tmp_path / "held") if name == "verify --repair" else tmp_path / "held"
    before = sorted(p.name for p in out.rglob("*")) if out.exists() else None
    holder = Holder(out)
    try:
        group, args = COMMANDS[name](data, str(out))
        args = [str(pred) if a == "PRED" else a for a in args]
        _refused_by(CliRunner().invoke(group, args), holder, "savos train")
    finally:
        holder.release()
    after = sorted(p.name for p in out.rglob("*")) if out.exists() else None
    assert after == before  # nothing written; the released lock leaves nothing behind


def test_predict_and_adapt_are_refused_while_another_writes(data, tmp_path):
    from savos.config import load_config
    from savos.training.train import train

    run = tmp_path / "run"
    config = load_config(RECIPE, [f"data.root={data}", "train.steps=2", "train.val_every=2"])
    train(config, run, progress=False)
    holder = Holder(tmp_path / "out", "savos predict")
    try:
        for args in (["predict", str(run), str(data), "--out", str(tmp_path / "out"), "-q"],
                     ["adapt", str(run), str(data), "--out", str(tmp_path / "out"), "-q"]):
            _refused_by(CliRunner().invoke(savos_main, args), holder, "savos predict")
        # the run being trained: a second `savos train --resume` of it is refused too
        holder2 = Holder(run, "savos train")
        try:
            args = ["train", str(RECIPE), "--set", f"data.root={data}", "--set", "train.steps=2",
                    "--set", "train.val_every=2", "--out", str(run), "--resume", "-q"]
            _refused_by(CliRunner().invoke(savos_main, args), holder2, "savos train")
        finally:
            holder2.release()
    finally:
        holder.release()


def test_a_lock_ends_with_its_process_even_after_kill_9(tmp_path):
    out = tmp_path / "out"
    holder = Holder(out)
    with pytest.raises(LockedError, match=f"pid {holder.proc.pid}"):
        with hold(out, "savos eval"):
            pass
    holder.kill()
    assert (out / LOCK_NAME).exists()  # the killed process's file is left, and free
    with hold(out, "savos eval"):
        assert f'"pid": {os.getpid()}' in (out / LOCK_NAME).read_text()
    assert not (out / LOCK_NAME).exists()


def test_locks_nest_within_a_process_and_release_once(tmp_path):
    out = tmp_path / "a" / "b"
    with hold(out, "savos adapt"):
        with hold(out, "savos adapt"):  # e.g. adapt writing its before/ predictions
            pass
        assert (out / LOCK_NAME).exists()
        other = subprocess.run([sys.executable, "-c", _HOLDER, str(out), "x", "-"], cwd=ROOT,
                               capture_output=True, input="", text=True)
        assert other.returncode != 0 and f"in use by savos adapt (pid {os.getpid()} " in other.stderr
    assert not (tmp_path / "a").exists()  # the folders the lock made are removed: nothing was written


def test_dataset_slices_share_a_folder_but_not_a_slice(tmp_path):
    out = tmp_path / "data"
    first = Holder(out, "savos-gen chewing-gum", "0/2")
    try:
        with hold(out, "savos-gen chewing-gum", slice=(1, 2)):  # the other slice runs beside it
            pass
        with pytest.raises(LockedError, match=f"pid {first.proc.pid}"):  # the same slice twice: refused
            with hold(out, "savos-gen chewing-gum", slice=(0, 2)):
                pass
        with pytest.raises(LockedError, match=f"savos-gen chewing-gum \\(pid {first.proc.pid}"):
            with hold(out, "savos-gen chewing-gum"):  # a whole run excludes every slice
                pass
    finally:
        first.release()


def test_two_savos_gen_slices_side_by_side_make_the_dataset_of_one_run(tmp_path):
    base = [sys.executable, "-m", "savos.cli.gen", "chewing-gum", "--n", "6", "--height", "32", "--width",
            "32", "--frames", "4", "--shard-size", "1", "--workers", "1", "-q"]
    procs = [subprocess.Popen([*base, "--out", str(tmp_path / "sliced"), "--shard", f"{i}/2"], cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert subprocess.run([*base, "--out", str(tmp_path / "whole")], cwd=ROOT).returncode == 0
    for path in sorted((tmp_path / "whole").rglob("*")):
        if path.is_file() and path.name != ".savos-files.json":
            twin = tmp_path / "sliced" / path.relative_to(tmp_path / "whole")
            assert twin.read_bytes() == path.read_bytes()
