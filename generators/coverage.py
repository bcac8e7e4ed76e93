"""The Chewing-Gum guarantee, measured exactly (paper §4: "The occluded object never shows its full
shape. But each part is shown in at least one frame.").

For a target object k with its own (canonical) polygon Q and maps A_t from its own coordinates to frame t:

- Never the full shape (pixel-wise, every frame t): with area[t] = |amodal[t, k]| and hidden[t] = the
  amodal pixels where ``visible`` shows another object (so one in front of k),
  area[t] >= 1, hidden[t] >= max(1, ceil(min_occlusion * area[t])) and hidden[t] / area[t] <=
  max_occlusion (so the target stays visible and trackable).
- Every part shown in some frame, in the object's own coordinates. Samples of its shape:
  (a) the grid points (i * step, j * step) inside Q, and
  (b) every pixel centre p of its amodal mask that is hidden at its frame s, mapped back: q = A_s^-1 p
      (the pixel centres shown at s are seen at s by the definition of ``visible``), so every pixel of
      every amodal mask is covered: this is the pixel-wise half of the guarantee.
  A sample q is seen at frame t iff A_t q lies in the frame, -0.5 <= x < W - 0.5 and
  -0.5 <= y < H - 0.5, and no polygon in front of k at t contains it (the exact inside rule of
  geometry.py, not a pixel lookup). coverage = the fraction of samples seen in at least one frame; the
  guarantee is coverage == 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generators.geometry import (
    cross_count_parity,
    grid_points_inside,
    grid_points_inside_many,
    invert_affine,
    pad_polygons,
    pixel_centres,
    polygon_edges,
)


def hidden_pixels(amodal: np.ndarray, visible: np.ndarray, k: int) -> np.ndarray:
    """bool (..., T, H, W): pixels of object k's amodal mask (..., T, K, H, W) where ``visible``
    (..., T, H, W) shows another object (leading axes: several clips at once)."""
    return amodal[..., k, :, :] & (visible != k + 1)


def occlusion_problems(area: np.ndarray, hidden: np.ndarray, min_occlusion: float,
                       max_occlusion: float) -> list[str]:
    """Frames breaking the pixel-wise half of the guarantee; area, hidden: int (T,) pixel counts."""
    need = np.maximum(1, np.ceil(min_occlusion * area))
    ok = (area > 0) & (hidden >= need) & (hidden <= max_occlusion * area)
    if ok.all():
        return []
    problems = []
    for t in np.flatnonzero(~ok).tolist():
        a, h = int(area[t]), int(hidden[t])
        if a == 0:
            problems.append(f"frame {t}: not in the frame at all")
        elif h < need[t]:
            problems.append(f"frame {t}: only {h} of {a} pixels hidden (full shape shown; "
                            f"min_occlusion={min_occlusion})")
        else:
            problems.append(f"frame {t}: {h} of {a} pixels hidden (> max_occlusion={max_occlusion})")
    return problems


@dataclass
class Coverage:
    """Result of ``shape_coverage``: sample counts and the samples never seen (own coordinates)."""

    grid_samples: int
    pixel_samples: int
    unseen: np.ndarray  # float64 (U, 2)
    unseen_grid: int = 0  # how many of the unseen samples are grid samples (a)

    @property
    def never_seen(self) -> float:
        """The never-seen share of the shape's area: unseen grid samples / grid samples."""
        return self.unseen_grid / max(self.grid_samples, 1)

    @property
    def samples(self) -> int:
        return self.grid_samples + self.pixel_samples

    @property
    def fraction(self) -> float:
        return 1.0 - len(self.unseen) / max(self.samples, 1)


def grid_samples(canonical: np.ndarray, step: float) -> np.ndarray:
    """float64 (G, 2): the grid points (i * step, j * step) inside the polygon (N, 2)."""
    return grid_points_inside(canonical, step)


def shape_coverage(canonical: np.ndarray, maps: np.ndarray, front: list[np.ndarray], hidden: np.ndarray,
                   step: float) -> Coverage:
    """Which samples of a target's shape are seen in some frame (definitions in the module docstring).

    Args:
        canonical: float64 (N, 2), the target's polygon in its own coordinates.
        maps: float64 (T, 2, 3), own coordinates -> frame t.
        front: the polygons in front of the target, each float64 (T, N_j, 2) (the list may be empty).
        hidden: bool (T, H, W), the target's hidden pixels (``hidden_pixels``).
        step: grid spacing of the samples (a).
    """
    return shape_coverages([canonical], maps[None], [front], hidden[None], step)[0]


def shape_coverages(canonicals: list[np.ndarray], maps: np.ndarray, fronts: list[list[np.ndarray]],
                    hidden: np.ndarray, step: float) -> list[Coverage]:
    """``shape_coverage`` of G targets at once (of one clip or many): the same answers, with numpy's
    per-call cost paid once per batch instead of once per target.

    Args: canonicals, G polygons (N_g, 2); maps float64 (G, T, 2, 3); fronts, G lists of (T, N_j, 2);
    hidden bool (G, T, H, W); step as in ``shape_coverage``.
    """
    G, T, H, W = hidden.shape
    grids = grid_points_inside_many(canonicals, step)
    # (b) every hidden pixel centre, mapped back to its target's own coordinates
    flat = np.flatnonzero(hidden)
    gt = flat // (H * W)  # g * T + t
    cols, rows = pixel_centres(H, W)
    pixel = flat - gt * (H * W)
    r, c = rows.take(pixel), cols.take(pixel)
    inv = invert_affine(maps).reshape(G * T, 6).take(gt, axis=0)  # (P, 6) frame -> own coordinates
    back = np.stack([inv[:, 0] * c + inv[:, 1] * r + inv[:, 2], inv[:, 3] * c + inv[:, 4] * r + inv[:, 5]],
                    axis=-1)  # (P, 2)
    cuts = np.searchsorted(gt, np.arange(G + 1) * T).tolist()
    left = np.concatenate([p for g in range(G) for p in (grids[g], back[cuts[g]:cuts[g + 1]])])
    group = np.repeat(np.arange(G), [len(grids[g]) + cuts[g + 1] - cuts[g] for g in range(G)])
    grid = np.concatenate([np.arange(len(grids[g]) + cuts[g + 1] - cuts[g]) < len(grids[g])
                           for g in range(G)])  # True for the grid samples (a)

    # Front polygons, padded to one vertex count (repeated vertices add edges no point crosses), and
    # each target's j-th front polygon (-1 if it has fewer).
    polys = [f for front in fronts for f in front]
    slots = max((len(front) for front in fronts), default=0)
    slot = np.full((G, max(slots, 1)), -1, np.intp)
    start = 0
    for g, front in enumerate(fronts):
        slot[g, : len(front)] = np.arange(start, start + len(front))
        start += len(front)
    if polys:
        stacked = pad_polygons(polys)  # (F, T, N, 2)
        lo, hi = stacked.min(axis=2), stacked.max(axis=2)  # (F, T, 2) boxes
        edges = np.ascontiguousarray(np.stack(polygon_edges(stacked)).transpose(2, 0, 3, 1))  # (T, 4, N, F)
    coef = maps.reshape(G, T, 6)
    # Ends first: a sweep hides at the start what it shows at the end, so few samples survive them.
    for t in [0, T - 1, *range(1, T - 1)][:T]:
        if not len(left):
            break
        a = coef[:, t].take(group, axis=0)  # (P, 6) own coordinates -> frame t, per sample
        x = a[:, 0] * left[:, 0] + a[:, 1] * left[:, 1] + a[:, 2]
        y = a[:, 3] * left[:, 0] + a[:, 4] * left[:, 1] + a[:, 5]
        seen = (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)
        for j in range(slots):
            f = slot[:, j].take(group)  # (P,) polygon index or -1
            fl, fh = lo[:, t].take(f, axis=0), hi[:, t].take(f, axis=0)  # (P, 2); junk where f == -1
            idx = np.flatnonzero(seen & (f >= 0) & (x >= fl[:, 0]) & (x <= fh[:, 0]) & (y >= fl[:, 1])
                                 & (y <= fh[:, 1]))
            fe = edges[t].take(f.take(idx), axis=2)  # (4, N, P'): x0, y0, y1, slope
            seen[idx] = ~cross_count_parity(x.take(idx), y.take(idx), tuple(fe))
        keep = ~seen
        left, group, grid = left[keep], group[keep], grid[keep]
    out = []
    for g in range(G):
        mine = group == g
        out.append(Coverage(len(grids[g]), cuts[g + 1] - cuts[g], left[mine], int(grid[mine].sum())))
    return out
