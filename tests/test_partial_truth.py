"""The Clip contract for partly annotated (real) data: amodal_known on disk, opacity relaxed for
imported clips, and scoring only of known pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from savos.data.clip import ClipError
from savos.data.codec import decode_clip, encode_clip
from savos.errors import SavosError
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
    from savos.data.importers.verify_imported import check_imported

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


# --- training and reporting on partly annotated data: amodal is read only where it is known ---

def _no_truth(index: int, split: str):
    clip = toy_clip(index, split)
    clip.amodal_known[:] = False  # a user's video: visible masks only
    return clip


def _partly_known_batch():
    """Two toy tracks on non-square (8, 16) patches; the target's amodal is unknown at 3 of 10 frames."""
    from savos.tracks import collate, crop_track, make_tracks

    clips = [toy_clip(i) for i in range(2)]
    clips[0].amodal_known[1:3, 0] = False
    clips[1].amodal_known[4, 0] = False
    clips[1].amodal_known[:, 1] = False  # the bar is not a target: no effect
    batch = collate([crop_track(c, tr) for c in clips for tr in make_tracks(c, (8, 16), 1.5)])
    assert batch.known.tolist() == [[True, False, False, True, True], [True] * 4 + [False]]
    return batch


def _poisoned(batch, where):
    """The batch with amodal replaced by garbage (NaN, then huge values) at the (B, T) pairs ``where``."""
    import dataclasses

    import torch

    garbage = torch.full_like(batch.amodal, float("nan"))
    garbage[..., ::2] = 1e6
    amodal = torch.where(where[:, :, None, None, None], garbage, batch.amodal)
    return dataclasses.replace(batch, amodal=amodal)


def _models():
    from savos.models.savos import build_savos
    from savos.models.unet import build_frame_completer
    from savos.training.image_ssl import ImageSSL

    small = dict(patch=(8, 16), enc_widths=(4, 8), feat=8, hidden=8, completer_widths=(4, 8),
                 motion_widths=(4, 8))
    return {"savos": lambda: build_savos(**small), "oracle-savos": lambda: build_savos(**small),
            "image-ssl": lambda: ImageSSL(build_frame_completer((8, 16), (4, 8)), 0.8, 5.0, 0.25, True),
            "oracle-unet": lambda: build_frame_completer((8, 16), (4, 8))}


def _loss_and_grads(method: str, batch):
    import torch

    from savos.config import LossConfig
    from savos.training.methods import METHODS

    torch.manual_seed(0)
    model = _models()[method]()
    losses, _ = METHODS[method].step(model, batch, LossConfig())
    losses["total"].backward()
    return losses["total"].detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("method", ["savos", "image-ssl", "oracle-unet", "oracle-savos"])
def test_no_training_loss_reads_amodal_where_it_is_unknown(method):
    import torch

    batch = _partly_known_batch()
    loss, grads = _loss_and_grads(method, batch)
    bad_loss, bad_grads = _loss_and_grads(method, _poisoned(batch, ~batch.known))
    assert torch.isfinite(loss) and torch.equal(loss, bad_loss)
    assert len(grads) == len(bad_grads) > 0
    assert all(torch.equal(a, b) for a, b in zip(grads, bad_grads, strict=True))
    # where it is known: the self-supervised methods still ignore it; the oracles learn from it
    all_loss, _ = _loss_and_grads(method, _poisoned(batch, torch.ones_like(batch.known)))
    assert torch.equal(all_loss, loss) == (method in ("savos", "image-ssl"))


def test_oracle_loss_is_the_mean_over_known_pairs():
    import dataclasses

    import torch

    batch = _partly_known_batch()
    loss, _ = _loss_and_grads("oracle-unet", batch)
    only_known = dataclasses.replace(batch, valid=batch.valid & batch.known, known=None)
    torch.testing.assert_close(loss, _loss_and_grads("oracle-unet", only_known)[0])


def test_val_crop_iou_and_picture_use_only_known_pairs():
    import torch

    from savos.training.validation import crop_iou, track_image

    batch = _partly_known_batch()
    probs = batch.amodal.clone()  # perfect where known
    zeroed = _poisoned(batch, torch.zeros_like(batch.known))
    zeroed.amodal[~batch.known] = 0.0  # unknown pairs' "truth": empty (a perfect prediction would score 0)
    for b in (batch, zeroed):
        iou = crop_iou(probs, b)
        assert iou["full"] == (7.0, 7)  # the 7 known pairs, each IoU 1
    image = track_image(batch.visible[0], probs[0], batch.amodal[0], known=batch.known[0])
    P, Q = batch.visible.shape[-2:]
    gt_row = image[2 * P + 2 :]  # (P, n Q): frames 1 and 2 are unknown: uniform grey
    assert (gt_row[:, Q : 3 * Q] == 0.5).all() and (gt_row[:, :Q] != 0.5).any()


def test_oracle_training_refuses_a_split_without_truth(tmp_path):
    from click.testing import CliRunner

    from savos.cli.main import main
    from savos.data import open_dataset
    from savos.data.writer import write_dataset
    from savos.training.oracle import check_truth

    root = tmp_path / "mine"
    write_dataset(root, _no_truth, {"train": 2, "val": 1}, {"generator": "toy", "version": "0", "seed": 0,
                  "config": {}, "amodal_flow": True}, shard_size=2, workers=1, progress=False)
    recipe = Path(__file__).parent.parent / "recipes" / "gum-oracle-unet.yaml"
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(recipe), "--out", str(run), "-q", "--set", f"data.root={root}",
                                  "--set", "data.patch=[16, 32]", "--set", "data.window=4"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"{root}: split 'train': no clip has amodal ground truth" in r.output and "image-ssl" in r.output
    assert not (run / "config.yaml").exists() and not (run / "last.pt").exists()
    clips = list(open_dataset(root, "train"))
    clips[1].amodal_known[3, 0] = True  # one known pair is enough
    check_truth(clips, "x", "oracle-unet")
    clips[1].amodal_known[:, 0], clips[1].amodal_known[:, 1] = False, True  # a known non-target: not enough
    with pytest.raises(SavosError, match="no clip has amodal ground truth"):
        check_truth(clips, "x", "oracle-unet")


def test_report_ground_truth_panel_says_no_amodal_truth():
    from savos.data.viz import label_colors
    from savos.report.report import NO_TRUTH_COLOR, SCALE, mask_panel

    clip = toy_clip(0)
    vis, own = label_colors(clip.visible[2]), clip.visible[2] == 1
    shown = mask_panel(vis, clip.amodal[2, 0], own, known=True)
    hidden = mask_panel(vis, clip.amodal[2, 0], own, known=False)
    assert shown.shape == hidden.shape == (SCALE * 12, SCALE * 16, 3)
    white = (shown == 255).all(-1)
    assert white.sum() == SCALE**2 * (clip.amodal[2, 0] & ~own).sum()  # the hidden part of the mask
    assert not (hidden == 255).all(-1).any() and not (hidden == (120, 200, 255)).all(-1).any()
    assert (hidden == NO_TRUTH_COLOR).all(-1).any()  # the words
