"""The Clip contract for partly annotated (real) data: amodal_known on disk, opacity relaxed for
imported clips, and scoring only of known pairs."""

from __future__ import annotations

import numpy as np
import pytest

from savos.data.clip import ClipError
from savos.data.codec import decode_clip, encode_clip
from savos.evaluation.metrics import score_clip
from tests.toy import toy_clip


def _members(clip):
    return dict(encode_clip(clip))


def test_synthetic_clips_are_all_known_and_store_no_member():
    clip = toy_clip(0)
    assert clip.amodal_known.shape == (5, 2) and clip.amodal_known.all()
    members = _members(clip)
    assert "amodal_known.zst" not in members  # old datasets: no member, read back as all known
    assert decode_clip(members).amodal_known.all()


def test_amodal_known_round_trips():
    clip = toy_clip(1)
    known = np.ones((5, 2), bool)
    known[1, 0] = known[3, 1] = False
    clip.amodal_known = known
    back = decode_clip(_members(clip))
    np.testing.assert_array_equal(back.amodal_known, known)


def test_amodal_known_shape_is_checked():
    clip = toy_clip(0)
    clip.amodal_known = np.ones((4, 2), bool)
    with pytest.raises(ClipError, match="amodal_known"):
        clip.validate()


def test_real_data_may_be_hidden_by_unannotated_things_but_visible_stays_inside_amodal():
    clip = toy_clip(0)
    clip.visible[clip.visible == 2] = 0  # the bar is not annotated: it hides the square unlabelled
    with pytest.raises(ClipError, match="visible must be 0"):
        clip.validate()
    clip.meta["source"] = {"dataset": "video", "video": "v", "frames": [0, 1, 2, 3, 4]}
    clip.validate()
    clip.amodal[2, 0] = False  # visible == 1 outside amodal 1 is still an error
    with pytest.raises(ClipError, match="outside its amodal mask"):
        clip.validate()


def test_eval_scores_only_known_pairs():
    clip = toy_clip(0)
    pred = clip.amodal.copy()
    everything = score_clip(clip, pred)
    clip.amodal_known[2:, 0] = False
    part = score_clip(clip, pred)
    assert len(everything) == 5 and len(part) == 2  # one target (the bar is an occluder)
    assert not ((part.object == 0) & (part.frame >= 2)).any()


def test_real_video_rgb_is_stored_as_frame_differences_losslessly():
    clip = toy_clip(2)
    clip.rgb[:] = np.random.default_rng(0).integers(0, 256, clip.rgb.shape, dtype=np.uint8)
    raw = _members(clip)
    clip.meta["source"] = {"dataset": "video", "video": "v", "frames": list(range(5))}
    members = _members(clip)
    assert b"delta-t" in members["header.json"] and b"delta-t" not in raw["header.json"]
    np.testing.assert_array_equal(decode_clip(members).rgb, clip.rgb)  # wrap-around mod 256 undone


def test_verify_check_of_imported_clips():
    from savos.data.importers.check import check_imported

    clip = toy_clip(0)
    clip.amodal_flow_fwd = None
    clip.meta["source"] = {"dataset": "video", "video": "v", "frames": [3, 4, 5, 6, 7]}
    clip.meta["flow"] = {"method": "opencv-dis-fine", "exact": False}
    for k, o in enumerate(clip.meta["objects"]):
        o.update(source_id=k, category="object")
    assert check_imported(clip) == []
    clip.meta["source"]["frames"] = [0, 1, 2]
    clip.meta["flow"]["exact"] = True
    del clip.meta["objects"][1]["category"]
    problems = check_imported(clip)
    assert len(problems) == 3 and "frames" in problems[0] and "exact" in problems[1]


def test_savos_kins_drops_occluded_iou_of_exactly_one():
    clip = toy_clip(0)
    pred = clip.amodal.copy()  # perfect: occluded IoU is exactly 1 wherever defined
    savos = score_clip(clip, pred, "savos")
    kins = score_clip(clip, pred, "savos-kins")
    np.testing.assert_array_equal(savos.iou_occ, kins.iou_occ)
    assert savos.occ_valid.all() and not kins.occ_valid.any()
    pred[:, 0] = False  # nothing predicted behind the bar: occluded IoU 0, kept
    assert score_clip(clip, pred, "savos-kins").occ_valid.all()
