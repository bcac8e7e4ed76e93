"""generators/geometry.py: the inside rule, the rasteriser, affine maps, star polygons (shapely as the
independent reference)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.coverage import grid_samples
from generators.geometry import (
    apply_affine,
    compose_affine,
    fit_affine,
    grid_points_inside,
    grid_points_inside_many,
    invert_affine,
    pad_polygons,
    points_in_polygons,
    radial_extent,
    rasterize,
    rigid_maps,
    star_polygon,
)

SETTINGS = settings(max_examples=40, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def _centres(H, W):
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    return xx, yy


def _random_star(rng, H, W):
    n = int(rng.integers(3, 16))
    poly = star_polygon(rng, n, rng.uniform(1.0, 1.0 + 0.6 * max(H, W)), rng.uniform(0.0, 0.8))
    return poly + rng.uniform([-0.3 * W, -0.3 * H], [1.3 * W, 1.3 * H])


@SETTINGS
@given(seeds)
def test_rasterize_matches_shapely_on_random_star_polygons(seed):
    rng = np.random.default_rng(seed)
    H, W = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    polys = [_random_star(rng, H, W) for _ in range(5)]
    masks = rasterize(pad_polygons(polys), H, W)
    xx, yy = _centres(H, W)
    for poly, mask in zip(polys, masks, strict=True):
        shape = shapely.Polygon(poly)
        assert shape.is_valid  # star polygons are simple
        ref = shapely.contains_xy(shape, xx, yy)
        # Only a centre within 1e-9 px of the outline may differ (the tie rule; never happens here).
        near = shapely.distance(shape.exterior, shapely.points(xx, yy)) < 1e-9
        assert np.array_equal(mask[~near], ref[~near])


@SETTINGS
@given(seeds)
def test_rasterize_equals_point_rule_bit_for_bit(seed):
    """Any polygons (self-intersecting, off-frame, vertices on pixel rows and columns): the scanline
    rasteriser and the point test are the same rule."""
    rng = np.random.default_rng(seed)
    H, W = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    polys = rng.uniform(-10, 40, size=(4, int(rng.integers(3, 10)), 2))
    polys[1] = np.round(polys[1])  # integer vertices: centres exactly on edges and vertices
    polys[2] = np.round(polys[2] * 2) / 2
    xx, yy = _centres(H, W)
    ref = points_in_polygons(xx.ravel(), yy.ravel(), polys).reshape(4, H, W)
    assert np.array_equal(rasterize(polys, H, W), ref)


def test_rectangle_with_integer_corners_covers_its_area():
    """The top-left rule: [x0, x1) x [y0, y1) of pixel centres, for either orientation."""
    rect = np.array([[2.0, 3.0], [7.0, 3.0], [7.0, 5.0], [2.0, 5.0]])
    for poly in (rect, rect[::-1]):
        mask = rasterize(poly[None], 8, 10)[0]
        want = np.zeros((8, 10), bool)
        want[3:5, 2:7] = True
        assert np.array_equal(mask, want)


@SETTINGS
@given(seeds)
def test_polygons_sharing_an_edge_split_the_centres(seed):
    """A quadrilateral with integer corners cut along a diagonal: every centre of the quadrilateral goes to
    exactly one triangle, even centres lying on the shared edge."""
    rng = np.random.default_rng(seed)
    quad = star_polygon(rng, 4, 6.0, 0.3) + 8.0
    quad = np.round(quad)
    shape = shapely.Polygon(quad)
    if shape.area < 1.0 or not shape.is_valid or shape.convex_hull.area > shape.area:
        return  # the diagonal cuts only a convex quadrilateral in two
    tri = np.stack([quad[[0, 1, 2]], quad[[0, 2, 3]]])
    masks = rasterize(tri, 17, 17)
    assert not (masks[0] & masks[1]).any()
    assert np.array_equal(masks[0] | masks[1], rasterize(quad[None], 17, 17)[0])


@SETTINGS
@given(seeds, st.booleans())
def test_a_fan_of_triangles_partitions_a_convex_polygon(seed, snap):
    """Cut a convex polygon into triangles from its first vertex: every centre of the polygon lies in
    exactly one triangle (shared edges are crossed identically whichever way each triangle runs)."""
    rng = np.random.default_rng(seed)
    poly = star_polygon(rng, int(rng.integers(4, 12)), 7.0, 0.0) + 9.0  # on a circle: convex
    if snap:
        poly = np.round(poly * 2) / 2  # vertices on half pixels: many centres exactly on edges
    shape = shapely.Polygon(poly)
    if not shape.is_valid or shape.convex_hull.area > shape.area + 1e-9:
        return
    fan = np.stack([poly[[0, i, i + 1]] for i in range(1, len(poly) - 1)])
    counts = rasterize(fan, 19, 19).sum(axis=0)
    assert counts.max() <= 1
    assert np.array_equal(counts == 1, rasterize(poly[None], 19, 19)[0])


def test_padding_does_not_change_a_shape():
    rng = np.random.default_rng(0)
    a, b = star_polygon(rng, 5, 6.0, 0.2) + 10, star_polygon(rng, 11, 6.0, 0.2) + 10
    padded = pad_polygons([a, b])
    assert padded.shape == (2, 11, 2)
    assert np.array_equal(rasterize(padded[:1], 20, 20), rasterize(a[None], 20, 20))


def test_polygon_off_frame_and_empty_batch_rows():
    far = np.array([[[-50.0, -50.0], [-40.0, -50.0], [-45.0, -40.0]]])
    assert not rasterize(far, 6, 6).any()
    covering = np.array([[[-5.0, -5.0], [20.0, -5.0], [20.0, 20.0], [-5.0, 20.0]]])
    assert rasterize(covering, 6, 7).all()


@SETTINGS
@given(seeds, st.integers(3, 14), st.floats(0.0, 0.8))
def test_star_polygon_is_simple_sorted_and_contains_its_centre(seed, n, jitter):
    rng = np.random.default_rng(seed)
    poly = star_polygon(rng, n, 10.0, jitter)
    assert poly.shape == (n, 2)
    r = np.hypot(poly[:, 0], poly[:, 1])
    assert ((r >= 10.0 * (1 - jitter) - 1e-9) & (r <= 10.0 * (1 + jitter) + 1e-9)).all()
    angles = np.arctan2(poly[:, 1], poly[:, 0])
    gaps = np.mod(np.diff(np.append(angles, angles[0])), 2 * np.pi)  # counter-clockwise steps
    assert np.isclose(gaps.sum(), 2 * np.pi) and gaps.max() < np.pi  # sorted, once around
    shape = shapely.Polygon(poly)
    assert shape.is_valid and shape.contains(shapely.Point(0.0, 0.0))


@SETTINGS
@given(seeds)
def test_radial_extent_matches_ray_intersection(seed):
    rng = np.random.default_rng(seed)
    poly = star_polygon(rng, int(rng.integers(3, 13)), 8.0, 0.5)
    angles = rng.uniform(0, 2 * np.pi, 16)
    got = radial_extent(poly, angles)
    ring = shapely.LinearRing(poly)
    for a, d in zip(angles, got, strict=True):
        ray = shapely.LineString([(0, 0), (100 * np.cos(a), 100 * np.sin(a))])
        hit = ring.intersection(ray)
        want = max(np.hypot(*p) for p in np.atleast_2d(shapely.get_coordinates(hit)))
        assert d == pytest.approx(want, abs=1e-9)


@SETTINGS
@given(seeds)
def test_affine_helpers(seed):
    rng = np.random.default_rng(seed)
    maps = np.concatenate([rng.normal(size=(6, 2, 2)) + 2 * np.eye(2), rng.normal(size=(6, 2, 1)) * 10], -1)
    pts = rng.uniform(-20, 20, size=(6, 9, 2))
    moved = apply_affine(maps, pts)
    assert np.allclose(apply_affine(invert_affine(maps), moved), pts, atol=1e-9)
    assert np.allclose(apply_affine(compose_affine(maps[::-1], maps), pts),
                       apply_affine(maps[::-1], moved), atol=1e-9)
    fitted, residual = fit_affine(pts, moved)
    assert np.allclose(fitted, maps, atol=1e-9) and residual.max() < 1e-9
    rig = rigid_maps(rng.normal(size=4), rng.normal(size=4), rng.uniform(0, 7, 4))
    lin = rig[:, :, :2]
    assert np.allclose(lin @ np.swapaxes(lin, 1, 2), np.eye(2)) and np.allclose(np.linalg.det(lin), 1)


def test_grid_samples_are_the_grid_points_inside():
    rng = np.random.default_rng(3)
    poly = star_polygon(rng, 9, 7.0, 0.3)
    for step in (1.0, 0.5):
        pts = grid_samples(poly, step)
        assert np.allclose(pts / step, np.round(pts / step))
        assert shapely.contains_xy(shapely.Polygon(poly), pts[:, 0], pts[:, 1]).all()
        xs = np.arange(-12, 12.01, step)
        xx, yy = np.meshgrid(xs, xs)
        assert len(pts) == shapely.contains_xy(shapely.Polygon(poly), xx, yy).sum()


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 14), st.floats(1.0, 25.0), st.floats(0.0, 0.8), st.sampled_from([1.0, 0.5, 0.3, 1.7]),
       st.integers(0, 2**32 - 1))
def test_grid_scanlines_equal_the_point_rule(n, radius, jitter, step, seed):
    """The scanline grid is exactly the grid points that ``points_in_polygons`` calls inside."""
    rng = np.random.default_rng(seed)
    poly = star_polygon(rng, n, radius, jitter) + rng.uniform(-40, 40, 2)
    assert grid_points_inside(poly, step).tobytes() == _grid_by_point_rule(poly, step).tobytes()


def _grid_by_point_rule(poly, step):
    """The grid points inside, by testing every grid point of the bounding box (row by row)."""
    lo, hi = np.floor(poly.min(axis=0) / step), np.ceil(poly.max(axis=0) / step)
    i, j = np.arange(lo[0], hi[0] + 1) * step, np.arange(lo[1], hi[1] + 1) * step
    x, y = np.tile(i, len(j)), np.repeat(j, len(i))
    inside = points_in_polygons(x, y, poly[None])[0]
    return np.stack([x[inside], y[inside]], -1)


@SETTINGS
@given(seeds, st.sampled_from([0.5, 1.0, 1.7]))
def test_grid_points_of_many_polygons_are_those_of_each(seed, step):
    rng = np.random.default_rng(seed)
    polys = [_random_star(rng, 30, 40) - 20 for _ in range(int(rng.integers(1, 6)))]
    together = grid_points_inside_many(polys, step)
    assert len(together) == len(polys)
    for poly, got in zip(polys, together, strict=True):
        assert got.tobytes() == _grid_by_point_rule(poly, step).tobytes()


@SETTINGS
@given(seeds)
def test_scene_outline_table_is_radial_extent(seed):
    """The scene planner's edge-first outline table is radial_extent, bit for bit."""
    from generators.scenes.gum_planner import _RAYS, _outlines

    rng = np.random.default_rng(seed)
    shapes = [star_polygon(rng, int(rng.integers(3, 13)), rng.uniform(2, 20), rng.uniform(0, 0.8))
              for _ in range(int(rng.integers(1, 5)))]
    assert _outlines(shapes).tobytes() == radial_extent(pad_polygons(shapes), _RAYS).tobytes()


def test_rasterize_in_chunks_equals_one_by_one():
    """A batch larger than the rasteriser's chunk gives each polygon's own mask."""
    rng = np.random.default_rng(7)
    polys = pad_polygons([_random_star(rng, 24, 30) for _ in range(600)])
    together = rasterize(polys, 24, 30)
    assert together.shape == (600, 24, 30)
    assert all(np.array_equal(together[i], rasterize(polys[i:i + 1], 24, 30)[0]) for i in range(0, 600, 7))
