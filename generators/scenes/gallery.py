"""Previews of scene presets without writing a dataset: one clip generated in memory and drawn by
generators/preview.py (frame | visible labels | amodal contours | flow). ``savos-gen gallery`` makes one
GIF per preset (the README's gallery); ``savos-gen preview`` accepts a scene YAML the same way."""

from __future__ import annotations

from pathlib import Path

from generators.preview import preview_frames, write_video
from generators.scenes.config import load_scene
from generators.scenes.engine import generate_clip
from savos.data.clip import Clip


def preset_clip(scene_file: str | Path, seed: int = 0, index: int = 0) -> Clip:
    """Clip ``index`` of the scene file with base seed ``seed`` (as ``savos-gen scene`` would make it)."""
    return generate_clip(load_scene(scene_file), seed, index, "train")


def make_gallery(scene_files: list[Path], out_dir: str | Path, seed: int = 0, index: int = 0, scale: int = 2,
                 fps: int = 8) -> list[Path]:
    """``out_dir/<preset>.gif`` for every scene file, in order; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for path in scene_files:
        frames = preview_frames(preset_clip(path, seed, index), scale=scale)
        paths.append(write_video(frames, out_dir / f"{Path(path).stem}.gif", fps=fps))
    return paths
