"""Tiny data and folder digests that several test files share."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.data.writer import write_dataset

TINY_GUM = {"height": 32, "width": 32, "frames": 8, "radius": [5.0, 7.0]}


def tiny_gum(root: Path, splits: dict[str, int], seed: int = 0, frames: int = 8) -> Path:
    """A tiny Chewing-Gum dataset (32x32, ``frames`` frames) made in-process at ``root``."""
    config = ChewingGumConfig.from_dict({**TINY_GUM, "frames": frames})
    write_dataset(root, partial(generate_clip, config, seed), splits,
                  {"generator": "chewing-gum", "version": "test", "seed": seed, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=2, workers=1, progress=False)
    return root


def tree_digest(path: Path) -> str:
    """Names and bytes of everything under ``path`` (or of the file): equal digests, unchanged files."""
    h = hashlib.sha256()
    items = [path] if path.is_file() else sorted(p for p in path.rglob("*"))
    for p in items:
        h.update(str(p.relative_to(path.parent)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()
