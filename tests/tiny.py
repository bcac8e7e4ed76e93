"""Tiny data and folder digests that several test files share."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

import numpy as np

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


def clip_digest(clip) -> str:
    """The first 16 hex digits of the sha256 of a clip's arrays and meta (its savos version left out)."""
    h = hashlib.sha256()
    for a in (clip.rgb, clip.visible, clip.amodal, clip.flow_fwd, clip.flow_bwd, clip.amodal_flow_fwd):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps({k: v for k, v in clip.meta.items() if k != "version"}, sort_keys=True).encode())
    return h.hexdigest()[:16]
