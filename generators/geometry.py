"""Exact plane geometry for the procedural generators (numpy only): star polygons, affine maps, and the
one inside rule that every mask, coverage sample and check in ``generators/`` uses.

Coordinates are (x, y) = (column, row) in pixels; pixel (r, c) has its centre at x = c, y = r.
Affine maps are float64 ``(..., 2, 3)`` matrices ``[A | b]`` acting as ``p' = A p + b``.

The inside rule (the crossing-number test, "PNPOLY"): a point (x, y) is inside a polygon iff a ray from
it towards +x crosses an odd number of edges. An edge with lower end (x0, y0) and upper end (x1, y1),
y0 <= y1 (whichever way the polygon runs), is crossed iff

    y0 <= y < y1   and   x < x0 + (y - y0) * ((x1 - x0) / (y1 - y0))

evaluated in float64 exactly in that order (``polygon_edges``, ``_cross_x``), so the scanline rasteriser and
the point test give bit-identical answers, and an edge shared by two polygons gives both the same
crossing. Points strictly inside are inside, points strictly outside are outside. A point exactly on an
edge is inside iff the polygon's interior lies on its +x side (on a horizontal edge: on its +y side), the
top-left fill rule of image coordinates (y down): two polygons sharing an edge never both claim a point,
and an axis-aligned rectangle with integer corners [x0, x1) x [y0, y1) covers exactly
(x1 - x0) * (y1 - y0) pixel centres. With random float vertices a centre on a boundary is a measure-zero
event; the rule only makes the answer unique.
"""

from __future__ import annotations

import functools

import numpy as np


def polygon_edges(polygons: np.ndarray) -> tuple[np.ndarray, ...]:
    """(..., N, 2) polygons -> x0, y0 (lower end), y1 (upper end), slope dx/dy; each (..., N): the edges
    as the inside rule reads them (compute once, test many point sets with ``cross_count_parity``).

    Horizontal (and padding) edges get slope 0; the rule never crosses them."""
    xa, ya = polygons[..., 0], polygons[..., 1]
    xb = np.concatenate([xa[..., 1:], xa[..., :1]], axis=-1)  # the next vertex
    yb = np.concatenate([ya[..., 1:], ya[..., :1]], axis=-1)
    up = ya <= yb
    dy = yb - ya
    # the same number either way round: (xb - xa) / (yb - ya) == (xa - xb) / (ya - yb) exactly
    slope = np.divide(xb - xa, dy, out=np.zeros_like(dy), where=dy != 0)
    return np.where(up, xa, xb), np.where(up, ya, yb), np.where(up, yb, ya), slope


def _cross_x(x0, y0, slope, y):
    """x where an edge with lower end (x0, y0) and ``slope`` meets the row y (the rule's one formula)."""
    return x0 + (y - y0) * slope


def star_polygon(rng: np.random.Generator, num_vertices: int, radius: float, jitter: float) -> np.ndarray:
    """A random star-shaped polygon around the origin: float64 (N, 2) vertices (x, y).

    The N nodes lie at random angles on a circle of ``radius`` (each radius scaled by a factor uniform in
    [1 - jitter, 1 + jitter], which makes concavities). Angles are stratified, one uniform draw in each
    of N equal sectors behind a random phase (for N = 3 in the first half of each sector), so they come
    out sorted (the polygon is simple and star-shaped about the origin) and every gap is below pi (the
    origin is inside: no crescent).
    """
    n = int(num_vertices)
    sector = 2.0 * np.pi / n
    spread = min(1.0, n / 2.0 - 1.0)  # a gap is below (1 + spread) sectors <= pi
    angles = (np.arange(n) + spread * rng.random(n)) * sector + rng.random() * 2.0 * np.pi
    radii = radius * (1.0 + jitter * rng.uniform(-1.0, 1.0, n))
    out = np.empty((n, 2))
    np.multiply(radii, np.cos(angles), out=out[:, 0])
    np.multiply(radii, np.sin(angles), out=out[:, 1])
    return out


def pad_polygons(polygons: list[np.ndarray]) -> np.ndarray:
    """Stack polygons (..., N_i, 2) with different N_i into (..., N, 2) by repeating each last vertex.

    The repeated vertex adds zero-length edges, which no row crosses: the shapes are unchanged.
    """
    n = max(p.shape[-2] for p in polygons)
    out = np.empty((len(polygons), *polygons[0].shape[:-2], n, 2))
    for i, p in enumerate(polygons):
        m = p.shape[-2]
        out[i, ..., :m, :] = p
        out[i, ..., m:, :] = p[..., -1:, :]
    return out


_RASTER_CHUNK = 256


def rasterize(polygons: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-sampled masks of a batch of polygons by the inside rule.

    Args:
        polygons: float64 (B, N, 2) vertices (x, y), implicitly closed (see ``pad_polygons``).
    Returns:
        bool (B, H, W): pixel (r, c) is set iff its centre (x=c, y=r) is inside.

    Scanline form of the rule, in a window per polygon: only rows ymin <= r < ymax and columns
    ceil(xmin) <= c < ceil(xmax) can be inside. Per (polygon, row) each crossed edge toggles the columns
    c < x_cross, i.e. c < ceil(x_cross). A row crosses a closed polygon an even number of times, so the
    parity of the crossings right of c equals that of the crossings with ceil(x_cross) <= c: one running
    sum over all rows of all windows (each row adds an even count) gives every mask at once.
    """
    assert polygons.ndim == 3 and polygons.shape[2] == 2, polygons.shape
    if len(polygons) > _RASTER_CHUNK:  # chunks whose running sums fit in the CPU caches: 2x faster
        return np.concatenate([rasterize(polygons[s:s + _RASTER_CHUNK], height, width)
                               for s in range(0, len(polygons), _RASTER_CHUNK)])
    B = polygons.shape[0]
    x0, y0, y1, slope = polygon_edges(polygons)  # (B, N)
    size = np.array([width, height])
    lo = np.clip(np.ceil(polygons.min(axis=1)), 0, size).astype(np.intp)  # (B, 2) extent (c0, r0)
    hi = np.clip(np.ceil(polygons.max(axis=1)), 0, size).astype(np.intp)
    bw, bh = np.maximum((hi - lo).max(axis=0), 1).tolist()
    # Windows of one size (bh, bw) that cover each extent and lie inside the frame: no canvas to pad.
    # Rows and columns of a window outside the extent get no crossing at all, or all of a row's.
    corner = np.minimum(lo, size - [bw, bh])  # (B, 2)
    rows = (corner[:, 1, None] + np.arange(bh)).astype(np.float64)[:, None]  # (B, 1, bh)
    crossed = (y0[:, :, None] <= rows) & (rows < y1[:, :, None])  # (B, N, bh)
    flat = np.flatnonzero(crossed)  # (polygon, edge, window row) of every crossing, as one index
    be = flat // bh  # polygon * N + edge
    b, i = be // polygons.shape[1], flat - be * bh
    xc = _cross_x(x0.reshape(-1).take(be), y0.reshape(-1).take(be), slope.reshape(-1).take(be),
                  rows.reshape(-1).take(b * bh + i))
    p = (np.clip(np.ceil(xc), lo[b, 0], hi[b, 0]) - corner[b, 0]).astype(np.intp)  # window column, 0..bw
    inside = _crossing_parity((b * bh + i) * (bw + 1) + p, B, bh, bw)
    # Paste each window at its corner: a strided view with one (bh, bw) block per (polygon, corner) and
    # a fancy assignment of the B blocks.
    out = np.zeros((B, height, width), bool)
    s0, s1, s2 = out.strides
    blocks = np.ndarray((B, height - bh + 1, width - bw + 1, bh, bw), bool, out, 0, (s0, s1, s2, s1, s2))
    blocks[np.arange(B), corner[:, 1], corner[:, 0]] = inside
    return out


def points_in_polygons(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """The inside rule for arbitrary points: x, y float64 (P,), polygons (J, N, 2) -> bool (J, P)."""
    return cross_count_parity(x, y, tuple(e.T[:, :, None] for e in polygon_edges(polygons)))  # (N, J, 1)


def cross_count_parity(x: np.ndarray, y: np.ndarray, edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """The inside rule, point by point: points x, y (...) against edges (N, ...) each, edge axis first
    (broadcasting) -> bool (...): an odd number of crossings. The parity is a running XOR over the N
    edge rows (a count along a short last axis would be many times slower)."""
    x0, y0, y1, slope = edges
    crossed = (y0 <= y) & (y < y1)
    crossed &= x < _cross_x(x0, y0, slope, y)
    return np.logical_xor.reduce(crossed, axis=0)


def _crossing_parity(cells: np.ndarray, batch: int, rows: int, cols: int) -> np.ndarray:
    """The scanline fill shared by ``rasterize`` and ``grid_points_inside_many``: each crossing toggles
    the cells of its row from its cell on; ``cells`` indexes (batch, rows, cols + 1). One running sum over
    everything gives every parity (each row holds an even number of crossings) -> bool (batch, rows,
    cols)."""
    counts = np.bincount(cells, minlength=batch * rows * (cols + 1))
    return (np.cumsum(counts).reshape(batch, rows, cols + 1)[:, :, :cols] & 1).astype(bool)


def grid_points_inside(polygon: np.ndarray, step: float) -> np.ndarray:
    """The grid points (i * step, j * step) inside a polygon (N, 2) by the inside rule: float64 (G, 2),
    row by row (j, then i). The same points as ``points_in_polygons`` on the whole grid, found by
    scanlines: per grid row, a crossing at x_c toggles the m points with i * step < x_c (m by a sorted
    search, so no division), and one running sum gives the parities, as in ``rasterize``."""
    return grid_points_inside_many([polygon], step)[0]


def grid_points_inside_many(polygons: list[np.ndarray], step: float) -> list[np.ndarray]:
    """``grid_points_inside`` of several polygons (N_g, 2) at once (the same points, bit for bit): one
    grid of columns for all, a window of rows and columns per polygon, one running sum."""
    padded = pad_polygons(polygons)  # (G, N, 2)
    G = len(polygons)
    lo = np.floor(padded.min(axis=1) / step)  # (G, 2) first grid column and row of each polygon
    hi = np.ceil(padded.max(axis=1) / step)
    n, rows = (hi - lo + 1).max(axis=0).astype(np.intp).tolist()  # window: columns, rows
    first = lo[:, 0].min()
    xs = np.arange(first, hi[:, 0].max() + 1) * step  # every polygon's columns are a run of these
    ys = (lo[:, 1, None] + np.arange(rows)) * step  # (G, rows)
    x0, y0, y1, slope = polygon_edges(padded)  # (G, N)
    g, row, edge = np.nonzero((y0[:, None, :] <= ys[:, :, None]) & (ys[:, :, None] < y1[:, None, :]))
    xc = _cross_x(x0[g, edge], y0[g, edge], slope[g, edge], ys[g, row])
    m = np.searchsorted(xs, xc, side="left") - (lo[g, 0] - first).astype(np.intp)  # within g's columns
    inside = _crossing_parity((g * rows + row) * (n + 1) + m, G, rows, n)
    g, j, i = np.nonzero(inside)
    offset = (lo[:, 0] - first).astype(np.intp)
    points = np.stack([xs[offset[g] + i], ys[g, j]], axis=-1)
    return np.split(points, np.cumsum(np.bincount(g, minlength=G))[:-1])


def rigid_maps(cx: np.ndarray, cy: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotation by theta (radians, +x towards +y) then translation to (cx, cy): (T,) each -> (T, 2, 3)."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s, cx], axis=-1), np.stack([s, c, cy], axis=-1)], axis=-2)


def apply_affine(maps: np.ndarray, points: np.ndarray) -> np.ndarray:
    """maps (..., 2, 3), points (..., P, 2) -> (..., P, 2), broadcasting over the leading axes."""
    return points @ np.swapaxes(maps[..., :2], -1, -2) + maps[..., None, :, 2]


def invert_affine(maps: np.ndarray) -> np.ndarray:
    """(..., 2, 3) -> (..., 2, 3) inverse maps (the 2 x 2 inverse in closed form: no LAPACK call)."""
    a, b, c, d = maps[..., 0, 0], maps[..., 0, 1], maps[..., 1, 0], maps[..., 1, 1]
    det = a * d - b * c
    inv = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / det[..., None, None]
    return np.concatenate([inv, -(inv @ maps[..., 2:])], axis=-1)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The map p -> outer(inner(p)): (..., 2, 3) each -> (..., 2, 3)."""
    lin = outer[..., :2] @ inner[..., :2]
    return np.concatenate([lin, outer[..., :2] @ inner[..., 2:] + outer[..., 2:]], axis=-1)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine maps from point correspondences (at least 3 non-collinear points).

    Args:
        src, dst: float64 (B, P, 2).
    Returns:
        maps (B, 2, 3) with dst ~ apply_affine(maps, src), and the max abs residual per map (B,).
    """
    ms, md = src.mean(axis=1, keepdims=True), dst.mean(axis=1, keepdims=True)
    s, d = src - ms, dst - md  # centred: a well-conditioned 2x2 system
    lin = np.swapaxes(np.linalg.solve(np.swapaxes(s, 1, 2) @ s, np.swapaxes(s, 1, 2) @ d), 1, 2)  # (B, 2, 2)
    shift = md[:, 0, :, None] - lin @ ms[:, 0, :, None]  # (B, 2, 1)
    maps = np.concatenate([lin, shift], axis=-1)
    residual = np.abs(apply_affine(maps, src) - dst).max(axis=(1, 2))
    return maps, residual


def radial_extent(polygons: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Distance from the origin to the boundary along rays: polygons (..., N, 2) star-shaped about the
    origin (padded ones allowed), angles float64 (A,) radians -> (..., A). The farthest crossing if a
    ray meets several edges."""
    v = polygons[..., None, :, :]  # (..., 1, N, 2)
    e = np.concatenate([polygons[..., 1:, :], polygons[..., :1, :]], axis=-2)[..., None, :, :] - v  # edges
    u = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[:, None]  # (A, 1, 2)
    cross_ue = u[..., 0] * e[..., 1] - u[..., 1] * e[..., 0]  # (..., A, N)
    hit = cross_ue != 0.0  # parallel and zero-length edges: no crossing
    t = np.divide(v[..., 0] * e[..., 1] - v[..., 1] * e[..., 0], cross_ue, out=np.zeros_like(cross_ue),
                  where=hit)  # distance along the ray
    s = np.divide(v[..., 0] * u[..., 1] - v[..., 1] * u[..., 0], cross_ue, out=np.full_like(cross_ue, -1.0),
                  where=hit)  # position along the edge
    ok = (s >= 0.0) & (s <= 1.0) & (t > 0.0)
    return np.where(ok, t, 0.0).max(axis=-1)


@functools.lru_cache(maxsize=8)
def pixel_centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """float64 (H * W,) x and y of every pixel centre, in C order (read-only, cached)."""
    ys, xs = (a.reshape(-1) for a in np.mgrid[0:height, 0:width].astype(np.float64))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys
