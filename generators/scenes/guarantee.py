"""Occlusion control and the visibility guarantee of a scene's targets, measured exactly.

Occlusion rate (pixel-wise, every frame): with area = |amodal[t, k]| and hidden = its pixels where
``visible`` shows another object, frame t is in range [lo, hi] iff area > 0, hidden >= max(1, ceil(lo *
area)) (when lo > 0; a frame with lo = 0 may be fully visible) and hidden <= hi * area. A target passes
iff at least ceil(frames * T) of its frames are in range (frames = 1: every frame, as Chewing Gum).

Guarantee: samples of the target's canonical shape (the grid points inside it and every hidden pixel
centre of every frame, pulled back to canonical coordinates) are seen at frame t iff their image lies in
the frame and no polygon in front of the target contains it (the exact inside rule). ``coverage`` =
the fraction of samples seen in some frame. The never-seen share of the target = the fraction of its
grid samples seen in no frame: the share of its shape's area that no frame shows. ``occlusion.unseen``
as a number u keeps the guarantee's rule (at most u of all samples unseen; 0 = every part seen); as a
range [min, max] it bounds the never-seen share (the hidden-pixel samples, one per frame a pixel is
hidden, would weigh a part hidden all clip by the number of frames). Affine targets use
generators/coverage.py as is; a non-rigid target
moves its samples through the warps (motion.py), frame by frame. ``accept_scenes`` measures both for
many scenes at once (the engine renders and checks a batch of clips together).
"""

from __future__ import annotations

import math

import numpy as np

from generators.coverage import Coverage, hidden_pixels, shape_coverages
from generators.geometry import grid_points_inside, pixel_centres, points_in_polygons
from generators.scenes.config import OcclusionConfig
from generators.scenes.motion import is_rigid, to_own, warp
from savos.data.bitcount import count_true


def frames_in_range(area: np.ndarray, hidden: np.ndarray, rate: tuple[float, float]) -> np.ndarray:
    """bool (T,): which frames are in the occlusion-rate range; area, hidden int (T,) pixel counts."""
    lo, hi = rate
    need = np.maximum(1, np.ceil(lo * area)) if lo > 0 else np.zeros_like(area)
    return (area > 0) & (hidden >= need) & (hidden <= hi * area)


def occlusion_ok(area: np.ndarray, hidden: np.ndarray, rate: tuple[float, float], frames: float) -> bool:
    """True if enough frames are in range (module docstring)."""
    return int(frames_in_range(area, hidden, rate).sum()) >= math.ceil(frames * len(area) - 1e-9)


# Samples x front polygons x their most nodes per coverage call, about 4 default Chewing-Gum scenes:
# small enough for the temporaries to stay in the CPU caches (a whole batch of 26 was 12 % slower in
# all, fences and letters 10 %), large enough to share numpy's per-call cost.
COVERAGE_WORK = 5e5


def accept_scenes(occ: OcclusionConfig, things: list[list], vertices: list[list[np.ndarray]],
                  amodal: np.ndarray, visible: np.ndarray, targets: int) -> list[dict | None]:
    """Which of S scenes pass: per scene, its targets' records ``{k: {"coverage", "coverage_samples"}}``
    if every target is in the occlusion range (``occ.rate`` in ``occ.frames`` of its frames) and the
    never-seen share of its shape is in ``occ.unseen_range``, else None.

    things, vertices: per scene its K objects (layout.Thing) and their polygons (T, N_k, 2), the first
    ``targets`` of them the targets; amodal bool (S, T, K, H, W), visible uint8 (S, T, H, W). One count
    and one coverage call for all scenes: numpy's per-call cost dominates a small clip.
    """
    S, T, _, H, W = amodal.shape
    R = targets
    hidden = np.stack([hidden_pixels(amodal, visible, k) for k in range(R)], axis=1)  # (S, R, T, H, W)
    area = count_true(amodal[:, :, :R].reshape(S, T, R, -1)).transpose(0, 2, 1)  # (S, R, T)
    n_hidden = count_true(hidden.reshape(S, R, T, -1))
    enough = frames_in_range(area, n_hidden, occ.rate).sum(axis=-1) >= math.ceil(occ.frames * T - 1e-9)
    todo = np.flatnonzero(enough.all(axis=1)).tolist()
    out: list[dict | None] = [None] * S
    lo, hi = occ.unseen_range
    if (lo <= 0.0 and hi >= 1.0) or not todo:
        return [{} if s in todo else None for s in range(S)]
    # Scenes in chunks of at most COVERAGE_WORK sample-edge tests (about: every sample against every
    # front polygon, padded to the most nodes): a big batch of many-sided shapes (fences, letters) would
    # leave the CPU caches and take memory.
    samples = n_hidden.sum(axis=(1, 2)) + area[:, :, 0].sum(axis=1) / occ.coverage_step**2
    work = [samples[s] * (len(vertices[s]) - 1) * max((len(v[0]) for v in vertices[s][1:]), default=0)
            for s in range(S)]
    chunks, total = [[]], 0.0
    for s in todo:
        if chunks[-1] and total + work[s] > COVERAGE_WORK:
            chunks, total = [*chunks, []], 0.0
        chunks[-1].append(s)
        total += work[s]
    for chunk in chunks:
        pick = [(s, k) for s in chunk for k in range(R)]
        maps = np.stack([things[s][k].maps for s, k in pick])  # (G, T, 2, 3)
        mine = (hidden if len(chunk) == S else hidden[chunk]).reshape(-1, T, H, W)
        covs = coverages([things[s][k].canonical for s, k in pick], maps,
                         [things[s][k].warps for s, k in pick], [vertices[s][k + 1:] for s, k in pick],
                         mine, occ.coverage_step)
        for i, s in enumerate(chunk):
            found = covs[i * R:(i + 1) * R]
            if all(unseen_ok(occ, c) for c in found):
                out[s] = {k: coverage_record(occ, c) for k, c in enumerate(found)}
    return out


def unseen_ok(occ: OcclusionConfig, c: Coverage) -> bool:
    """The never-seen rule of ``occ.unseen`` (module docstring) for one target's coverage."""
    if isinstance(occ.unseen, float):
        return len(c.unseen) <= occ.unseen * c.samples
    lo, hi = occ.unseen
    return lo * c.grid_samples <= c.unseen_grid <= hi * c.grid_samples


def coverage_record(occ: OcclusionConfig, c: Coverage) -> dict:
    """A target's meta fields of the guarantee: coverage, coverage_samples and, for a range ``unseen``,
    never_seen (the never-seen share of its area)."""
    rec = {"coverage": c.fraction, "coverage_samples": c.samples}
    if not isinstance(occ.unseen, float):
        rec["never_seen"] = c.never_seen
    return rec


def coverages(canonicals: list[np.ndarray], maps: np.ndarray, warps: list[np.ndarray | None],
              fronts: list[list[np.ndarray]], hidden: np.ndarray, step: float) -> list[Coverage]:
    """Per target g: canonical (N_g, 2), maps (G, T, 2, 3), warps, the polygons in front (T, N_j, 2)
    each, hidden bool (G, T, H, W) -> the samples never seen (module docstring)."""
    G = len(canonicals)
    out: list[Coverage | None] = [None] * G
    rigid = [g for g in range(G) if is_rigid(warps[g])]
    if len(rigid) == G:  # no copies of the masks
        return shape_coverages(canonicals, maps, fronts, hidden, step)
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
    return Coverage(len(grid), len(flat), own[left], int((left < len(grid)).sum()))
