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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from savos.data.importers.assemble import CachedVideo, ImportOptions, SourceVideo
from savos.data.importers.masks import MotsText
from savos.data.importers.media import frame_files, read_frames, read_image
from savos.data.importers.plan import run_import
from savos.errors import SavosError

MOTS_CLASSES = {1: "car", 2: "pedestrian"}
MOTS_IGNORE = 10  # KITTI-MOTS' ignore regions: not objects
VOID = 255  # DAVIS marks unlabelled pixels 255


def read_instance_pngs(files: list[Path], size: tuple[int, int]) -> tuple[np.ndarray, list[int]]:
    """Indexed PNGs, one per frame -> (bool (T, K, H, W), K instance ids)."""
    T = len(files)
    labels = []
    for p in files:
        m = read_image(p, mode="P")
        if m.shape != tuple(size):
            raise SavosError(f"{p}: mask is {m.shape[1]}x{m.shape[0]}, the video {size[1]}x{size[0]}")
        labels.append(m)
    stack = np.stack(labels)
    ids = [int(i) for i in np.unique(stack) if i != 0 and i != VOID]
    return np.stack([stack == i for i in ids], axis=1) if ids else np.zeros((T, 0) + size, bool), ids


def mots_masks(mots: MotsText, start: int, stop: int) -> tuple[np.ndarray, list[int], list[int]]:
    """Frames [start, stop) of MOTS text -> (bool (T, K, H, W), K track ids, K class ids) of the tracks
    seen in those frames (KITTI-MOTS ignore regions, class 10, left out)."""
    tracks = [(o, c) for o, c in mots.tracks(start, stop) if c != MOTS_IGNORE]
    index = {obj: k for k, (obj, _) in enumerate(tracks)}
    masks = np.zeros((stop - start, len(tracks)) + mots.size, bool)
    for f in range(start, stop):
        for obj, cls, m in mots.masks(f):
            if cls != MOTS_IGNORE:
                masks[f - start, index[obj]] = m
    return masks, [o for o, _ in tracks], [c for _, c in tracks]


@dataclass
class VideoLoader(CachedVideo):
    """One user video: frames decoded whole (and kept), masks read per window."""

    frames: Path
    masks: Path
    split: str = "test"
    dataset: str = "video"

    def videos(self, split: str) -> list[str]:
        return [self.frames.stem if self.frames.is_file() else self.frames.name]

    def num_frames(self, name: str) -> int:
        return int(self._whole(name)[0].shape[0])

    def _whole(self, name: str) -> tuple[np.ndarray, MotsText | None]:
        def read(_):
            rgb = read_frames(self.frames)
            T, H, W = rgb.shape[:3]
            if self.masks.is_dir():
                files = frame_files(self.masks)
                if len(files) != T:
                    raise SavosError(f"{self.masks}: {len(files)} mask frames but the video has {T} frames "
                                     "(frame-count mismatch)")
                return rgb, None
            if not self.masks.is_file():
                raise SavosError(f"{self.masks}: mask folder or MOTS file is missing")
            mots = MotsText(self.masks, (H, W))
            beyond = [f for f in mots.by_frame if not 0 <= f < T]
            if beyond:
                raise SavosError(f"{self.masks}: frame {beyond[0]} is beyond the video's {T} frames "
                                 "(frame-count mismatch)")
            return rgb, mots
        return self.cached(name, read)

    def load(self, name: str, start: int = 0, stop: int | None = None) -> SourceVideo:
        rgb, mots = self._whole(name)
        stop = rgb.shape[0] if stop is None else stop
        rgb = rgb[start:stop]
        T, H, W = rgb.shape[:3]
        if mots is None:
            vis, ids = read_instance_pngs(frame_files(self.masks)[start:stop], (H, W))
            objects = [{"source_id": i, "category": "object"} for i in ids]
        else:
            vis, ids, classes = mots_masks(mots, start, stop)
            objects = [{"source_id": i, "category": MOTS_CLASSES.get(c, f"class {c}")}
                       for i, c in zip(ids, classes, strict=True)]
        return SourceVideo(rgb, vis, None, np.zeros((T, len(objects)), bool), objects, None, {}, name, start)


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
