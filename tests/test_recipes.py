"""Every shipped training recipe runs: `savos train RECIPE --set train.steps=3` on tiny data, on the CPU,
through the real CLI (the user's commands in sequence, issue 8 item 5)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.cli import main
from savos.config import load_config
from savos.data.writer import write_dataset

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))  # recipes/data/: generators


def _gum(root: Path, frames: int) -> Path:
    """A tiny Chewing-Gum set of 32x32 clips of ``frames`` frames: 2 train, 1 val, 1 test clip."""
    config = ChewingGumConfig.from_dict({"height": 32, "width": 32, "frames": frames, "radius": [5.0, 7.0]})
    write_dataset(root, partial(generate_clip, config, 0), {"train": 2, "val": 1, "test": 1},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=2, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def gum16(tmp_path_factory) -> Path:
    """The default clip length (16 frames): the synthetic recipes' window."""
    return _gum(tmp_path_factory.mktemp("data") / "gum", 16)


@pytest.fixture(scope="module")
def gum32(tmp_path_factory) -> Path:
    """32-frame clips, for the real-data recipes with longer windows (FISHBOWL imports 32-frame windows)."""
    return _gum(tmp_path_factory.mktemp("data") / "gum32", 32)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_recipe_runs_three_steps_on_cpu(recipe, request, tmp_path):
    # Only what the machine and the tiny set need changes; window, patch and the model are the recipe's.
    config = load_config(recipe)
    assert config.data.window <= 32  # fits the clips below
    data = request.getfixturevalue("gum16" if config.data.window <= 16 else "gum32")
    run = tmp_path / "run"
    args = ["train", str(recipe), "--out", str(run), "-q", "--set", "train.steps=3",
            "--set", f"data.root={data}", "--set", f"data.val_root={data}", "--set", "train.batch_size=2",
            "--set", "data.val_clips=1",
            "--set", "data.workers=0", "--set", "train.threads=1", "--set", "train.max_minutes=0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["status"] == "finished" and summary["step"] == 3
    assert load_config(run / "config.yaml").data.patch == config.data.patch  # square or [Ph, Pw]
    import torch

    if config.train.device == "auto" and not torch.cuda.is_available():
        assert "note: train.device is auto and no CUDA GPU is available" in result.output


def test_paper_recipe_follows_the_generator_defaults():
    config = load_config(Path(__file__).parent.parent / "recipes" / "gum.yaml")
    assert config.data.root == "data/gum"  # where `savos-gen chewing-gum` writes by default
    assert config.data.window == ChewingGumConfig().frames
    assert config.train.device == "auto"


def test_short_override_scales_the_warmup_with_a_note(capsys):
    path = Path(__file__).parent.parent / "recipes" / "gum.yaml"  # 30000 steps, warm-up 1000
    recipe = load_config(path)
    assert recipe.train.warmup > 300
    config = load_config(path, ["train.steps=300"])
    assert config.train.warmup == recipe.train.warmup * 300 // recipe.train.steps
    assert "train.warmup" in capsys.readouterr().err
    assert load_config(path, ["train.steps=3"]).train.warmup == 0
    # an explicit warm-up is the user's choice: still checked, never changed
    with pytest.raises(Exception, match=r"train.warmup: must be in \[0, steps\]"):
        load_config(path, ["train.steps=3", "train.warmup=5"])
    # a recipe whose warm-up already fits is left alone
    assert load_config(path, ["train.steps=5000"]).train.warmup == recipe.train.warmup
