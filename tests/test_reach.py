"""Occluded IoU against temporal reach (savos/report/reach.py) on hand-made records."""

from __future__ import annotations

import math

import pytest

from savos.report.reach import LABELS, NEVER, iou_by_reach, reach_label, reach_table


@pytest.mark.parametrize("median, label", [(1.0, "1"), (1.5, "2"), (2.0, "2"), (3.0, "3-4"), (4.0, "3-4"),
                                           (4.5, "5-8"), (8.0, "5-8"), (9.0, "9+"), (15.0, "9+"),
                                           (math.inf, NEVER)])
def test_reach_label(median, label):
    assert reach_label(median) == label


def _row(clip, k, t, iou, selected=True, occ_valid=True):
    return {"clip": clip, "object": str(k), "frame": str(t), "iou_occ": str(iou),
            "selected": str(selected), "occ_valid": str(occ_valid)}


def test_iou_by_reach_buckets_only_scored_pairs():
    reach = {("a", 0, 0): 1.0, ("a", 0, 1): 1.0, ("a", 1, 0): 3.0, ("b", 0, 5): math.inf, ("b", 0, 6): 2.0}
    rows = [_row("a", 0, 0, 0.8), _row("a", 0, 1, 0.6), _row("a", 1, 0, 0.3),
            _row("b", 0, 5, 0.1), _row("b", 0, 6, 0.9, selected=False),  # not scored by the protocol
            _row("b", 0, 7, 0.5)]  # no hidden pixels: no reach
    by = {r["reach"]: r for r in iou_by_reach(rows, reach)}
    assert [r for r in by] == LABELS
    assert by["1"]["pairs"] == 2 and by["1"]["miou_occ"] == pytest.approx(0.7)
    assert by["3-4"]["pairs"] == 1 and by["3-4"]["miou_occ"] == pytest.approx(0.3)
    assert by[NEVER]["miou_occ"] == pytest.approx(0.1)
    assert by["2"]["pairs"] == 0 and by["2"]["miou_occ"] is None
    table = reach_table({"m": list(by.values())})
    assert "| m | 0.7000 | n/a | 0.3000 |" in table and "reach 1 (2)" in table
