"""Previews of scene presets without writing a dataset: one clip generated in memory and drawn by
generators/preview.py (frame | visible labels | amodal contours | flow). ``savos-gen gallery`` makes one
GIF per preset (the gallery of docs/scenes.md); ``savos-gen preview`` accepts a scene YAML the same way."""

from __future__ import annotations

import sys
from pathlib import Path

from tqdm import tqdm

from generators.preview import preview_frames, write_video
from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clip
from savos.data import open_dataset
from savos.data.clip import Clip
from savos.errors import SavosError
from savos.outputs import open_output


def preset_clip(scene_file: str | Path, seed: int = 0, index: int = 0) -> Clip:
    """Clip ``index`` of the scene file with base seed ``seed`` (as ``savos-gen scene`` would make it)."""
    return generate_clip(load_scene(scene_file), seed, index, "train")


def clip_to_preview(root: str | Path, index: int, split: str, seed: int) -> Clip:
    """What ``savos-gen preview`` draws: clip ``index`` of a dataset's split, or of a scene file (made in
    memory with base seed ``seed``)."""
    if Path(root).is_file():
        if index < 0:
            raise SavosError(f"--clip {index}: a clip index is >= 0")
        return preset_clip(root, seed, index)
    ds = open_dataset(root, split)
    if not 0 <= index < len(ds):
        raise SavosError(f"--clip {index}: split {split!r} of {root} has clips 0..{len(ds) - 1}")
    return ds[index]


def make_gallery(scene_files: list[Path], out_dir: str | Path, seed: int = 0, index: int = 0, scale: int = 2,
                 fps: int = 8, progress: bool = False) -> list[Path]:
    """``out_dir/<preset>.gif`` for every scene file, in order; returns the paths. A GIF of that name
    that savos did not write (``savos.outputs``) is refused, never replaced."""
    names = [f"{Path(path).stem}.gif" for path in scene_files]
    paths = []
    with open_output(out_dir, "savos-gen gallery") as folder:
        folder.refuse_collisions(names)
        folder.claim(names)
        for path, name in tqdm(list(zip(scene_files, names, strict=True)), desc="gallery", unit="preset",
                               disable=not progress, file=sys.stderr, dynamic_ncols=True):
            frames = preview_frames(preset_clip(path, seed, index), scale=scale)
            paths.append(write_video(frames, folder.path / name, fps=fps))
    return paths
