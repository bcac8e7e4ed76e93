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

from generators.geometry import apply_affine, grid_points_inside, invert_affine, nonzero, points_in_polygons


def hidden_pixels(amodal: np.ndarray, visible: np.ndarray, k: int) -> np.ndarray:
    """bool (T, H, W): pixels of object k's amodal mask (T, K, H, W) where ``visible`` shows another."""
    return amodal[:, k] & (visible != k + 1)


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
    T, H, W = hidden.shape
    grid = grid_samples(canonical, step)
    ts, rows, cols = nonzero(hidden)
    inv = invert_affine(maps)[ts]  # (P, 2, 3) frame -> own coordinates, per sample
    back = np.stack([inv[:, 0, 0] * cols + inv[:, 0, 1] * rows + inv[:, 0, 2],
                     inv[:, 1, 0] * cols + inv[:, 1, 1] * rows + inv[:, 1, 2]], axis=-1)  # (P, 2)
    left = np.concatenate([grid, back])
    boxes = [(f.min(axis=1), f.max(axis=1)) for f in front]  # per polygon (T, 2) corners
    # Ends first: a sweep hides at the start what it shows at the end, so few samples survive them.
    for t in [0, T - 1, *range(1, T - 1)][:T]:
        if not len(left):
            break
        p = apply_affine(maps[t], left)
        x, y = p[:, 0], p[:, 1]
        seen = (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)
        for f, (lo, hi) in zip(front, boxes, strict=True):  # only points in a polygon's box can be in it
            idx = np.flatnonzero(seen & (x >= lo[t, 0]) & (x <= hi[t, 0]) & (y >= lo[t, 1]) & (y <= hi[t, 1]))
            seen[idx] = ~points_in_polygons(x[idx], y[idx], f[t][None])[0]
        left = left[~seen]
    return Coverage(len(grid), len(back), left)
