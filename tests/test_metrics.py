"""Scoring protocols on hand-made masks whose answers are worked out by hand here."""

from __future__ import annotations

import numpy as np
import pytest

from savos.data.clip import Clip
from savos.evaluation.metrics import (
    BUCKET_NAMES,
    PairRecords,
    aggregate,
    breakdowns,
    score_arrays,
    score_clip,
    summarize,
)

S = 1e-6  # the savos protocol's smoothing


def scene(rects, T: int, H: int, W: int, roles=None, types=None, index: int = 0, split: str = "test") -> Clip:
    """A clip of axis-aligned rectangles. rects[k][t] = (r0, r1, c0, c1) (half-open) or None; objects
    later in the list are in front. roles default to "target"; types, if given, go in meta "type"."""
    K = len(rects)
    amodal = np.zeros((T, K, H, W), bool)
    for k, per_frame in enumerate(rects):
        for t, r in enumerate(per_frame):
            if r is not None:
                amodal[t, k, r[0]:r[1], r[2]:r[3]] = True
    visible = np.zeros((T, H, W), np.uint8)
    for k in range(K):
        visible[amodal[:, k]] = k + 1
    objects = [{"role": (roles or ["target"] * K)[k], "shape": "rect", "color": [k, k, k], "vertices": []}
               for k in range(K)]
    for k, t in enumerate(types or []):
        objects[k]["type"] = t
    meta = {"generator": "hand", "version": "0", "config": {}, "seed": 0, "split": split, "index": index,
            "objects": objects}
    flow = np.zeros((T - 1, H, W, 2), np.float32)
    clip = Clip(np.zeros((T, H, W, 3), np.uint8), visible, amodal, flow, flow.copy(), None, meta)
    clip.validate()
    return clip


def strip_clip(covered: list[int]) -> Clip:
    """Target: a 1 x 10 strip; an occluder in front covers its first covered[t] pixels at frame t,
    so the occlusion rate is covered[t] / 10 exactly."""
    T = len(covered)
    target = [(0, 1, 0, 10)] * T
    occluder = [(0, 1, 0, c) if c else None for c in covered]
    return scene([target, occluder], T, 2, 10, roles=["target", "occluder"])


def test_savos_iou_on_a_4x4_example_with_post_processing():
    # Target object 1: amodal rows 1-2, cols 0-2 (6 px). Object 2 in front: column 2 (4 px).
    amodal = np.zeros((1, 2, 4, 4), bool)
    amodal[0, 0, 1:3, 0:3] = True
    amodal[0, 1, :, 2] = True
    visible = np.zeros((1, 4, 4), np.uint8)
    visible[amodal[:, 0]] = 1
    visible[amodal[:, 1]] = 2  # own visible V = rows 1-2, cols 0-1 (4 px); others' O = column 2
    pred = np.zeros((1, 2, 4, 4), bool)
    for r, c in [(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (0, 2)]:
        pred[0, 0, r, c] = True
    rec = score_arrays(pred, visible, amodal, [0], "savos")
    assert len(rec) == 1 and rec.occlusion[0] == pytest.approx(1 / 3)
    # Post-processed: V (4 px) + pred inside O {(1,2), (0,2)}; the spill (1,3) on the background is dropped.
    # I = V + (1,2) = 5; U = A (6) + (0,2) = 7.
    assert rec.iou_full[0] == pytest.approx((5 + S) / (7 + S), rel=1e-12)
    # Occluded, inside O: pred {(1,2), (0,2)} vs A {(1,2), (2,2)}: I = 1, U = 3.
    assert rec.iou_occ[0] == pytest.approx((1 + S) / (3 + S), rel=1e-12)

    rec = score_arrays(pred, visible, amodal, [0], "eoras")
    # No post-processing: pred (7 px) vs A (6 px): I = 5, U = 8.
    assert rec.iou_full[0] == pytest.approx(5 / 8, rel=1e-6)
    # pred - V = {(1,2), (1,3), (0,2)} vs A - V = {(1,2), (2,2)}: I = 1, U = 4.
    assert rec.iou_occ[0] == pytest.approx(1 / 4, rel=1e-6)


def test_probabilities_are_thresholded_at_one_half():
    clip = strip_clip([0, 5, 0])
    probs = np.where(clip.amodal, 0.51, 0.5)
    rec = score_clip(clip, probs, "savos")
    assert np.all(rec.iou_full == 1.0) and np.all(rec.iou_occ == 1.0)
    rec = score_clip(clip, np.full(clip.amodal.shape, 0.5), "savos")  # 0.5 is not > 0.5: empty prediction
    assert rec.iou_occ[1] == pytest.approx(S / (5 + S))


def test_occlusion_filter_is_strict_and_exact_and_track_ends_are_dropped():
    # rates 0.3 (first frame), 0.1, 0.2, 0.6, 0.7, 0.3 (last frame)
    rec = score_clip(strip_clip([3, 1, 2, 6, 7, 3]), strip_clip([3, 1, 2, 6, 7, 3]).amodal, "savos")
    assert rec.frame.tolist() == [0, 1, 2, 3, 4, 5]
    assert rec.occlusion == pytest.approx([0.3, 0.1, 0.2, 0.6, 0.7, 0.3])
    assert rec.bucket.tolist() == [3, 1, 2, 6, 7, 3]
    assert rec.selected.tolist() == [False, False, True, True, False, False]


def test_track_is_the_span_of_visible_frames():
    # Absent at frame 0, visible (rate 0.3) at frames 1-4, fully occluded at frame 5.
    T = 6
    target = [None] + [(0, 1, 0, 10)] * 5
    occluder = [None, (0, 1, 0, 3), (0, 1, 0, 3), (0, 1, 0, 3), (0, 1, 0, 3), (0, 1, 0, 10)]
    clip = scene([target, occluder], T, 2, 10, roles=["target", "occluder"])
    rec = score_clip(clip, clip.amodal, "savos")
    assert rec.frame.tolist() == [1, 2, 3, 4, 5]  # no pair where the amodal mask is empty
    assert rec.selected.tolist() == [False, True, True, False, False]
    assert rec.bucket.tolist() == [3, 3, 3, 3, 9]
    # eoras: every frame where the object is visible, no occlusion filter, no track ends.
    rec = score_clip(clip, clip.amodal, "eoras")
    assert rec.selected.tolist() == [True, True, True, True, False]


def test_only_targets_are_scored():
    clip = strip_clip([3, 3, 3])
    rec = score_clip(clip, clip.amodal, "savos")
    assert set(rec.object.tolist()) == {0}


def _records(clip, frame, values) -> PairRecords:
    n = len(values)
    vals = np.asarray(values, float)
    return PairRecords(clip=np.asarray(clip), object=np.arange(n), frame=np.asarray(frame),
                       occlusion=np.full(n, 0.3), bucket=np.full(n, 3), type=np.full(n, "t"),
                       iou_full=vals, iou_occ=vals / 2,
                       selected=np.ones(n, bool), occ_valid=np.ones(n, bool))


def test_metric1_averages_objects_within_a_frame_first():
    # Frame 1 holds two objects (1.0, 0.5), frame 2 one (0.0).
    agg = aggregate(np.array([1.0, 0.5, 0.0]), np.array(["a", "a", "a"]), np.array([1, 1, 2]))
    assert agg["metric1"] == pytest.approx((0.75 + 0.0) / 2)
    assert agg["metric2"] == pytest.approx(1.5 / 3)
    assert (agg["pairs"], agg["frames"]) == (3, 2)
    # The same frame number in two clips is two frames.
    agg = aggregate(np.array([1.0, 0.5, 0.0]), np.array(["a", "a", "b"]), np.array([1, 1, 1]))
    assert agg["metric1"] == pytest.approx(0.375) and agg["frames"] == 2


def test_summarize_headlines_and_selection():
    rec = _records(["a", "a", "a", "a"], [1, 1, 2, 3], [1.0, 0.5, 0.0, 0.9])
    rec.selected[3] = False
    s = summarize(rec, "savos")
    assert s["miou_full"] == s["metric1_full"] == pytest.approx(0.375)
    assert s["metric2_full"] == pytest.approx(0.5)
    assert s["miou_occ"] == pytest.approx(0.1875) and s["pairs_full"] == s["pairs_occ"] == 3
    assert summarize(rec, "eoras")["miou_full"] == pytest.approx(0.5)  # eoras: mean over pairs
    rec.occ_valid[:] = False
    s = summarize(rec, "savos")
    assert s["pairs_occ"] == 0 and np.isnan(s["miou_occ"])


def test_perfect_prediction_scores_one_under_savos():
    T = 5
    a = [(2, 10, 2, 10)] * T  # 64 px
    b = [(6, 14, 4 + t, 12 + t) for t in range(T)]
    occ = [(0, 16, 8, 10)] * T
    clip = scene([a, b, occ], T, 16, 20, roles=["target", "target", "occluder"])
    s = summarize(score_clip(clip, clip.amodal, "savos"), "savos")
    assert s["pairs_full"] > 0 and s["pairs_occ"] > 0
    assert s["miou_full"] == 1.0 and s["miou_occ"] == 1.0
    assert s["metric2_full"] == 1.0 and s["metric2_occ"] == 1.0
    s = summarize(score_clip(clip, clip.amodal, "eoras"), "eoras")
    assert s["miou_full"] == 1.0


def test_eoras_drops_occluded_iou_exactly_one_in_float32():
    # Target: 10 x 10 square (100 px). Frames:
    # 0: occluder covers 5 rows (50 px), perfect prediction -> occluded IoU 50/(50+eps) == 1.0 in float32:
    #    dropped
    # 1: same occlusion, prediction = visible + 25 of the 50 hidden pixels -> 0.5
    # 2: occluder covers 1 row (10 px), perfect -> 10/(10+eps) < 1 in float32: kept, ~1
    # 3: no occluder, prediction = visible -> empty vs empty = 0/(0+eps) = 0: kept
    sq = (0, 10, 0, 10)
    clip = scene([[sq] * 4, [(5, 10, 0, 10), (5, 10, 0, 10), (9, 10, 0, 10), None]], 4, 12, 12,
                 roles=["target", "occluder"])
    pred = clip.amodal.copy()
    pred[1, 0, 5:10, 5:10] = False
    rec = score_clip(clip, pred, "eoras")
    assert rec.iou_occ[0] == 1.0 and rec.iou_occ[1] == pytest.approx(0.5, rel=1e-6)
    assert 0.9999 < rec.iou_occ[2] < 1.0 and rec.iou_occ[3] == 0.0
    assert rec.occ_valid.tolist() == [False, True, True, True]
    s = summarize(rec, "eoras")
    assert s["pairs_occ"] == 3 and s["miou_occ"] == pytest.approx((0.5 + 1.0 + 0.0) / 3, rel=1e-6)
    assert s["pairs_full"] == 4 and s["miou_full"] == pytest.approx((1 + 0.75 + 1 + 1) / 4, rel=1e-6)


def test_breakdowns_by_bucket_and_type():
    T = 4
    a = [(0, 1, 0, 10)] * T
    b = [(2, 3, 0, 10)] * T
    occ = [(0, 3, 0, 3)] * 2 + [(0, 3, 0, 6)] * 2  # rates 0.3, 0.3, 0.6, 0.6 for both targets
    clip = scene([a, b, occ], T, 3, 10, roles=["target", "target", "occluder"], types=["fish", "gum", None])
    rec = score_clip(clip, clip.amodal, "savos")
    assert rec.type.tolist()[:4] == ["fish"] * 4 and rec.type.tolist()[4:] == ["gum"] * 4
    by_bucket, by_type = breakdowns(rec, "savos")
    assert [r["bucket"] for r in by_bucket[:10]] == BUCKET_NAMES and len(by_bucket) == 20
    prot = {r["bucket"]: r["pairs_full"] for r in by_bucket if r["subset"] == "protocol"}
    every = {r["bucket"]: r["pairs_full"] for r in by_bucket if r["subset"] == "all"}
    assert prot["[0.3,0.4)"] == 2 and prot["[0.6,0.7)"] == 2  # frames 1 and 2 of each target
    assert every["[0.3,0.4)"] == 4 and every["[0.6,0.7)"] == 4 and sum(every.values()) == 8
    rows = [(r["type"], r["pairs_full"], r["miou_full"]) for r in by_type]
    assert rows == [("fish", 2, 1.0), ("gum", 2, 1.0)]
