"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny import tiny_gum
from toy import make_toy

from savos.config import load_config
from savos.data.writer import write_dataset
from savos.training.train import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


@pytest.fixture(scope="module")
def gum_root(tmp_path_factory) -> Path:
    """A tiny Chewing-Gum dataset (32x32, 8 frames; 4 train, 2 val, 3 test clips) made in-process."""
    return tiny_gum(tmp_path_factory.mktemp("data") / "gum", {"train": 4, "val": 2, "test": 3})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, gum_root) -> dict[str, Path]:
    """A 2-step run of recipes/gum-tiny.yaml on ``gum_root``: {"data", "recipe", "run"}."""
    tmp = tmp_path_factory.mktemp("run")
    recipe = tmp / "tiny.yaml"
    recipe.write_text((RECIPES / "gum-tiny.yaml").read_text().replace("root: data/gum", f"root: {gum_root}"))
    train(load_config(recipe, ["train.steps=2", "train.val_every=2"]), tmp / "run", progress=False)
    return {"data": gum_root, "recipe": recipe, "run": tmp / "run"}


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    """A dataset of toy clips (5 frames, 12 x 16): a square sliding under a bar."""
    root = tmp_path_factory.mktemp("data") / "toy"
    write_dataset(root, make_toy, {"train": 6, "val": 2, "test": 2},
                  {"generator": "toy", "version": "0", "seed": 0, "config": {}, "amodal_flow": True},
                  shard_size=4, workers=1, progress=False)
    return root
