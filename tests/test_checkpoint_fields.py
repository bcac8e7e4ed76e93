"""Checkpoint fields are checked against the model they claim, in every command that reads one
(`savos predict`, `savos adapt`, `savos train --resume`): a missing ``model``, a config stored as a string,
weights that do not fit the saved config, weights of another shape, a step that is not a count, damaged
optimizer or generator state. Each is one ``error:`` line naming the checkpoint, with a non-zero exit, no
traceback, and the run folder byte-for-byte unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from tiny import tree_digest as _digest

from savos.cli.main import main as savos_main
from savos.errors import SavosError
from savos.training.checkpoint import check_fields, load_checkpoint

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


@pytest.fixture(scope="module")
def world(tiny_run):
    return tiny_run


def _first_weight(model: dict) -> str:
    return next(k for k, v in model.items() if v.ndim >= 1)


DAMAGE = {  # name -> (change of the checkpoint dict, text the line must hold)
    "model-missing": (lambda c: c.pop("model"), "field 'model' is missing"),
    "model-a-list": (lambda c: c.update(model=[1, 2]), "field 'model' must be a mapping"),
    "model-not-tensors": (lambda c: c["model"].update({"x": 3}), "must map parameter names to tensors"),
    "config-a-string": (lambda c: c.update(config="method: savos"), "field 'config' must be a mapping"),
    "config-misfit": (lambda c: c["config"]["model"].update(feat=16), "do not fit the model"),
    "weight-reshaped": (lambda c: c["model"].update({_first_weight(c["model"]): torch.zeros(3)}),
                        "in the file"),
    "weight-missing": (lambda c: c["model"].pop(_first_weight(c["model"])), "is missing"),
    "weight-extra": (lambda c: c["model"].update({"extra.weight": torch.zeros(2)}), "not in the model"),
    "step-a-string": (lambda c: c.update(step="two"), "field 'step' must be an integer"),
    "step-negative": (lambda c: c.update(step=-1), "field 'step' must be >= 0"),
}
# damage only resuming reads
RESUME_DAMAGE = {
    "optimizer-missing": (lambda c: c.pop("optimizer"), "field 'optimizer' is missing"),
    "optimizer-misfit": (lambda c: c["optimizer"]["state"][0].update(exp_avg=torch.zeros(1, 1, 1)),
                         "optimizer state does not fit"),
    "optimizer-groups": (lambda c: c["optimizer"].update(param_groups=[]), "optimizer state does not fit"),
    "rng-damaged": (lambda c: c["rng"].update(torch=torch.zeros(3, dtype=torch.uint8)), "generator state"),
    "rng-missing": (lambda c: c["rng"].pop("torch"), "field 'rng'"),
    "history-a-string": (lambda c: c.update(history="none"), "field 'history' must be a list"),
    "loss-watch-damaged": (lambda c: c.update(loss_watch={"x": 1}), "loss watch"),
}


def _damaged_run(world, tmp: Path, change) -> Path:
    run = tmp / "run"
    shutil.copytree(world["run"], run)
    for name in ("best.pt", "last.pt"):
        ckpt = torch.load(run / name, weights_only=True)
        change(ckpt)
        torch.save(ckpt, run / name)
    return run


def _commands(world, run: Path, tmp: Path) -> dict[str, list[str]]:
    return {
        "predict": ["predict", str(run), str(world["data"]), "--out", str(tmp / "p"), "-q"],
        "adapt": ["adapt", str(run), str(world["data"]), "--out", str(tmp / "a"), "--set",
                  "adapt.max_iters=1", "-q"],
        "resume": ["train", str(world["recipe"]), "--set", "train.steps=2", "--set", "train.val_every=2",
                   "--out", str(run), "--resume", "-q"],
    }


CASES = [(cmd, dmg) for dmg in DAMAGE for cmd in ("predict", "adapt", "resume")
         if not (cmd == "resume" and dmg == "config-misfit")]  # resume names the changed key instead
CASES += [("resume", dmg) for dmg in RESUME_DAMAGE]


@pytest.mark.parametrize("command,damage", CASES, ids=[f"{c}-{d}" for c, d in CASES])
def test_a_damaged_checkpoint_is_one_line_in_every_reader(world, tmp_path, command, damage):
    change, expect = {**DAMAGE, **RESUME_DAMAGE}[damage]
    run = _damaged_run(world, tmp_path, change)
    before = _digest(run)
    result = CliRunner().invoke(savos_main, _commands(world, run, tmp_path)[command])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), \
        f"uncaught {type(result.exception).__name__}: {result.exception}"
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert ".pt" in lines[0] and expect in lines[0], lines[0]
    assert "weights_only=False" not in lines[0]
    assert _digest(run) == before


def test_resume_with_a_changed_model_config_names_the_key(world, tmp_path):
    run = _damaged_run(world, tmp_path, DAMAGE["config-misfit"][0])
    result = CliRunner().invoke(savos_main, _commands(world, run, tmp_path)["resume"])
    assert result.exit_code == 2 and "model.feat" in result.stderr, result.output


def test_a_good_checkpoint_passes_every_check(world):
    for name in ("best.pt", "last.pt"):
        ckpt = load_checkpoint(world["run"] / name, resume=True)
        check_fields(ckpt, name, resume=True)
    with pytest.raises(SavosError, match="field 'optimizer' is missing"):
        check_fields({k: v for k, v in ckpt.items() if k != "optimizer"}, "x.pt", resume=True)
    check_fields({k: v for k, v in ckpt.items() if k != "optimizer"}, "x.pt")  # predicting needs no optimizer
