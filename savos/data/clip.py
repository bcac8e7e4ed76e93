"""The Clip: the unit of data every part of savos reads and writes.

Conventions (fixed here, tested in tests/test_clip.py; see docs/dataset-card.md):

- Pixel (row r, col c) has its centre at x = c, y = r. A pixel belongs to a shape iff its centre lies
  inside the shape: masks are the exact centre-sampled rasterisation of the vector shapes.
- Flow is (dx, dy) = (columns, rows) in pixels, evaluated at pixel centres.
- Object k (1-based in ``visible``) is ``amodal[:, k - 1]``. Objects are opaque: wherever any amodal
  mask is set, ``visible`` names the front-most object, and ``visible == 0`` exactly where no amodal
  mask is set.
- Occlusion rate of object k at t: ``1 - |visible == k| / |amodal[t, k - 1]|`` (0 where the amodal mask
  is empty).
- Real (imported) data, marked by ``meta["source"]``: only part of ``amodal`` may be truth
  (``amodal_known``), and things that are not annotated (a dropped fish, a pedestrian) may hide an
  object, so only ``visible == k`` inside ``amodal[:, k - 1]`` is required there, not opacity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from savos.data.bitcount import count_true
from savos.errors import SavosError


class ClipError(SavosError):
    """A clip breaks the Clip contract (shape, dtype or convention)."""


# Flow values are finite and |v| < MAX_FLOW_PX: the shard codec stores round(v * 64) exactly (< 2**23, the
# integers float32 holds), and no motion between two frames is ever that large. NaN, inf and the
# Middlebury "unknown" marker (1e9) are outside it.
MAX_FLOW_PX = 131072.0


def flow_problem(flow: np.ndarray) -> str | None:
    """None when every value of ``flow`` float32 (..., 2) is finite with |v| < MAX_FLOW_PX; else what is
    wrong, with how many values and the first pixel (index without the channel)."""
    lo, hi = float(flow.min(initial=0.0)), float(flow.max(initial=0.0))  # NaN propagates: one pass each
    if -MAX_FLOW_PX < lo and hi < MAX_FLOW_PX:
        return None
    finite = np.isfinite(flow)
    if not finite.all():
        bad, what = ~finite, "are not finite (NaN or inf)"
    else:
        bad, what = np.abs(flow) >= MAX_FLOW_PX, f"have |flow| >= {MAX_FLOW_PX:.0f} px"
        what += f" (up to {max(-lo, hi):.3g}; 1e9 marks unknown flow in .flo files)"
    first = np.unravel_index(int(np.argmax(bad)), flow.shape)[:-1]
    return f"{int(bad.sum())} flow values {what}, the first at pixel {tuple(int(i) for i in first)}"


@dataclass
class Clip:
    """One video with its ground truth. T frames, K objects, H x W pixels.

    Attributes:
        rgb: uint8 (T, H, W, 3), the frames.
        visible: unsigned integer (T, H, W), modal label map; 0 = background, k in 1..K = object k.
        amodal: bool (T, K, H, W), full mask of object k + 1 at frame t, clipped to the frame.
        flow_fwd: float32 (T-1, H, W, 2), flow of what is visible at t, frame t -> t+1, (dx, dy).
        flow_bwd: float32 (T-1, H, W, 2), flow of what is visible at t+1, frame t+1 -> t;
            ``flow_bwd[t]`` lives on frame t+1.
        amodal_flow_fwd: float32 (T-1, K, H, W, 2) or None, motion t -> t+1 of every amodal pixel of
            each object (occluded parts too); 0 outside ``amodal[t, k]``.
        meta: JSON-able dict: generator, version, config, seed, split, index, objects (see the card).
        amodal_known: bool (T, K), True where ``amodal[t, k]`` is ground truth (None in the constructor:
            all True, as for every synthetic clip). Only scoring reads it; training never reads amodal.
    """

    rgb: np.ndarray
    visible: np.ndarray
    amodal: np.ndarray
    flow_fwd: np.ndarray
    flow_bwd: np.ndarray
    amodal_flow_fwd: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    amodal_known: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.amodal_known is None and getattr(self.amodal, "ndim", 0) == 4:
            self.amodal_known = np.ones(self.amodal.shape[:2], bool)

    @property
    def num_frames(self) -> int:
        return int(self.amodal.shape[0])

    @property
    def num_objects(self) -> int:
        return int(self.amodal.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return int(self.amodal.shape[2]), int(self.amodal.shape[3])

    @property
    def key(self) -> str:
        """The clip's name inside its split: ``clip_<index:06d>``."""
        return clip_key(int(self.meta.get("index", 0)))

    def target_ids(self) -> list[int]:
        """0-based indices of the objects whose role is "target" (all objects if meta says nothing)."""
        objects = self.meta.get("objects")
        if not objects:
            return list(range(self.num_objects))
        return [k for k, o in enumerate(objects) if o.get("role", "target") == "target"]

    def occlusion_rate(self) -> np.ndarray:
        """float64 (T, K): 1 - visible area / amodal area; 0 where the amodal mask is empty."""
        return occlusion_rate(self.visible, self.amodal)

    def validate(self) -> None:
        """Raise ClipError naming the first field that breaks the contract."""
        validate_clip(self)


def clip_key(index: int) -> str:
    return f"clip_{index:06d}"


def occlusion_rate(visible: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """visible (T, H, W) int, amodal (T, K, H, W) bool -> float64 (T, K)."""
    T, K = amodal.shape[:2]
    ids = np.arange(1, K + 1, dtype=visible.dtype).reshape(1, K, 1)
    vis_area = count_true(visible.reshape(T, 1, -1) == ids)  # (T, K)
    amo_area = count_true(amodal.reshape(T, K, -1))  # (T, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(amo_area > 0, 1.0 - vis_area / np.maximum(amo_area, 1), 0.0)
    return rate


def _check(cond: bool, what: str | Callable[[], str]) -> None:
    """Raise ClipError(what) unless cond; ``what`` may be a function, called only then (formatting
    shapes and dtypes costs more than the checks themselves)."""
    if not cond:
        raise ClipError(what() if callable(what) else what)


def validate_clip(clip: Clip) -> None:
    """Shapes, dtypes, finite flow (``flow_problem``) and the opacity convention. Raises ClipError."""
    a = clip.amodal
    _check(isinstance(a, np.ndarray) and a.ndim == 4 and a.dtype == np.bool_,
           lambda: f"amodal must be bool (T, K, H, W), got {getattr(a, 'dtype', type(a))} "
                   f"{getattr(a, 'shape', '')}")
    T, K, H, W = a.shape
    _check(T >= 2, f"a clip needs at least 2 frames, got {T}")
    _check(clip.rgb.dtype == np.uint8 and clip.rgb.shape == (T, H, W, 3),
           lambda: f"rgb must be uint8 {(T, H, W, 3)}, got {clip.rgb.dtype} {clip.rgb.shape}")
    v = clip.visible
    _check(np.issubdtype(v.dtype, np.unsignedinteger) and v.shape == (T, H, W),
           lambda: f"visible must be unsigned int {(T, H, W)}, got {v.dtype} {v.shape}")
    top = int(v.max(initial=0))
    _check(top <= K, lambda: f"visible names object {top} but there are {K} objects")
    for name in ("flow_fwd", "flow_bwd"):
        f = getattr(clip, name)
        _check(f.dtype == np.float32 and f.shape == (T - 1, H, W, 2),
               lambda name=name, f=f: f"{name} must be float32 {(T - 1, H, W, 2)}, got {f.dtype} {f.shape}")
    if clip.amodal_flow_fwd is not None:
        f = clip.amodal_flow_fwd
        _check(f.dtype == np.float32 and f.shape == (T - 1, K, H, W, 2),
               lambda: f"amodal_flow_fwd must be float32 {(T - 1, K, H, W, 2)}, got {f.dtype} {f.shape}")
    for name in ("flow_fwd", "flow_bwd", "amodal_flow_fwd"):
        f = getattr(clip, name)
        problem = None if f is None else flow_problem(f)
        _check(problem is None, lambda name=name, problem=problem: f"{name}: {problem}")
    known = clip.amodal_known
    _check(isinstance(known, np.ndarray) and known.dtype == np.bool_ and known.shape == (T, K),
           lambda: f"amodal_known must be bool {(T, K)}, got {getattr(known, 'dtype', type(known))} "
                   f"{getattr(known, 'shape', '')}")
    # Opacity: visible == 0 exactly where no amodal mask is set; visible == k only inside amodal k.
    # Fast path: every labelled pixel lies in its own object's mask, and there are as many labelled
    # pixels as covered ones; only a failing clip pays for the checks below, which name the problem.
    labelled = np.flatnonzero(v != 0)  # a bool scan: 4x faster than one of the labels
    frame = labelled // (H * W)
    obj = v.reshape(-1).take(labelled).astype(np.intp) - 1
    own = (frame * K + obj) * (H * W) + (labelled - frame * (H * W))
    inside = a.reshape(-1).take(own).all()
    if inside and clip.meta.get("source") is not None:  # real data: unannotated things may hide objects
        return
    any_amodal = a.any(axis=1)
    if inside and len(labelled) == np.count_nonzero(any_amodal):
        return
    if clip.meta.get("source") is None:
        _check(np.array_equal(v > 0, any_amodal), "visible must be 0 exactly where no amodal mask is set")
    for k in range(K):
        _check(not np.any((v == k + 1) & ~a[:, k]), f"visible names object {k + 1} outside its amodal mask")
