"""Non-learned baselines: the centre-sampled convex hull, and the visible mask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.morphology import convex_hull_image
from test_metrics import scene

from savos.evaluation.baselines import BASELINES, convex_baseline, convex_hull_mask, visible_baseline
from savos.evaluation.metrics import score_clip, summarize

H, W = 24, 28


def _mask(pixels, shape=(5, 5)):
    m = np.zeros(shape, bool)
    for r, c in pixels:
        m[r, c] = True
    return m


def _raster(poly) -> np.ndarray:
    """Centre-sampled rasterisation, boundary included: pixel (r, c) is the point x = c, y = r."""
    ys, xs = np.mgrid[0:H, 0:W]
    return shapely.intersects_xy(poly, xs.astype(float), ys.astype(float))


def test_hand_made_hulls():
    # An L (as (row, col)): centres (x, y) (0,0), (0,1), (0,2), (1,2), (2,2); hull = triangle whose
    # hypotenuse passes through the centre of pixel (1, 1).
    L = _mask([(0, 0), (1, 0), (2, 0), (2, 1), (2, 2)])
    assert np.array_equal(convex_hull_mask(L), L | _mask([(1, 1)]))
    one = _mask([(3, 2)])
    assert np.array_equal(convex_hull_mask(one), one)
    assert np.array_equal(convex_hull_mask(_mask([(0, 0), (2, 2)])), _mask([(0, 0), (1, 1), (2, 2)]))
    two = _mask([(0, 0), (1, 2)])  # no centre lies between the two
    assert np.array_equal(convex_hull_mask(two), two)
    row = _mask([(2, 0), (2, 4)])
    assert np.array_equal(convex_hull_mask(row), _mask([(2, c) for c in range(5)]))
    assert not convex_hull_mask(np.zeros((5, 5), bool)).any()
    # A triangle of three centres: (x, y) = (0, 0), (3, 2), (1, 4); only centres inside or on it.
    tri = convex_hull_mask(_mask([(0, 0), (2, 3), (4, 1)]))
    assert np.array_equal(tri, _mask([(0, 0), (1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2), (4, 1)]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, W + 2), st.floats(-3, H + 2)), min_size=3, max_size=9))
def test_hull_of_a_convex_shape_is_the_shape(points):
    poly = shapely.MultiPoint(points).convex_hull
    mask = _raster(poly)
    assert np.array_equal(convex_hull_mask(mask), mask)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.02, 0.3))
def test_hull_contains_the_mask_is_idempotent_and_matches_skimage_on_centres(seed, p):
    mask = np.random.default_rng(seed).random((H, W)) < p
    hull = convex_hull_mask(mask)
    assert np.all(hull[mask])
    assert np.array_equal(convex_hull_mask(hull), hull)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns (and returns nothing) on collinear centres
        ref = convex_hull_image(mask, offset_coordinates=False)
    if ref.any():
        assert np.array_equal(hull, ref)


def _gap_clip():
    # A 7 x 13 rectangle behind a vertical bar that splits its visible mask in two; the hull fills the gap.
    T = 4
    rect = [(2, 9, 1, 14)] * T
    bar = [(0, H, 6 + t, 9 + t) for t in range(T)]
    return scene([rect, bar], T, H, W, roles=["target", "occluder"])


def test_convex_fills_a_gap_exactly_and_visible_completes_nothing():
    clip = _gap_clip()
    amodal, predicted = convex_baseline(clip)
    assert predicted.tolist() == [True, False] and not amodal[:, 1].any()
    assert np.array_equal(amodal[:, 0], clip.amodal[:, 0])
    s = summarize(score_clip(clip, amodal, "savos"), "savos")
    assert s["miou_full"] == 1.0 and s["miou_occ"] == 1.0

    amodal, predicted = visible_baseline(clip)
    assert predicted.tolist() == [True, False]
    assert np.array_equal(amodal[:, 0], clip.visible == 1) and not amodal[:, 1].any()
    rec = score_clip(clip, amodal, "savos")
    s = summarize(rec, "savos")
    assert s["pairs_occ"] == 2 and s["miou_occ"] < 1e-6  # nothing hidden is predicted
    vis, amo = (clip.visible == 1).sum(axis=(1, 2)), clip.amodal[:, 0].sum(axis=(1, 2))
    assert s["miou_full"] == pytest.approx(np.mean(vis[1:-1] / amo[1:-1]))


def test_baselines_dict():
    assert set(BASELINES) == {"convex", "circle", "visible"}
