"""Non-learned baselines, written in the prediction format (`savos baseline {convex,circle,union,visible}`).

- ``visible``: the object's visible mask itself (a lower bound: nothing is completed).
- ``convex``: per frame, the convex hull of the object's visible mask (the paper's "Convex" row). The
  hull is taken of the visible pixels' *centres* (pixel (r, c) is the point x = c, y = r) and
  rasterised centre-sampled, boundary included, like every mask in savos: a pixel is in the result iff
  its centre lies in or on the hull. So the hull of a convex shape's mask is that mask again, and the
  result always contains the visible mask. The arithmetic is exact: vertices and centres are integers.
  Not skimage's ``convex_hull_image``: by default it takes the hull of the pixels' edge midpoints
  (centres +-0.5 px along each axis), which adds pixels whose centres lie outside the hull of the
  centres; with ``offset_coordinates=False`` (the hull of the centres, as here) it warns and returns
  an empty image when the centres are collinear (a visible mask one pixel thick).
- ``circle``: per frame, a least-squares circle fitted to the object's visible contour pixels that touch
  no other object (nor the frame's edge); its disk is predicted inside the other objects' visible
  region, plus the own visible mask. The per-frame "objects are round" prior made explicit: where it
  scores high, most of a hidden part can be guessed from one frame.
- ``union``: per frame, everything of the object that was visible in any frame of the clip, moved to this
  frame: the visible masks carried forward and backward through time by an affine fit of the object's
  visible flow (savos.models.carry), joined, and thresholded at ``UNION_LEVEL``. The temporal prior
  made explicit — SaVos's premise with no learning: where it scores high, the hidden part was visible in
  another frame and the flow says where it went. Each carried mask is resampled once, so its boundary
  is soft by up to a pixel; the union of many slightly misplaced soft copies grows by a fraction of a
  pixel a side at level 0.5, and 0.8, chosen on the default set's val split (docs/dataset-card.md),
  undoes most of it. ``motion`` (``savos baseline union --motion NAME``) picks the object-motion estimator
  (savos.motion; default ``affine-lsq``, the fit of the visible flow).
Frames where the object is not visible get an empty mask (circle: its visible mask, also empty). Only
target objects are predicted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from savos.data import fingerprint, open_dataset
from savos.data.hull import convex_hull_mask, convex_hull_points  # noqa: F401 (re-exported)
from savos.errors import SavosError
from savos.evaluation.predictions import create_prediction_dir, write_prediction, write_prediction_info
from savos.models.carry import carry
from savos.motion import DEFAULT as DEFAULT_MOTION
from savos.motion import check_motion
from savos.outputs import open_output


def _targets(clip) -> np.ndarray:
    predicted = np.zeros(clip.num_objects, bool)
    predicted[clip.target_ids()] = True
    return predicted


def visible_baseline(clip) -> tuple[np.ndarray, np.ndarray]:
    """-> (amodal bool (T, K, H, W), predicted bool (K,)): each target's own visible mask."""
    predicted = _targets(clip)
    ids = np.arange(1, clip.num_objects + 1).reshape(1, -1, 1, 1)
    amodal = (clip.visible[:, None] == ids) & predicted.reshape(1, -1, 1, 1)  # (T, K, H, W)
    return amodal, predicted


def convex_baseline(clip) -> tuple[np.ndarray, np.ndarray]:
    """-> (amodal bool (T, K, H, W), predicted bool (K,)): per frame, the convex hull of each target's
    visible mask."""
    predicted = _targets(clip)
    amodal = np.zeros(clip.amodal.shape, bool)
    for k in np.flatnonzero(predicted):
        for t in range(clip.num_frames):
            amodal[t, k] = convex_hull_mask(clip.visible[t] == k + 1)
    return amodal, predicted


def free_contour(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    """bool (H, W): the contour pixels of ``own`` (pixels of it with a 4-neighbour outside it) that touch
    neither another object (no 8-neighbour in ``others``) nor the frame's edge (where the mask is cut)."""
    H, W = own.shape
    pad = np.pad(own, 1)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]  # all 4 neighbours set
    near = np.pad(others, 1)
    touch = np.zeros((H, W), bool)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            touch |= near[dr:dr + H, dc:dc + W]
    edge = np.zeros((H, W), bool)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    return own & ~inner & ~touch & ~edge


def fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares (algebraic, Kasa) circle through points x, y (P,): minimises
    sum (x^2 + y^2 + D x + E y + F)^2 -> (cx, cy, r), or None for fewer than 3 or collinear points."""
    if len(x) < 3:
        return None
    a = np.stack([x, y, np.ones_like(x)], axis=-1).astype(np.float64)
    if np.linalg.matrix_rank(a) < 3:
        return None
    (d, e, f), *_ = np.linalg.lstsq(a, -(x * x + y * y).astype(np.float64), rcond=None)
    cx, cy = -d / 2.0, -e / 2.0
    r2 = cx * cx + cy * cy - f
    if not r2 > 0:
        return None
    return float(cx), float(cy), float(np.sqrt(r2))


def circle_mask(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    """bool (H, W): own visible mask, plus the disk of the circle fitted to its free contour
    (``free_contour``) inside the other objects' visible region. The contour pixels' centres lie half a
    pixel inside the shape's outline on average, so the disk takes the centres within r + 0.5."""
    rows, cols = np.nonzero(free_contour(own, others))
    circle = fit_circle(cols.astype(np.float64), rows.astype(np.float64))
    if circle is None:
        return own.copy()
    cx, cy, r = circle
    H, W = own.shape
    ys, xs = np.mgrid[0:H, 0:W]
    disk = (xs - cx) ** 2 + (ys - cy) ** 2 <= (r + 0.5) ** 2
    return own | (disk & others)


def circle_baseline(clip) -> tuple[np.ndarray, np.ndarray]:
    """-> (amodal bool (T, K, H, W), predicted bool (K,)): per frame, each target's visible mask plus
    the disk of a least-squares circle fitted to its visible contour pixels that touch no other object,
    predicted only inside the other objects' visible region (the per-frame shape prior made explicit)."""
    predicted = _targets(clip)
    amodal = np.zeros(clip.amodal.shape, bool)
    for k in np.flatnonzero(predicted):
        for t in range(clip.num_frames):
            own = clip.visible[t] == k + 1
            amodal[t, k] = circle_mask(own, (clip.visible[t] != 0) & ~own)
    return amodal, predicted


UNION_LEVEL = 0.8


def union_baseline(clip, motion: str = DEFAULT_MOTION) -> tuple[np.ndarray, np.ndarray]:
    """-> (amodal bool (T, K, H, W), predicted bool (K,)): per frame, each target's visible masks of every
    frame carried to this one (forward and backward, savos.models.carry) and joined, at ``UNION_LEVEL``.
    motion: the object-motion estimator the carry uses (savos.motion.MOTIONS)."""
    import torch  # lazy: torch is slow to import

    predicted = _targets(clip)
    amodal = np.zeros(clip.amodal.shape, bool)
    ks = np.flatnonzero(predicted)
    if len(ks) == 0 or clip.num_frames == 0:
        return amodal, predicted
    zero = np.zeros((1, *clip.flow_bwd.shape[1:]), np.float32)  # (1, H, W, 2)

    def frames_first(flow: np.ndarray) -> torch.Tensor:  # (T, H, W, 2) -> (1, T, 2, H, W)
        return torch.from_numpy(np.ascontiguousarray(flow.transpose(0, 3, 1, 2), np.float32))[None]

    back = frames_first(np.concatenate([zero, clip.flow_bwd]))  # t -> t-1 on t (0 at the first frame)
    ahead = frames_first(np.concatenate([clip.flow_fwd, zero]))  # t -> t+1 on t (0 at the last frame)
    own = clip.visible[None, :, None] == (ks + 1).reshape(-1, 1, 1, 1, 1)  # (R, T, 1, H, W)
    vis = torch.from_numpy(own).float()
    others = torch.from_numpy((clip.visible[None, :, None] != 0) & ~own).float()  # (R, T, 1, H, W)
    with torch.no_grad():
        fwd = carry(vis, back.expand(len(ks), -1, -1, -1, -1), motion=motion, others=others)
        bwd = carry(vis.flip(1), ahead.flip(1).expand(len(ks), -1, -1, -1, -1), motion=motion,
                    others=others.flip(1)).flip(1)
    seen = torch.maximum(fwd, bwd)[:, :, 0].numpy() >= UNION_LEVEL  # (R, T, H, W)
    amodal[:, ks] = (seen | own[:, :, 0]).transpose(1, 0, 2, 3)
    return amodal, predicted


BASELINES: dict[str, Callable] = {"convex": convex_baseline, "visible": visible_baseline,
                                  "circle": circle_baseline, "union": union_baseline}


def run_baseline(name: str, data_root: str | Path, split: str, out_dir: str | Path, overwrite: bool = False,
                 progress: bool = True, motion: str | None = None) -> Path:
    """Predict every clip of ``split`` of ``data_root`` with baseline ``name`` into ``out_dir``.
    motion: the union rule's object-motion estimator (savos.motion.MOTIONS; None: ``affine-lsq``)."""

    if name not in BASELINES:
        raise SavosError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    predict = BASELINES[name]
    if motion is not None:
        if name != "union":
            raise SavosError(f"--motion is an option of the union baseline, not of {name!r}")
        check_motion(motion, "--motion")
        predict = functools.partial(union_baseline, motion=motion)
    ds = open_dataset(data_root, split)
    keys = [ds.locate(i)[1] for i in range(len(ds))]
    command = f"savos baseline {name}"
    with open_output(out_dir, command):
        out_dir = create_prediction_dir(out_dir, overwrite=overwrite, keys=keys, command=command)
        data_id = fingerprint(data_root)
        n_objects = 0
        for i in tqdm(range(len(ds)), desc=f"baseline {name}", unit="clip", disable=not progress):
            clip = ds[i]
            amodal, predicted = predict(clip)
            write_prediction(out_dir, clip.key, amodal, predicted, data_id)
            n_objects += int(predicted.sum())
        extra = {} if motion in (None, DEFAULT_MOTION) else {"motion": motion}
        write_prediction_info(out_dir, {
            **extra, "method": name, "source": None, "data_root": str(Path(data_root).resolve()),
            "split": split, "dataset_id": data_id, "num_clips": len(ds), "num_objects": n_objects})
        return out_dir
