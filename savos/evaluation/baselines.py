"""Non-learned baselines, written in the prediction format (`savos baseline {convex,visible}`).

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
Frames where the object is not visible get an empty mask. Only target objects are predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from savos.errors import SavosError
from savos.evaluation.predictions import create_prediction_dir, write_prediction, write_prediction_info


def _cross(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull_points(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Andrew's monotone chain: the hull's vertices, counter-clockwise (in x-right, y-up terms),
    without collinear points; 1 or 2 vertices for degenerate inputs."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower: list[tuple[int, int]] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[int, int]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]  # collinear points give the two ends


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    """bool (H, W) -> bool (H, W): centre-sampled rasterisation of the hull of the set pixels' centres."""
    assert mask.ndim == 2, mask.shape
    out = np.zeros(mask.shape, bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return out
    sub = mask[rows]
    left = sub.argmax(axis=1)
    right = mask.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
    # The hull of all set centres is the hull of each row's leftmost and rightmost ones. Points are (x, y).
    pts = [(int(c), int(r)) for r, c in zip(rows, left, strict=True)]
    pts += [(int(c), int(r)) for r, c in zip(rows, right, strict=True)]
    hull = convex_hull_points(pts)
    xs, ys = np.array([p[0] for p in hull]), np.array([p[1] for p in hull])
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    qx = np.arange(x0, x1 + 1, dtype=np.int64)[None, :]  # (1, w) pixel centres' x
    qy = np.arange(y0, y1 + 1, dtype=np.int64)[:, None]  # (h, 1) pixel centres' y
    if len(hull) <= 2:  # a point or a segment: the centres on it (the box already bounds the segment)
        (ax, ay), (bx, by) = hull[0], hull[-1]
        inside = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax) == 0
    else:
        inside = np.ones((y1 - y0 + 1, x1 - x0 + 1), bool)
        for (ax, ay), (bx, by) in zip(hull, hull[1:] + hull[:1], strict=True):
            inside &= (bx - ax) * (qy - ay) - (by - ay) * (qx - ax) >= 0  # left of (or on) every edge
    out[y0:y1 + 1, x0:x1 + 1] = inside
    return out


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


BASELINES: dict[str, Callable] = {"convex": convex_baseline, "visible": visible_baseline}


def run_baseline(name: str, data_root: str | Path, split: str, out_dir: str | Path, overwrite: bool = False,
                 progress: bool = True) -> Path:
    """Predict every clip of ``split`` of ``data_root`` with baseline ``name`` into ``out_dir``."""
    from savos.data import fingerprint, open_dataset

    if name not in BASELINES:
        raise SavosError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    predict = BASELINES[name]
    ds = open_dataset(data_root, split)
    keys = [ds.locate(i)[1] for i in range(len(ds))]
    out_dir = create_prediction_dir(out_dir, overwrite=overwrite, keys=keys, command=f"savos baseline {name}")
    n_objects = 0
    for i in tqdm(range(len(ds)), desc=f"baseline {name}", unit="clip", disable=not progress):
        clip = ds[i]
        amodal, predicted = predict(clip)
        write_prediction(out_dir, clip.key, amodal, predicted)
        n_objects += int(predicted.sum())
    write_prediction_info(out_dir, {
        "method": name, "source": None, "data_root": str(Path(data_root).resolve()), "split": split,
        "dataset_id": fingerprint(data_root),
        "num_clips": len(ds), "num_objects": n_objects})
    return out_dir
