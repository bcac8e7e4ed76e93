"""The motion a scene clip records in its meta (docs/dataset-card.md): per object, own -> frame affine
maps A (T, 2, 3) and per-step sine warps w (T-1, 6) or None, as generators/scenes/motion.py makes them.
The formula of the warp lives here, below the generators, so that readers of a dataset (the never-seen
regions of savos.data.guessability) follow points exactly as the generator moved them.

The warp with parameters (ax, kx, px, ay, ky, py) is two shears with sine profiles,
x1 = x + ax sin(kx y + px), y1 = y + ay sin(ky x1 + py); its inverse undoes them in reverse order.
"""

from __future__ import annotations

import numpy as np


def warp(params: np.ndarray, x: np.ndarray, y: np.ndarray, inverse: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """W (or W^-1) of points x, y (P,) with per-point or shared parameters params (..., 6)."""
    ax, kx, px, ay, ky, py = (params[..., i] for i in range(6))
    if not inverse:
        x1 = x + ax * np.sin(kx * y + px)
        return x1, y + ay * np.sin(ky * x1 + py)
    y0 = y - ay * np.sin(ky * x + py)
    return x - ax * np.sin(kx * y0 + px), y0


def _apply(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return a[0, 0] * x + a[0, 1] * y + a[0, 2], a[1, 0] * x + a[1, 1] * y + a[1, 2]


def follow(maps: np.ndarray, warps: np.ndarray | None, t: int, x: np.ndarray, y: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Where the object's points x, y (P,) of frame t are at every frame: maps (T, 2, 3), warps (T-1, 6)
    or None -> x, y (T, P), exact (float64; row t is the input)."""
    T = len(maps)
    lin = np.linalg.inv(maps[t, :, :2])
    inv = np.concatenate([lin, -(lin @ maps[t, :, 2:])], axis=-1)
    own = _apply(inv, x, y)  # the object's own shape at t
    out_x, out_y = np.empty((T, len(x))), np.empty((T, len(x)))
    out_x[t], out_y[t] = x, y
    u, v = own
    for s in range(t, T - 1):  # forward: W_s then A_{s+1}
        if warps is not None:
            u, v = warp(warps[s], u, v)
        out_x[s + 1], out_y[s + 1] = _apply(maps[s + 1], u, v)
    u, v = own
    for s in range(t - 1, -1, -1):  # backward: W_s^-1 then A_s
        if warps is not None:
            u, v = warp(warps[s], u, v, inverse=True)
        out_x[s], out_y[s] = _apply(maps[s], u, v)
    return out_x, out_y
