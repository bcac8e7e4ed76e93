"""`savos-gen import kins-video-car` on a fixture: MD5 matching, car-only tracks, KINS truth from both
JSON versions on the matched frames only, and `savos eval --protocol savos-kins`."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from savos.cli.gen import main
from savos.data import open_dataset
from savos.data.importers.samples import make_kins_video_car

pytest.importorskip("cv2")
pytest.importorskip("pycocotools")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools under numpy 2
def test_kins_video_car(tmp_path):
    from pycocotools import mask as cocomask

    truth = make_kins_video_car(tmp_path)
    r = CliRunner().invoke(main, ["import", "kins-video-car", "--kins", str(tmp_path / "kins"), "--kitti-raw",
                                  str(tmp_path / "raw"), "--tracks", str(tmp_path / "tracks"), "--out",
                                  str(tmp_path / "ds"), "-q", "--workers", "1"])
    assert r.exit_code == 0, r.output
    clip = open_dataset(tmp_path / "ds", "train")[0]
    assert clip.meta["source"]["video"] == "2011_09_26/2011_09_26_drive_0001_sync"
    assert [o["category"] for o in clip.meta["objects"]] == ["car", "car"]  # the pedestrian is dropped
    assert [o["source_id"] for o in clip.meta["objects"]] == [1000, 1001]
    expect = np.zeros((5, 2), bool)
    expect[[1, 3]] = True  # the two frames KINS annotates (one per JSON version)
    np.testing.assert_array_equal(clip.amodal_known, expect)
    H, W = truth["size"]
    for t in (1, 3):
        for k in range(2):
            np.testing.assert_array_equal(clip.visible[t] == k + 1, truth["visible"][t, k])
            rle = cocomask.merge(cocomask.frPyObjects([truth["polys"][t, k]], H, W))
            gt = cocomask.decode(rle).astype(bool) | truth["visible"][t, k]
            np.testing.assert_array_equal(clip.amodal[t, k], gt)
    r = CliRunner().invoke(main, ["verify", str(tmp_path / "ds"), "-q", "--workers", "1"])
    assert r.exit_code == 0 and "OK" in r.output, r.output


def test_kins_missing_image_is_one_line(tmp_path):
    make_kins_video_car(tmp_path)
    (tmp_path / "kins/training/image_2/000007.png").unlink()
    r = CliRunner().invoke(main, ["import", "kins-video-car", "--kins", str(tmp_path / "kins"), "--kitti-raw",
                                  str(tmp_path / "raw"), "--tracks", str(tmp_path / "tracks"), "--out",
                                  str(tmp_path / "ds"), "-q", "--workers", "1"])
    assert r.exit_code == 2 and "000007.png is in neither" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_kins_windows_keep_truth_on_the_right_frames(tmp_path):
    make_kins_video_car(tmp_path)
    args = ["import", "kins-video-car", "--kins", tmp_path / "kins", "--kitti-raw", tmp_path / "raw",
            "--tracks", tmp_path / "tracks", "--window", 2, "--stride", 1, "--out", tmp_path / "ds", "-q",
            "--workers", 1]
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    ds = open_dataset(tmp_path / "ds", "train")
    assert len(ds) == 4
    for clip in ds:
        frames = clip.meta["source"]["frames"]
        for t, f in enumerate(frames):
            assert clip.amodal_known[t].all() == (f in (1, 3)), (frames, clip.amodal_known)
