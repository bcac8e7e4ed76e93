"""Guessability statistics on hand-made clips whose answers are worked out here, and on generated ones."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from generators.chewing_gum import generate_clip
from generators.config import ChewingGumConfig
from savos.data.clip import Clip
from savos.data.guessability import (
    NOT_HIDDEN,
    UNSEEN,
    clip_guessability,
    format_summary,
    object_maps,
    summarize,
)

T, H, W = 6, 6, 16


def _rect(c0: float, c1: float, r0: float, r1: float) -> list[list[float]]:
    """Corners (x, y) of the rectangle covering pixel columns c0..c1-1 and rows r0..r1-1."""
    return [[c0 - 0.5, r0 - 0.5], [c1 - 0.5, r0 - 0.5], [c1 - 0.5, r1 - 0.5], [c0 - 0.5, r1 - 0.5]]


def sliding_clip(with_vertices: bool = True, with_flow: bool = True) -> Clip:
    """Target: rows 1-4, columns 3+t .. 8+t (6 wide), moving right 1 px per frame. In front of it a
    static bar over columns 7 and 8 (all rows). The target's point at column c at frame t is at column
    c + (s - t) at frame s, hidden there iff that column is 7 or 8."""
    amodal = np.zeros((T, 2, H, W), bool)
    for t in range(T):
        amodal[t, 0, 1:5, 3 + t:9 + t] = True
    amodal[:, 1, :, 7:9] = True
    visible = np.zeros((T, H, W), np.uint8)
    visible[amodal[:, 0]] = 1
    visible[amodal[:, 1]] = 2
    aflow = np.zeros((T - 1, 2, H, W, 2), np.float32)
    aflow[:, 0, ..., 0][amodal[:-1, 0]] = 1.0  # dx = 1 inside the target
    objects = [{"role": "target", "shape": "rect", "color": [1, 1, 1],
                "vertices": [_rect(3 + t, 9 + t, 1, 5) for t in range(T)] if with_vertices else []},
               {"role": "occluder", "shape": "rect", "color": [2, 2, 2],
                "vertices": [_rect(7, 9, 0, H)] * T if with_vertices else []}]
    meta = {"generator": "hand", "version": "0", "config": {}, "seed": 0, "split": "test", "index": 0,
            "objects": objects}
    flow = np.zeros((T - 1, H, W, 2), np.float32)
    clip = Clip(np.zeros((T, H, W, 3), np.uint8), visible, amodal, flow, flow.copy(),
                aflow if with_flow else None, meta)
    clip.validate()
    return clip


def test_sliding_rectangle_behind_a_bar():
    g = clip_guessability(sliding_clip())
    assert g.object.tolist() == [0] * T and g.frame.tolist() == list(range(T))
    # Hidden: columns 7 and 8 (4 rows each) while the target spans them; at t = 5 (columns 8..13) only 8.
    assert g.hidden.tolist() == [8, 8, 8, 8, 8, 4]
    assert np.allclose(g.occlusion, np.array([8, 8, 8, 8, 8, 4]) / 24)
    assert g.in_band.tolist() == [True] * T  # 1/6 and 1/3
    # The bar cuts off the right end at t = 0 and the left end at t = 4, 5 (outside the visible hull),
    # and splits the target in two at t = 1, 2, 3 (the hull fills the gap exactly).
    assert g.in_hull.tolist() == [0, 8, 8, 8, 0, 0]
    # Reach: a hidden point at column 7 is at column 6 (visible) one frame earlier, at column 8 one frame
    # later is at 9 (visible): 1 -- except at t = 0 (no earlier frame: column 9 two frames later) and
    # column 8 at t = 5 (no later frame: column 6 two frames earlier).
    reach = g.reach
    assert reach.dtype == np.int16 and reach.shape == (T, 2, H, W)
    assert (reach[:, 1] == NOT_HIDDEN).all()  # occluders get no reach
    assert (reach[0, 0, 1:5, 7] == 2).all() and (reach[0, 0, 1:5, 8] == 1).all()
    assert (reach[5, 0, 1:5, 8] == 2).all()
    hidden = reach[:, 0] != NOT_HIDDEN
    assert hidden.sum() == g.hidden.sum()
    assert np.array_equal(hidden, sliding_clip().amodal[:, 0] & (sliding_clip().visible != 1))
    assert (reach[1:5, 0][hidden[1:5]] == 1).all()
    assert g.within.tolist() == [[4, 8, 8], [8, 8, 8], [8, 8, 8], [8, 8, 8], [8, 8, 8], [0, 4, 4]]
    assert g.seen.tolist() == g.hidden.tolist()
    assert g.reach_median.tolist() == [1.5, 1, 1, 1, 1, 2]


def test_amodal_flow_gives_the_motion_of_the_vertices():
    want = clip_guessability(sliding_clip(with_flow=False))
    got = clip_guessability(sliding_clip(with_vertices=False))
    assert np.array_equal(want.reach, got.reach)
    assert np.allclose(object_maps(sliding_clip(with_flow=False), 0),
                       object_maps(sliding_clip(with_vertices=False), 0))
    degenerate = sliding_clip()  # two vertices fit no affine map: the amodal flow is used instead
    degenerate.meta["objects"][0]["vertices"] = [v[:2] for v in degenerate.meta["objects"][0]["vertices"]]
    assert np.array_equal(clip_guessability(degenerate).reach, want.reach)
    none = clip_guessability(sliding_clip(with_vertices=False, with_flow=False))
    assert none.reach is None and none.within is None and none.in_hull.tolist() == want.in_hull.tolist()
    s = summarize([none])
    assert "reach_share" not in s["all"] and s["all"]["hull_share"] == pytest.approx(24 / 44)


def test_a_part_hidden_in_every_frame_is_unseen():
    clip = sliding_clip()
    clip.amodal[:, 1] = False
    for t in range(T):  # the occluder now moves with the target and covers its first two columns
        clip.amodal[t, 1, 1:5, 3 + t:5 + t] = True
        clip.meta["objects"][1]["vertices"][t] = _rect(3 + t, 5 + t, 1, 5)
    clip.visible[:] = 0
    clip.visible[clip.amodal[:, 0]] = 1
    clip.visible[clip.amodal[:, 1]] = 2
    g = clip_guessability(clip)
    assert g.hidden.tolist() == [8] * T and g.seen.tolist() == [0] * T
    assert (g.reach[:, 0][clip.amodal[:, 1]] == UNSEEN).all()
    assert np.isinf(g.reach_median).all()
    s = summarize([g])
    assert s["all"]["reach_share"] == {"1": 0.0, "2": 0.0, "4": 0.0, "any": 0.0}


def test_summary_pools_pixels_and_filters_the_band():
    g = clip_guessability(sliding_clip())
    s = summarize([g, g])
    assert s["object_frames"] == 2 * T and s["in_band"] == 1.0
    assert s["all"]["hidden_pixels"] == 2 * 44
    assert s["all"]["hull_share"] == pytest.approx(24 / 44)
    assert s["all"]["reach_share"] == pytest.approx({"1": 36 / 44, "2": 1.0, "4": 1.0, "any": 1.0})
    assert s["occlusion_quantiles"]["0.5"] == pytest.approx(1 / 3)
    text = "\n".join(format_summary(s))
    assert "inside hull of visible 54.5%" in text and "t+-1 81.8%" in text
    assert summarize([])["object_frames"] == 0


def test_generated_clips_reach_every_hidden_pixel_and_both_motions_agree():
    cfg = ChewingGumConfig()
    for index in range(3):
        clip = generate_clip(cfg, 0, index, "test")
        g = clip_guessability(clip)
        # the coverage guarantee (exact geometry) shows every hidden point; the pixel rule of the
        # reach may misjudge a point within half a pixel of an occluder's edge
        assert g.seen.sum() >= 0.99 * g.hidden.sum()
        assert (g.within[:, 0] <= g.within[:, 1]).all() and (g.within[:, 2] <= g.seen).all()
        no_vertices = copy.deepcopy(clip)
        for o in no_vertices.meta["objects"]:
            o.pop("vertices")
        other = clip_guessability(no_vertices)  # through the stored amodal flow
        assert (other.reach != g.reach).mean() < 1e-3
