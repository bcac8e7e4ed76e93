"""Object motion: an affine own-to-frame map per frame, optionally composed with a smooth non-rigid
warp whose displacement and inverse are both closed-form, so flow and amodal flow stay exact.

An object is its canonical polygon Q (N, 2) in own coordinates, maps A (T, 2, 3) (own -> frame t,
camera included) and warps w (T-1, 6). Its own shape at t is Q_t = W_{t-1}(... W_0(Q)), its polygon at
t is A_t(Q_t), and a point of it moves from frame t to t+1 by

    f_t(p) = A_{t+1}(W_t(A_t^-1(p)))        and back by   g_t(p) = A_t(W_t^-1(A_{t+1}^-1(p))).

The warp W with parameters (ax, kx, px, ay, ky, py) is two shears with sine profiles,

    x1 = x + ax sin(kx y + px),   y1 = y + ay sin(ky x1 + py),

a smooth bijection of the plane whose inverse is the same two steps undone in reverse order. With
ax = ay = 0 it is the identity (exactly, in float64), and the motion is the affine map A_{t+1} A_t^-1.
Only the polygon's nodes are moved by the warp; the polygon between them is straight, so the warped mask
matches the motion of its pixels up to boundary pixels (what ``savos-gen verify`` checks).
"""

from __future__ import annotations

import numpy as np

from generators import portable
from generators.geometry import apply_affine, invert_affine
from savos.data.sine_warp import warp  # the formula's one home (readers of the meta use it too)


def affine_maps(centre: np.ndarray, angle: np.ndarray, scale: np.ndarray, aspect: np.ndarray,
                shear: np.ndarray) -> np.ndarray:
    """Own -> world maps (T, 2, 3): translation to centre (T, 2) of rotation by angle (T,) (radians,
    +x towards +y) of the scaling diag(scale e^aspect, scale e^-aspect) of the shear [[1, shear], [0, 1]]."""
    c, s = np.cos(angle), np.sin(angle)
    sx, sy = scale * portable.exp(aspect), scale * portable.exp(-aspect)
    # R @ diag(sx, sy) @ [[1, h], [0, 1]] = [[c sx, c sx h - s sy], [s sx, s sx h + c sy]]
    out = np.empty((len(angle), 2, 3))
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = c * sx, c * sx * shear - s * sy, centre[:, 0]
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = s * sx, s * sx * shear + c * sy, centre[:, 1]
    return out


def sample_warps(rng: np.random.Generator, frames: int, amplitude: float, size: float) -> np.ndarray:
    """(T-1, 6) warp parameters: amplitudes amplitude * cos(2 pi t / T + phase) (so the shape wobbles
    and comes back rather than drifting), wavelengths 1.5-3 x size, random phases."""
    t = np.arange(frames - 1)
    out = np.zeros((frames - 1, 6))
    if amplitude <= 0.0:
        return out
    for axis in (0, 3):
        out[:, axis] = amplitude * np.cos(2.0 * np.pi * t / frames + rng.uniform(0.0, 2.0 * np.pi))
        out[:, axis + 1] = 2.0 * np.pi / (rng.uniform(1.5, 3.0) * size)
        out[:, axis + 2] = rng.uniform(0.0, 2.0 * np.pi)
    return out


def own_shapes(canonical: np.ndarray, warps: np.ndarray) -> np.ndarray:
    """Q_t for t = 0..T-1: canonical (N, 2), warps (T-1, 6) -> (T, N, 2)."""
    out = np.empty((len(warps) + 1, *canonical.shape))
    out[0] = canonical
    for t, w in enumerate(warps):
        out[t + 1, :, 0], out[t + 1, :, 1] = warp(w, out[t, :, 0], out[t, :, 1])
    return out


def polygons(canonical: np.ndarray, maps: np.ndarray, warps: np.ndarray | None) -> np.ndarray:
    """The object's polygon at every frame: (N, 2), (T, 2, 3), (T-1, 6) or None -> (T, N, 2)."""
    if warps is None or not warps[:, [0, 3]].any():
        return apply_affine(maps, canonical)
    return apply_affine(maps, own_shapes(canonical, warps))


def _frames(t: np.ndarray, n: int) -> list[tuple[int, slice]]:
    """The runs of a sorted frame index t (P,): [(frame, slice)] for frames 0..n-1 that occur."""
    cuts = np.searchsorted(t, np.arange(n + 1)).tolist()
    return [(f, slice(cuts[f], cuts[f + 1])) for f in range(n) if cuts[f + 1] > cuts[f]]


def _apply(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One (2, 3) map of points x, y (scalar coefficients: no per-point gathers)."""
    (a00, a01, a02), (a10, a11, a12) = a.tolist()
    return a00 * x + a01 * y + a02, a10 * x + a11 * y + a12


def move_points(maps: np.ndarray, warps: np.ndarray | None, t: np.ndarray, x: np.ndarray, y: np.ndarray,
                backward: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """f_t (or g_t if backward) of points x, y (P,) of frame t (forward) or t+1 (backward), t (P,)
    sorted: where each point goes. maps (T, 2, 3) and warps (T-1, 6) are the object's."""
    inverse = invert_affine(maps)
    x1, y1 = np.empty_like(x), np.empty_like(y)
    for f, run in _frames(t, len(maps) - 1):
        u, v = _apply(inverse[f + 1] if backward else inverse[f], x[run], y[run])
        if warps is not None:
            u, v = warp(warps[f], u, v, inverse=backward)
        x1[run], y1[run] = _apply(maps[f] if backward else maps[f + 1], u, v)
    return x1, y1


def to_own(maps: np.ndarray, warps: np.ndarray | None, t: np.ndarray, x: np.ndarray, y: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Frame-t points x, y (P,) (t (P,) sorted) -> the canonical coordinates they came from (frame 0's
    own shape): A_t^-1, then the warps W_{t-1}^-1 ... W_0^-1. Textures are painted there, so they move
    with the object."""
    inverse = invert_affine(maps)
    u, v = np.empty_like(x), np.empty_like(y)
    for f, run in _frames(t, len(maps)):
        u[run], v[run] = _apply(inverse[f], x[run], y[run])
    if not is_rigid(warps):  # undo W_s for the points of frames after s: a suffix, t being sorted
        cuts = np.searchsorted(t, np.arange(1, len(maps)), side="left").tolist()  # first point with t > s
        for s in range(len(maps) - 2, -1, -1):
            if cuts[s] < len(t):
                u[cuts[s]:], v[cuts[s]:] = warp(warps[s], u[cuts[s]:], v[cuts[s]:], inverse=True)
    return u, v


def is_rigid(warps: np.ndarray | None) -> bool:
    """True if the warps are all the identity (the motion is affine)."""
    return warps is None or not warps[:, [0, 3]].any()
