"""One Clip from a source video's frames and masks, and the writer hook every importer shares.

An importer supplies a loader: ``videos(split)`` lists video names, ``num_frames(name)`` counts
frames, and ``load(name, start, stop)`` returns a ``SourceVideo`` of frames [start, stop) at the
source's resolution (loaders read only what a window needs where their format allows; ``CachedVideo``
keeps the last whole video for formats that must be decoded whole). ``plan`` cuts videos into time
windows; ``ImportMaker`` turns window i into Clip i (resize, drop objects not visible in the window,
compose the label map, flow) for ``savos.data.writer.write_dataset``, which makes the import
parallel, resumable and byte-deterministic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from savos import __version__
from savos.data.clip import Clip
from savos.data.importers.flow import (
    DEFAULT_METHOD,
    FLOW_STEPS,
    METHODS,
    resize_flow,
    round_flow,
    stored_estimate,
)
from savos.data.importers.masks import compose_visible
from savos.errors import SavosError, brief
from savos.limits import MAX_CLIP_PIXELS
from savos.schema import check


@dataclass
class SourceVideo:
    """Frames [first, first + T) of a source video at the source's H x W, K annotated objects.

    rgb uint8 (T, H, W, 3); visible bool (T, K, H, W) per-object visible masks; amodal bool (T, K, H, W)
    or None (no amodal truth); known bool (T, K) where amodal is truth; objects: K dicts (source_id,
    category, ...); flow: (fwd, bwd) float32 (T-1, H, W, 2) each when the source has flow, else None.
    """

    rgb: np.ndarray
    visible: np.ndarray
    amodal: np.ndarray | None
    known: np.ndarray
    objects: list[dict[str, Any]]
    flow: tuple[np.ndarray, np.ndarray] | None = None
    flow_info: dict[str, Any] = field(default_factory=dict)
    video: str = ""  # meta["source"]["video"]
    first: int = 0  # index of frame 0 in the source video

    def slice(self, start: int, stop: int | None) -> SourceVideo:
        """Frames [start, stop) of this one (views, no copies)."""
        s = slice(start, stop)
        flow = None if self.flow is None else (self.flow[0][start:None if stop is None else stop - 1],
                                               self.flow[1][start:None if stop is None else stop - 1])
        return SourceVideo(self.rgb[s], self.visible[s], None if self.amodal is None else self.amodal[s],
                           self.known[s], self.objects, flow, self.flow_info, self.video, self.first + start)


class CachedVideo:
    """Mixin for loaders that must decode a whole video: ``cached(name, read)`` keeps the last one
    (a worker makes whole shards and a video's windows are consecutive); workers start empty."""

    _last: tuple[str, Any] | None = None

    def cached(self, name: str, read):
        if self._last is None or self._last[0] != name:
            self._last = None  # free the previous video before reading the next
            self._last = (name, read(name))
        return self._last[1]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_last", None)
        return state


@dataclass(frozen=True)
class ImportOptions:
    """Options every importer shares.

    window: frames per clip (None: the whole video); stride: first frames of consecutive windows
    (None: = window, no overlap); height, width: resize every clip to this size (None: keep the
    source's); flow: OpenCV estimator used when the source has no flow; max_videos: per split.
    """

    window: int | None = None
    stride: int | None = None
    height: int | None = None
    width: int | None = None
    flow: str = DEFAULT_METHOD
    max_videos: int | None = None

    def __post_init__(self):
        check(self.window is None or self.window >= 2, "window", "must be >= 2 frames")
        check(self.stride is None or self.stride >= 1, "stride", "must be >= 1")
        check((self.height is None) == (self.width is None), "height",
              "give both height and width, or neither")
        check(self.height is None or (self.height >= 8 and self.width >= 8), "height", "must be >= 8 px")
        check(self.flow in METHODS, "flow", f"expected one of {', '.join(METHODS)}, got {brief(self.flow)}")
        check(self.max_videos is None or self.max_videos >= 1, "max_videos", "must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def windows(num_frames: int, window: int | None, stride: int | None) -> list[tuple[int, int]]:
    """[start, stop) of the clips cut from a video of ``num_frames`` frames (whole windows only)."""
    if window is None:
        return [(0, num_frames)] if num_frames >= 2 else []
    stride = stride or window
    return [(s, s + window) for s in range(0, num_frames - window + 1, stride)]


def resize_nearest(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(..., H, W) -> (..., h, w): each new pixel takes the source pixel under its centre."""
    H, W = masks.shape[-2:]
    h, w = size
    if (h, w) == (H, W):
        return masks
    rows = ((np.arange(h) + 0.5) * H / h).astype(np.intp)
    cols = ((np.arange(w) + 0.5) * W / w).astype(np.intp)
    return masks[..., rows[:, None], cols[None, :]]


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (T, h, w, 3): area averaging when shrinking, bilinear when enlarging."""
    import cv2  # lazy: OpenCV is slow to import; only this path needs it

    H, W = rgb.shape[1:3]
    h, w = size
    if (h, w) == (H, W):
        return rgb
    interp = cv2.INTER_AREA if h <= H and w <= W else cv2.INTER_LINEAR
    return np.stack([cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=interp) for f in rgb])


def clip_size(src: SourceVideo, options: ImportOptions) -> tuple[int, int]:
    """(h, w) of the clip of ``src``; refuses a clip over the pixel bound."""
    T, H, W = src.rgb.shape[:3]
    size = (options.height, options.width) if options.height else (H, W)
    if T * size[0] * size[1] > MAX_CLIP_PIXELS:
        raise SavosError(f"{src.video}: a clip of {T} frames at {size[0]}x{size[1]} is over the "
                         f"{MAX_CLIP_PIXELS:,}-pixel bound of one clip; cut it with --window or --size")
    return size


def clip_meta(src: SourceVideo, meta: dict[str, Any], keep: np.ndarray, added: np.ndarray | None,
              flow: dict[str, Any], overlap: int) -> dict[str, Any]:
    """``meta`` completed with source, flow and the kept objects (``added``: int (T, K) visible pixels
    missing from the source's amodal truth, None without amodal truth)."""
    objects = []
    for j, k in enumerate(keep):
        o = {"role": "target", **src.objects[k]}
        if added is not None:
            o["amodal_added"] = int(added[:, j].sum())
        objects.append(o)
    T = src.rgb.shape[0]
    return {**meta, "source": {"dataset": src_dataset(meta), "video": src.video,
                               "frames": list(range(src.first, src.first + T))},
            "flow": flow, "objects": objects, "visible_overlap": overlap}


def source_flow_meta(src: SourceVideo) -> dict[str, Any]:
    """``meta["flow"]`` of a clip whose flow the source gives."""
    return {**src.flow_info, "rounded_to_px": 1 / FLOW_STEPS}


def build_clip(src: SourceVideo, options: ImportOptions, meta: dict[str, Any]) -> Clip:
    """The Clip of all of ``src``; ``meta`` is completed with source, flow and objects."""
    size = clip_size(src, options)
    rgb = np.asarray(src.rgb)
    T = rgb.shape[0]
    vis = resize_nearest(np.asarray(src.visible), size)
    amo = None if src.amodal is None else resize_nearest(np.asarray(src.amodal), size)
    known = src.known
    keep = np.flatnonzero(vis.any(axis=(0, 2, 3)))  # objects seen in this window
    labels, overlap = compose_visible(vis, keep)
    # Object by object: a whole (T, K, H, W) temporary per step would double the peak memory.
    K = len(keep)
    amodal = np.empty((T, K) + tuple(size), bool)
    added = np.zeros((T, K), np.int64)  # visible pixels missing from the source's amodal truth
    known_out = np.zeros((T, K), bool)
    for j, k in enumerate(keep):
        own = labels == j + 1
        if amo is None:
            amodal[:, j] = own
            continue
        a = amo[:, k]
        added[:, j] = (own & ~a).sum(axis=(1, 2))
        np.logical_or(a, own, out=amodal[:, j])
        known_out[:, j] = known[:, k] & (a.any(axis=(1, 2)) | ~own.any(axis=(1, 2)))
    known = known_out
    rgb = resize_rgb(rgb, size)
    if src.flow is not None:
        fwd, bwd = (round_flow(resize_flow(f, size)) for f in src.flow)
        flow = source_flow_meta(src)
    else:
        fwd, bwd, flow = stored_estimate(rgb, options.flow)
    meta = clip_meta(src, meta, keep, None if amo is None else added, flow, overlap)
    return Clip(rgb, labels, amodal, fwd, bwd, None, meta, known)


def src_dataset(meta: dict[str, Any]) -> str:
    return str(meta["generator"]).removeprefix("import-")


@dataclass
class ImportMaker:
    """``write_dataset``'s clip maker: global index i -> the Clip of window ``items[i]``.

    items: (split, video name, start, stop) in index order."""

    loader: Any
    items: list[tuple[str, str, int, int]]
    options: ImportOptions
    config: dict[str, Any]

    def __call__(self, index: int, split: str) -> Clip:
        src, meta = self.source(index, split)
        return build_clip(src, self.options, meta)

    def source(self, index: int, split: str) -> tuple[SourceVideo, dict[str, Any]]:
        want, name, start, stop = self.items[index]
        if want != split:
            raise SavosError(f"internal: clip {index} belongs to split {want!r}, not {split!r}")
        src = self.loader.load(name, start, stop)
        if src.rgb.shape[0] != stop - start:
            raise SavosError(f"{name}: frames {start}..{stop - 1} were planned but the video has "
                             f"{src.first + src.rgb.shape[0]} frames (frame-count mismatch)")
        meta = {"generator": f"import-{self.loader.dataset}", "version": __version__, "config": self.config,
                "seed": None, "split": split, "index": index}
        return src, meta
