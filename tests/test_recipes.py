"""Every shipped training recipe runs: `savos train RECIPE --set train.steps=3` on tiny data, on the CPU,
through the real CLI (the user's commands in sequence)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.cli.main import main
from savos.config import load_config
from savos.data.writer import write_dataset

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))  # recipes/data/: generators


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory) -> dict[int, Path]:
    """Tiny Chewing-Gum sets (32x32; 2 train, 1 val, 1 test clip) with 16 frames (the default clip length)
    and 32 (for recipes with 32-frame windows)."""
    roots = {}
    for frames in (16, 32):
        root = tmp_path_factory.mktemp("data") / f"gum{frames}"
        config = ChewingGumConfig.from_dict({"height": 32, "width": 32, "frames": frames,
                                             "radius": [5.0, 7.0]})
        write_dataset(root, partial(generate_clip, config, 0), {"train": 2, "val": 1, "test": 1},
                      {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                       "amodal_flow": True}, shard_size=2, workers=1, progress=False)
        roots[frames] = root
    return roots


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_recipe_runs_three_steps_on_cpu(recipe, tiny_sets, tmp_path):
    # Only what the machine and the tiny set need changes; window, patch and the model are the recipe's.
    config = load_config(recipe)
    root = tiny_sets[16 if config.data.window <= 16 else 32]
    run = tmp_path / "run"
    args = ["train", str(recipe), "--out", str(run), "-q", "--set", "train.steps=3",
            "--set", f"data.root={root}", "--set", f"data.val_root={root}", "--set", "train.batch_size=2",
            "--set", "data.val_clips=1", "--set", "data.workers=0", "--set", "train.threads=1",
            "--set", "train.max_minutes=0"]
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
    assert config.data.window <= 16  # fits the default 16-frame clips


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
