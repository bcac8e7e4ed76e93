"""Occlusion control and the visibility guarantee of a scene's targets, measured exactly.

Occlusion rate (pixel-wise, every frame): with area = |amodal[t, k]| and hidden = its pixels where
``visible`` shows another object, frame t is in range [lo, hi] iff area > 0, hidden >= max(1, ceil(lo *
area)) (when lo > 0; a frame with lo = 0 may be fully visible) and hidden <= hi * area. A target passes
iff at least ceil(frames * T) of its frames are in range (frames = 1: every frame, as Chewing Gum).

Guarantee: samples of the target's canonical shape (the grid points inside it and every hidden pixel
centre of every frame, pulled back to canonical coordinates) are seen at frame t iff their image lies in
the frame and no polygon in front of the target contains it (the exact inside rule). ``unseen`` = the
fraction never seen in any frame. Affine targets use generators/coverage.py as is; a non-rigid target
moves its samples through the warps (motion.py), frame by frame.
"""

from __future__ import annotations

import math

import numpy as np

from generators.coverage import Coverage, shape_coverages
from generators.geometry import grid_points_inside, pixel_centres, points_in_polygons
from generators.scenes.motion import is_rigid, to_own, warp


def frames_in_range(area: np.ndarray, hidden: np.ndarray, rate: tuple[float, float]) -> np.ndarray:
    """bool (T,): which frames are in the occlusion-rate range; area, hidden int (T,) pixel counts."""
    lo, hi = rate
    need = np.maximum(1, np.ceil(lo * area)) if lo > 0 else np.zeros_like(area)
    return (area > 0) & (hidden >= need) & (hidden <= hi * area)


def occlusion_ok(area: np.ndarray, hidden: np.ndarray, rate: tuple[float, float], frames: float) -> bool:
    """True if enough frames are in range (module docstring)."""
    return int(frames_in_range(area, hidden, rate).sum()) >= math.ceil(frames * len(area) - 1e-9)


def coverages(canonicals: list[np.ndarray], maps: np.ndarray, warps: list[np.ndarray | None],
              fronts: list[list[np.ndarray]], hidden: np.ndarray, step: float) -> list[Coverage]:
    """Per target g: canonical (N_g, 2), maps (G, T, 2, 3), warps, the polygons in front (T, N_j, 2)
    each, hidden bool (G, T, H, W) -> the samples never seen (module docstring)."""
    G = len(canonicals)
    out: list[Coverage | None] = [None] * G
    rigid = [g for g in range(G) if is_rigid(warps[g])]
    if rigid:
        found = shape_coverages([canonicals[g] for g in rigid], maps[rigid], [fronts[g] for g in rigid],
                                hidden[rigid], step)
        for g, cov in zip(rigid, found, strict=True):
            out[g] = cov
    for g in range(G):
        if out[g] is None:
            out[g] = _warped_coverage(canonicals[g], maps[g], warps[g], fronts[g], hidden[g], step)
    return out


def _warped_coverage(canonical: np.ndarray, maps: np.ndarray, warps: np.ndarray, front: list[np.ndarray],
                     hidden: np.ndarray, step: float) -> Coverage:
    T, H, W = hidden.shape
    grid = grid_points_inside(canonical, step)
    flat = np.flatnonzero(hidden)
    t = flat // (H * W)
    xs, ys = pixel_centres(H, W)
    px, py = to_own(maps, warps, t, xs.take(flat - t * (H * W)), ys.take(flat - t * (H * W)))
    u = np.concatenate([grid[:, 0], px])
    v = np.concatenate([grid[:, 1], py])
    own = np.stack([u, v], axis=-1)
    left = np.arange(len(u))  # samples not seen yet; u, v: where they are in the own shape of frame s
    for s in range(T):
        a = maps[s]
        x = a[0, 0] * u + a[0, 1] * v + a[0, 2]
        y = a[1, 0] * u + a[1, 1] * v + a[1, 2]
        seen = (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)
        for polygon in front:
            p = polygon[s]
            (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
            idx = np.flatnonzero(seen & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if len(idx):
                seen[idx] = ~points_in_polygons(x[idx], y[idx], p[None])[0]
        keep = ~seen
        left, u, v = left[keep], u[keep], v[keep]
        if not len(left):
            break
        if s < T - 1:
            u, v = warp(warps[s], u, v)
    return Coverage(len(grid), len(flat), own[left])
