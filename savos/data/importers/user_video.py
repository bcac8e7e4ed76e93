"""A user's own video -> a savos dataset (``savos-gen import video``), for ``savos predict``.

Frames: an mp4 (or any ffmpeg-readable video) or a folder of PNG/JPEG frames. Masks: per-frame
instance masks from any video segmenter or tracker, either

- a folder of DAVIS-style indexed PNGs, one per frame in name order, pixel value = instance id
  (0 background; 255, DAVIS' "void", is treated as background), or
- a KITTI-MOTS text file (``frame obj_id class_id height width rle`` per line; frames without lines
  have no objects).

There is no amodal truth: ``amodal`` holds the visible masks and ``amodal_known`` is all False.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from savos.data.importers.assemble import ImportOptions, SourceVideo
from savos.data.importers.masks import read_mots
from savos.data.importers.media import frame_files, read_frames, read_image
from savos.data.importers.plan import run_import
from savos.errors import SavosError

MOTS_CLASSES = {1: "car", 2: "pedestrian"}
VOID = 255  # DAVIS marks unlabelled pixels 255


def read_instance_pngs(folder: Path, T: int, size: tuple[int, int]) -> tuple[np.ndarray, list[int]]:
    """Indexed PNGs -> (bool (T, K, H, W), K instance ids)."""
    files = frame_files(folder)
    if len(files) != T:
        raise SavosError(f"{folder}: {len(files)} mask frames but the video has {T} frames "
                         "(frame-count mismatch)")
    labels = []
    for p in files:
        m = read_image(p, mode="P")
        if m.shape != tuple(size):
            raise SavosError(f"{p}: mask is {m.shape[1]}x{m.shape[0]}, the video {size[1]}x{size[0]}")
        labels.append(m)
    stack = np.stack(labels)
    ids = [int(i) for i in np.unique(stack) if i != 0 and i != VOID]
    return np.stack([stack == i for i in ids], axis=1) if ids else np.zeros((T, 0) + size, bool), ids


def mots_masks(path: Path, T: int, size: tuple[int, int]) -> tuple[np.ndarray, list[int], list[int]]:
    """MOTS text -> (bool (T, K, H, W), K track ids, K class ids)."""
    frames = read_mots(path, size)
    beyond = [f for f in frames if not 0 <= f < T]
    if beyond:
        raise SavosError(f"{path}: frame {beyond[0]} is beyond the video's {T} frames (frame-count mismatch)")
    tracks = sorted({(obj, cls) for per in frames.values() for obj, cls, _ in per})
    index = {obj: k for k, (obj, _) in enumerate(tracks)}
    masks = np.zeros((T, len(tracks)) + size, bool)
    for f, per in frames.items():
        for obj, _, m in per:
            masks[f, index[obj]] = m
    return masks, [o for o, _ in tracks], [c for _, c in tracks]


@dataclass
class VideoLoader:
    frames: Path
    masks: Path
    split: str = "test"
    dataset: str = "video"
    _T: int | None = field(default=None, repr=False)

    def videos(self, split: str) -> list[str]:
        return [self.frames.stem if self.frames.is_file() else self.frames.name]

    def num_frames(self, name: str) -> int:
        if self._T is None:
            self._T = int(read_frames(self.frames).shape[0])
        return self._T

    def load(self, name: str) -> SourceVideo:
        rgb = read_frames(self.frames)
        T, H, W = rgb.shape[:3]
        if self.masks.is_dir():
            vis, ids = read_instance_pngs(self.masks, T, (H, W))
            objects = [{"source_id": i, "category": "object"} for i in ids]
        elif self.masks.is_file():
            vis, ids, classes = mots_masks(self.masks, T, (H, W))
            objects = [{"source_id": i, "category": MOTS_CLASSES.get(c, f"class {c}")}
                       for i, c in zip(ids, classes, strict=True)]
        else:
            raise SavosError(f"{self.masks}: mask folder or MOTS file is missing")
        if not objects:
            raise SavosError(f"{self.masks}: no object in any frame; nothing to segment")
        return SourceVideo(rgb, vis, None, np.zeros((T, len(objects)), bool), objects, None, {}, name)


def import_video(frames: str | Path, masks: str | Path, out: str | Path, options: ImportOptions, *,
                 split: str = "test", workers: int | None = None, shard_size: int = 20,
                 progress: bool = True) -> dict | None:
    """Import one video and its instance masks into the dataset folder ``out`` (one split)."""
    frames, masks = Path(frames), Path(masks)
    if not frames.exists():
        raise SavosError(f"{frames}: video file or frame folder is missing")
    loader = VideoLoader(frames, masks, split)
    config = {"split": split, "masks": "mots" if masks.is_file() else "png"}
    inputs = {"frames": str(frames.resolve()), "masks": str(masks.resolve())}
    return run_import(out, loader, [split], options, config, inputs, workers=workers, shard_size=shard_size,
                      progress=progress)
