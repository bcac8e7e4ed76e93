"""Render exact Clip arrays from vector polygons and their rigid motion (numpy only).

One function per output layer, vectorised over frames and objects. Inputs:

- ``vertices``: per object k a float64 (T, N_k, 2) array, the polygon of every frame (x, y);
- ``depth``: per object its depth rank (0 = back-most); a larger rank is in front;
- motions: float64 (T-1, K, 2, 3) affine maps moving a point of object k from frame t to t+1 (fwd) or
  from t+1 to t (bwd): ``rigid_motions`` from poses (the generator), ``motion_maps`` from any
  own-to-frame maps (tests, checks).

Flow is the motion's displacement at pixel centres, evaluated analytically in float64 (no finite
differences) and rounded once to float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from generators.geometry import compose_affine, invert_affine, pad_polygons, pixel_centres, rasterize
from savos.errors import SavosError


def render_amodal(vertices: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Per object (T, N_k, 2) polygons -> bool (T, K, H, W) centre-sampled amodal masks."""
    return render_amodal_many([vertices], height, width)[0]


def render_amodal_many(clips: Sequence[Sequence[np.ndarray]], height: int, width: int) -> np.ndarray:
    """``render_amodal`` of S clips with K objects each, in one rasterisation -> bool (S, T, K, H, W)."""
    S, K, T = len(clips), len(clips[0]), clips[0][0].shape[0]
    stacked = pad_polygons([v for vertices in clips for v in vertices])  # (S * K, T, N, 2)
    stacked = stacked.reshape(S, K, T, -1, 2).transpose(0, 2, 1, 3, 4)  # (S, T, K, N, 2)
    return rasterize(stacked.reshape(S * T * K, -1, 2), height, width).reshape(S, T, K, height, width)


def compose_visible(amodal: np.ndarray, depth: Sequence[int]) -> np.ndarray:
    """bool (T, K, H, W) amodal masks + depth ranks -> uint8 (T, H, W) label map (front-most wins)."""
    T, K, H, W = amodal.shape
    assert K < 256, "uint8 labels hold at most 255 objects"
    order = sorted(range(K), key=lambda k: depth[k])  # back to front (ties: the later object in front)
    # Each pixel takes the largest position in that order among the objects covering it: a running
    # maximum of masks scaled by position (10x faster than masked writes of strided masks).
    masks = amodal.view(np.uint8)
    top = np.zeros((T, H, W), np.uint8) if K == 0 else masks[:, order[0]].copy()  # position 1
    for position, k in enumerate(order[1:], start=2):
        np.maximum(top, masks[:, k] * np.uint8(position), out=top)
    if order == list(range(K)):
        return top  # position == label
    labels = np.zeros(K + 1, np.uint8)
    labels[1:] = np.array(order) + 1
    return labels.take(top)


def sample_colors(rng: np.random.Generator, n: int, min_distance: float, what: str) -> list[list[int]]:
    """n RGB colours pairwise at least min_distance apart (Euclidean): candidates drawn in batches of 4 n,
    each kept if far enough from those kept before it. ``what`` names the generator in the error."""
    kept: list[list[int]] = []
    limit = min_distance**2
    for _ in range(1000):
        for c in rng.integers(0, 256, size=(4 * n, 3)).tolist():
            if all(sum((a - b) ** 2 for a, b in zip(c, o, strict=True)) >= limit for o in kept):
                kept.append(c)
                if len(kept) == n:
                    return kept
    raise SavosError(f"{what}: cannot find {n} colours min_color_distance={min_distance} apart; lower "
                     "min_color_distance or use fewer objects")


def paint(visible: np.ndarray, background: Sequence[int], colors: Sequence[Sequence[int]]) -> np.ndarray:
    """uint (T, H, W) labels -> uint8 (T, H, W, 3) flat-coloured frames (label 0 = background)."""
    palette = np.zeros((len(colors) + 1, 4), np.uint8)  # each colour as one 4-byte word (r, g, b, 0)
    palette[:, :3] = [background, *colors]
    pixels = palette.view(np.uint32)[:, 0].take(visible.reshape(-1))  # a fast 4-byte gather
    # 3 bytes per pixel: write the words 3 bytes apart, in order; each one's spare byte is overwritten
    # by the next pixel's red (the buffer has one byte to spare for the last).
    out = np.empty(3 * pixels.size + 1, np.uint8)
    np.ndarray(pixels.shape, np.uint32, out, 0, (3,))[...] = pixels
    return out[:-1].reshape(*visible.shape, 3)


def motion_maps(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame motion of each object: maps (T, K, 2, 3) -> (fwd, bwd), each (T-1, K, 2, 3).

    fwd[t, k] moves a point of object k at frame t to frame t+1; bwd[t, k] moves it from t+1 to t.
    """
    inv = invert_affine(maps)
    return compose_affine(maps[1:], inv[:-1]), compose_affine(maps[:-1], inv[1:])


def rigid_motions(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame-to-frame motion from rigid poses, analytically: pose (T, K, 3) = (cx, cy, angle) ->
    (fwd, bwd), each (T-1, K, 2, 3) as in ``motion_maps``. A pure translation gives an identity linear
    part exactly (so an integer translation gives integer flow)."""
    c, a = pose[..., :2], pose[..., 2]
    turn = a[1:] - a[:-1]  # (T-1, K)
    cos, sin = np.cos(turn), np.sin(turn)
    fwd = np.empty((*turn.shape, 2, 3))
    bwd = np.empty((*turn.shape, 2, 3))
    fwd[..., 0, 0] = fwd[..., 1, 1] = bwd[..., 0, 0] = bwd[..., 1, 1] = cos
    fwd[..., 1, 0] = bwd[..., 0, 1] = sin
    fwd[..., 0, 1] = bwd[..., 1, 0] = -sin
    rot, back = fwd[..., :2], bwd[..., :2]  # (T-1, K, 2, 2); back = rot transposed
    fwd[..., 2] = c[1:] - (rot @ c[:-1, ..., None])[..., 0]  # p' = R (p - c_t) + c_t+1
    bwd[..., 2] = c[:-1] - (back @ c[1:, ..., None])[..., 0]
    return fwd, bwd


def _coefficients(motions: np.ndarray) -> np.ndarray:
    """(..., 2, 3) affine motions -> (..., 3, 2): displacement m(p) - p = x * row0 + y * row1 + row2."""
    lin = motions[..., :2] - np.eye(2)
    return np.stack([lin[..., 0], lin[..., 1], motions[..., 2]], axis=-2)


def amodal_flow(motions: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """Motion of every amodal pixel, occluded ones too: motions (N, K, 2, 3), amodal bool (N, K, H, W) ->
    float32 (N, K, H, W, 2), exactly 0 outside the masks (pass the fwd motions with ``amodal[:-1]``)."""
    N, K, H, W = amodal.shape
    out = np.zeros((N, K, H, W, 2), np.float32)
    flat = np.flatnonzero(amodal)  # pixel i of mask (frame, object) moves with motion row i // (H * W)
    # sorted, so each motion's pixels are one run: its coefficients are repeated, not gathered
    runs = np.diff(np.searchsorted(flat, np.arange(N * K + 1) * (H * W)))
    _flow_at(motions, flat, W, out, runs=runs)
    return out


def flow_at_labels(motions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Flow of whatever is visible: motions (N, K, 2, 3), labels (N, H, W) -> float32 (N, H, W, 2).

    A pixel labelled k moves with object k; the background (label 0) is static, flow 0. Forward flow:
    fwd motions with ``visible[:-1]``; backward flow: bwd motions with ``visible[1:]`` (it lives on t+1).
    """
    N, K = motions.shape[:2]
    _, H, W = labels.shape
    out = np.zeros((N, H, W, 2), np.float32)
    flat = np.flatnonzero(labels != 0)  # only labelled pixels move (a bool scan is 4x faster)
    row = (flat // (H * W)) * K + labels.reshape(-1).take(flat) - 1  # its (frame, object) motion
    _flow_at(motions, flat, W, out, row=row)
    return out


def visible_flows(fwd: np.ndarray, bwd: np.ndarray, visible: np.ndarray,
                  amodal_fwd: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``flow_at_labels(fwd, visible[:-1]), flow_at_labels(bwd, visible[1:])``, bit for bit, in one scan
    of ``visible`` (T, H, W). Given the forward amodal flow (``amodal_flow(fwd, amodal[:-1])``), the
    forward flow is gathered from it (the same numbers: a visible pixel moves with its object)."""
    T, H, W = visible.shape
    K, HW = fwd.shape[1], H * W
    flat = np.flatnonzero(visible != 0)  # sorted: frames 0..T-2 first for fwd, 1..T-1 last for bwd
    obj = visible.reshape(-1).take(flat).astype(np.intp) - 1
    frame = flat // HW
    out_f = np.zeros((T - 1, H, W, 2), np.float32)
    out_b = np.zeros((T - 1, H, W, 2), np.float32)
    n_f = int(np.searchsorted(flat, (T - 1) * HW))
    f_flat, f_row = flat[:n_f], frame[:n_f] * K + obj[:n_f]
    if amodal_fwd is None:
        _flow_at(fwd, f_flat, W, out_f, row=f_row)
    else:  # amodal_fwd[t, k] at the pixel, as one 8-byte (dx, dy) word
        words = amodal_fwd.reshape(-1).view(np.uint64)
        out_f.reshape(-1).view(np.uint64)[f_flat] = words.take(f_row * HW + (f_flat - frame[:n_f] * HW))
    n_b = int(np.searchsorted(flat, HW))
    _flow_at(bwd, flat[n_b:] - HW, W, out_b, row=(frame[n_b:] - 1) * K + obj[n_b:])
    return out_f, out_b


def _flow_at(motions: np.ndarray, flat: np.ndarray, width: int, out: np.ndarray, *,
             row: np.ndarray | None = None, runs: np.ndarray | None = None) -> None:
    """Write into ``out`` (..., H, W, 2) float32, at flat pixel indices ``flat``, the displacement of
    each pixel's motion at its centre, in float64. The motions (reshaped to (-1, 2, 3)) are given per
    pixel by ``row`` (an index each), or, when ``flat`` is grouped by motion, by ``runs`` (how many
    consecutive pixels each motion has, in order: repeated, not gathered)."""
    height = out.shape[-3]
    # displacement = x * (a, b) + y * (c, d) + (e, f): per term a (2, M) table of (dx, dy) rows
    coef = np.ascontiguousarray(_coefficients(motions).reshape(-1, 3, 2).transpose(1, 2, 0))  # (3, 2, M)
    if runs is not None:
        coef = coef.repeat(runs, axis=2)  # (3, 2, P): the motion of every pixel
    xs, ys = pixel_centres(height, width)
    words = out.reshape(-1).view(np.uint64)
    for lo in range(0, len(flat), _CHUNK):  # chunks small enough for the temporaries to stay in cache
        f = flat[lo:lo + _CHUNK]
        pixel = f - (f // (height * width)) * (height * width)
        x, y = xs.take(pixel), ys.take(pixel)
        if runs is not None:
            a, b, e = coef[:, :, lo:lo + _CHUNK]
        else:
            a, b, e = (coef[j].take(row[lo:lo + _CHUNK], axis=1) for j in range(3))  # (2, P) each
        dx, dy = (a * x + b * y + e).astype(np.float32)  # float64 arithmetic rounded once
        values = np.empty((len(f), 2), np.float32)
        values[:, 0], values[:, 1] = dx, dy
        words[f] = values.view(np.uint64)[:, 0]  # (dx, dy) as one 8-byte word


_CHUNK = 8192
