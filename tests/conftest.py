"""Fixtures shared by several test files."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from toy import make_toy

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.data.writer import write_dataset

TINY_GUM = {"height": 32, "width": 32, "frames": 8, "radius": [5.0, 7.0]}


@pytest.fixture(scope="module")
def gum_root(tmp_path_factory) -> Path:
    """A tiny Chewing-Gum dataset (32x32, 8 frames; 4 train, 2 val, 3 test clips) made in-process."""
    root = tmp_path_factory.mktemp("data") / "gum"
    config = ChewingGumConfig.from_dict(TINY_GUM)
    write_dataset(root, partial(generate_clip, config, 0), {"train": 4, "val": 2, "test": 3},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=2, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory) -> Path:
    """A dataset of toy clips (5 frames, 12 x 16): a square sliding under a bar."""
    root = tmp_path_factory.mktemp("data") / "toy"
    write_dataset(root, make_toy, {"train": 6, "val": 2, "test": 2},
                  {"generator": "toy", "version": "0", "seed": 0, "config": {}, "amodal_flow": True},
                  shard_size=4, workers=1, progress=False)
    return root
