"""The never-seen score on a hand-built clip whose never-seen part is worked out here: a target sliding
right 1 px per frame, an occluder travelling with it over its right end (never seen), a static bar it
slides under (hidden, but seen in other frames). The truth scores 1, union (every visible mask carried
to each frame) scores 0 by construction, under both protocols."""

from __future__ import annotations

import numpy as np
import pytest

from savos.data.clip import Clip
from savos.data.guessability import never_seen_regions
from savos.evaluation.baselines import union_baseline, visible_baseline
from savos.evaluation.metrics import score_clip, summarize

T, H, W = 6, 6, 16


def _rect(c0: float, c1: float, r0: float, r1: float) -> list[list[float]]:
    """Corners (x, y) of the rectangle covering pixel columns c0..c1-1 and rows r0..r1-1."""
    return [[c0 - 0.5, r0 - 0.5], [c1 - 0.5, r0 - 0.5], [c1 - 0.5, r1 - 0.5], [c0 - 0.5, r1 - 0.5]]


def travelling_clip() -> Clip:
    """Target (rows 1-4, columns 3+t .. 8+t); in front of it an occluder over columns 7+t and 8+t (all
    rows), moving with it; in front of both a static bar over column 10."""
    amodal = np.zeros((T, 3, H, W), bool)
    for t in range(T):
        amodal[t, 0, 1:5, 3 + t:9 + t] = True
        amodal[t, 1, :, 7 + t:9 + t] = True
    amodal[:, 2, :, 10] = True
    visible = np.zeros((T, H, W), np.uint8)
    for k in range(3):
        visible[amodal[:, k]] = k + 1
    aflow = np.zeros((T - 1, 3, H, W, 2), np.float32)
    aflow[:, 0, ..., 0][amodal[:-1, 0]] = 1.0
    aflow[:, 1, ..., 0][amodal[:-1, 1]] = 1.0
    fwd = np.zeros((T - 1, H, W, 2), np.float32)
    fwd[..., 0][(visible[:-1] == 1) | (visible[:-1] == 2)] = 1.0
    bwd = np.zeros((T - 1, H, W, 2), np.float32)
    bwd[..., 0][(visible[1:] == 1) | (visible[1:] == 2)] = -1.0
    objects = [{"role": "target", "shape": "rect", "color": [1, 1, 1],
                "vertices": [_rect(3 + t, 9 + t, 1, 5) for t in range(T)]},
               {"role": "occluder", "shape": "rect", "color": [2, 2, 2],
                "vertices": [_rect(7 + t, 9 + t, 0, H) for t in range(T)]},
               {"role": "occluder", "shape": "rect", "color": [3, 3, 3],
                "vertices": [_rect(10, 11, 0, H)] * T}]
    meta = {"generator": "hand", "version": "0", "config": {}, "seed": 0, "split": "test", "index": 0,
            "objects": objects}
    clip = Clip(np.zeros((T, H, W, 3), np.uint8), visible, amodal, fwd, bwd, aflow, meta)
    clip.validate()
    return clip


def test_never_seen_region_is_the_part_under_the_travelling_occluder():
    clip = travelling_clip()
    never = never_seen_regions(clip)
    for t in range(T):
        want = np.zeros((H, W), bool)
        want[:, 7 + t:9 + t] = True  # every pixel of the travelling occluder: carried, it stays under it
        assert (never[t, 0] == want).all(), t
        # the target's part in it: 2 columns x 4 rows; the bar's pixels over the target are seen elsewhere
        assert int((never[t, 0] & clip.amodal[t, 0]).sum()) == 8
    hidden_by_bar = clip.amodal[4, 0] & (clip.visible[4] == 3)
    assert hidden_by_bar.any() and not (never[4, 0] & hidden_by_bar).any()
    assert not never[:, 1:].any()  # occluders are not scored


@pytest.mark.parametrize("protocol", ["savos", "eoras"])
def test_truth_scores_one_and_union_zero(protocol):
    clip = travelling_clip()
    truth = score_clip(clip, clip.amodal, protocol)
    assert truth.never_valid.all() and np.allclose(truth.iou_never, 1.0)
    union, _ = union_baseline(clip)
    assert not (union[:, 0] & never_seen_regions(clip)[:, 0]).any()  # nothing never seen is ever carried
    rec = score_clip(clip, union, protocol)
    assert rec.never_valid.all() and rec.iou_never.max() < 1e-6
    s = summarize(rec, protocol)
    assert s["pairs_never"] > 0 and s["miou_never"] < 1e-6
    hidden_by_bar = clip.amodal[4, 0] & (clip.visible[4] == 3)
    assert (union[4, 0] >= hidden_by_bar).all()  # union completes what was seen at another time
    visible, _ = visible_baseline(clip)
    assert summarize(score_clip(clip, visible, protocol), protocol)["miou_never"] < 1e-6


def test_spill_into_the_never_seen_region_outside_the_target_costs():
    """Predicting the occluder's whole never-seen region (rows 0 and 5 are not the target) is not 1."""
    clip = travelling_clip()
    pred = clip.amodal.copy()
    pred[:, 0] |= never_seen_regions(clip)[:, 0]
    rec = score_clip(clip, pred, "eoras")
    assert np.allclose(rec.iou_never, 8 / 12, atol=1e-6)


def test_no_motion_information_no_never_seen_score():
    clip = travelling_clip()
    clip.meta["objects"] = [{k: v for k, v in o.items() if k != "vertices"} for o in clip.meta["objects"]]
    clip.amodal_flow_fwd = None
    assert never_seen_regions(clip) is None
    rec = score_clip(clip, clip.amodal, "savos")
    assert not rec.never_valid.any() and np.isnan(summarize(rec)["miou_never"])
