"""The convex hull of a mask's pixel centres, rasterised centre-sampled (numpy; exact integer arithmetic).

Pixel (r, c) is the point x = c, y = r. A pixel is in ``convex_hull_mask(mask)`` iff its centre lies in or
on the hull of the set pixels' centres: the hull of a convex shape's mask is that mask again, and the
result always contains the mask. Not skimage's ``convex_hull_image``: by default it takes the hull of the
pixels' edge midpoints (centres +-0.5 px along each axis), which adds pixels whose centres lie outside the
hull of the centres; with ``offset_coordinates=False`` it warns and returns an empty image when the
centres are collinear (a mask one pixel thick). Used by the convex baseline and the guessability
statistics (how much of a hidden part lies inside the hull of the visible part).
"""

from __future__ import annotations

import numpy as np


def convex_hull_points(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Andrew's monotone chain: the hull's vertices, counter-clockwise (in x-right, y-up terms),
    without collinear points; 1 or 2 vertices for degenerate inputs."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    return _chain(pts)[:-1] + _chain(pts[::-1])[:-1]  # collinear points give the two ends


def _chain(pts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One half of the monotone chain: keep only left turns (cross product > 0), inlined for speed."""
    out: list[tuple[int, int]] = []
    for p in pts:
        px, py = p
        while len(out) >= 2:
            (ox, oy), (ax, ay) = out[-2], out[-1]
            if (ax - ox) * (py - oy) - (ay - oy) * (px - ox) > 0:
                break
            out.pop()
        out.append(p)
    return out


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
