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

from savos.data.clip import Clip
from savos.evaluation.baselines import (
    BASELINES,
    circle_baseline,
    circle_mask,
    convex_baseline,
    convex_hull_mask,
    fit_circle,
    free_contour,
    visible_baseline,
)
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


# Vertices on a 1/16-pixel grid: binary fractions keep shapely's point-in-polygon exact. With arbitrary
# floats (hypothesis found x = 1e-45) a pixel centre on an edge can fall either side of it in rounding.
_COORD = st.integers(-3 * 16, (max(H, W) + 2) * 16).map(lambda v: v / 16)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_COORD, _COORD), min_size=3, max_size=9))
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
    assert set(BASELINES) == {"convex", "circle", "union", "visible"}


def test_fit_circle_is_exact_on_a_circle_and_refuses_degenerate_points():
    a = np.linspace(0.0, 1.5, 9)  # a quarter of the circle is enough
    cx, cy, r = fit_circle(3.5 + 6.0 * np.cos(a), -2.0 + 6.0 * np.sin(a))
    assert (cx, cy, r) == pytest.approx((3.5, -2.0, 6.0), abs=1e-9)
    assert fit_circle(np.array([0.0, 1.0]), np.array([0.0, 1.0])) is None
    assert fit_circle(np.arange(5.0), 2.0 * np.arange(5.0)) is None  # collinear


def _cut_disk(cx=12.3, cy=13.6, R=8.0, cut=16):
    """A disk of radius R (pixel centres within R of (cx, cy)) in 28 x 28, the columns >= cut covered."""
    ys, xs = np.mgrid[0:28, 0:28]
    disk = (xs - cx) ** 2 + (ys - cy) ** 2 <= R * R
    bar = xs >= cut
    return disk, bar


def test_circle_completes_a_disk_with_a_known_cut():
    disk, bar = _cut_disk()
    own = disk & ~bar
    contour = free_contour(own, bar)
    assert contour.any() and not (contour & ~own).any()
    assert not contour[:, 15].any()  # the pixels next to the bar are where the occluder cuts the outline
    rows, cols = np.nonzero(contour)
    cx, cy, r = fit_circle(cols.astype(float), rows.astype(float))
    assert abs(cx - 12.3) < 0.2 and abs(cy - 13.6) < 0.2 and abs(r + 0.5 - 8.0) < 0.25  # centres ~0.5 in
    pred = circle_mask(own, bar)
    assert np.array_equal(pred & ~bar, own)  # the visible mask is kept, nothing spills elsewhere
    hidden = disk & bar
    iou = (pred & hidden).sum() / (pred & bar | hidden).sum()
    assert iou > 0.9
    convex = convex_hull_mask(own)
    assert (convex & hidden).sum() == 0  # the hull of a cut disk ends at the cut: it completes nothing


def test_circle_falls_back_to_the_visible_mask():
    own = np.zeros((6, 6), bool)
    own[2, 1:4] = True  # a row: collinear contour
    assert np.array_equal(circle_mask(own, np.zeros((6, 6), bool)), own)
    assert not circle_mask(np.zeros((6, 6), bool), own).any()
    framed = np.ones((6, 6), bool)  # touches the frame's edge everywhere: no free contour
    assert np.array_equal(circle_mask(framed, np.zeros((6, 6), bool)), framed)


def test_circle_baseline_scores_a_cut_disk_clip():
    T = 4
    disks, bars = zip(*[_cut_disk(cx=10.0 + t, cut=16) for t in range(T)], strict=True)
    amodal = np.stack([np.stack(disks), np.stack(bars)], axis=1)
    visible = np.where(amodal[:, 1], 2, np.where(amodal[:, 0], 1, 0)).astype(np.uint8)
    objects = [{"role": "target", "shape": "disk"}, {"role": "occluder", "shape": "rect"}]
    meta = {"generator": "hand", "version": "0", "config": {}, "seed": 0, "split": "test", "index": 0,
            "objects": objects}
    flow = np.zeros((T - 1, 28, 28, 2), np.float32)
    clip = Clip(np.zeros((T, 28, 28, 3), np.uint8), visible, amodal, flow, flow.copy(), None, meta)
    pred, predicted = circle_baseline(clip)
    assert predicted.tolist() == [True, False] and not pred[:, 1].any()
    circle = summarize(score_clip(clip, pred, "savos"), "savos")
    convex = summarize(score_clip(clip, convex_baseline(clip)[0], "savos"), "savos")
    assert circle["pairs_occ"] == 2 and circle["miou_occ"] > 0.75 and convex["miou_occ"] < 0.01
