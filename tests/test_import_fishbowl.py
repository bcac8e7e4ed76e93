"""`savos-gen import fishbowl` on fixtures of both public layouts: masks identical after import, the
drop rule, windows and resizing, determinism, and one-line errors for malformed inputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from savos.cli.gen import main
from savos.data import open_dataset
from savos.data.importers.samples import make_fishbowl_raw, make_fishbowl_wds, npy_gz, pack_bits

pytest.importorskip("cv2")
pytest.importorskip("pycocotools")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def import_ok(*args):
    r = run("import", *args, "-q", "--workers", "1")
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("fishbowl_raw")
    truth = make_fishbowl_raw(root)
    return root, truth


def test_raw_layout_round_trip(raw, tmp_path):
    src, truth = raw
    import_ok("fishbowl", src, "--out", tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds", "train")
    assert len(ds) == 2
    for clip, (vid, (amodal, visible, ids, types)) in zip(ds, sorted(truth.items()), strict=True):
        keep = [0, 1]  # object 2 is the 3x3 fish: <= 100 visible pixels, dropped
        assert clip.num_objects == 2
        for j, k in enumerate(keep):
            np.testing.assert_array_equal(clip.visible == j + 1, visible[:, k])
            np.testing.assert_array_equal(clip.amodal[:, j], amodal[:, k])
            o = clip.meta["objects"][j]
            assert o["source_id"] == ids[k] and o["category"] == types[k] and o["amodal_added"] == 0
        assert clip.amodal_known.all()
        assert clip.meta["source"] == {"dataset": "fishbowl", "video": f"train/{vid}", "frames": [0, 1, 2, 3]}
        assert clip.meta["flow"]["method"] == "opencv-dis-fine" and clip.meta["flow"]["exact"] is False
        assert clip.amodal_flow_fwd is None and clip.flow_fwd.shape == (3, 24, 32, 2)
    r = run("verify", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 0, r.output


def test_windows_resize_and_determinism(raw, tmp_path):
    src, _ = raw
    args = ("fishbowl", src, "--window", "2", "--stride", "1", "--size", "12x16", "--max-videos", "1")
    import_ok(*args, "--out", tmp_path / "a")
    import_ok(*args, "--out", tmp_path / "b")
    ds = open_dataset(tmp_path / "a", "train")
    assert len(ds) == 3  # windows [0,2) [1,3) [2,4) of one video
    assert ds[2].rgb.shape == (2, 12, 16, 3) and ds[2].meta["source"]["frames"] == [2, 3]
    a = json.loads((tmp_path / "a" / "dataset.json").read_text())
    b = json.loads((tmp_path / "b" / "dataset.json").read_text())
    assert a["splits"] == b["splits"]  # same shard sha256: same bytes


def test_webdataset_layout_with_widening_dtype(tmp_path):
    truth = make_fishbowl_wds(tmp_path / "src")
    import_ok("fishbowl", tmp_path / "src", "--out", tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds", "train")
    for clip, (_, (amodal, visible)) in zip(ds, sorted(truth.items()), strict=True):
        kept = [k for k in range(amodal.shape[1]) if visible[:, k].sum() > 100]
        assert [o["source_id"] for o in clip.meta["objects"]] == [k + 1 for k in kept]  # mask channels
        for j, k in enumerate(kept):
            np.testing.assert_array_equal(clip.visible == j + 1, visible[:, k])
            np.testing.assert_array_equal(clip.amodal[:, j], amodal[:, k])
    assert ds[1].meta["objects"][-1]["source_id"] > 8  # a channel only uint16 holds


def test_missing_and_wrong_size_rle(raw, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(raw[0], src)
    (src / "train_data/train/00001/video.mp4").unlink()
    r = run("import", "fishbowl", src, "--out", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 2 and "00001/video.mp4: video file is missing" in r.output
    assert len(r.output.strip().splitlines()) == 1

    shutil.rmtree(src)
    shutil.copytree(raw[0], src)
    path = src / "train_data/train/00000/objects.json"
    objects = json.loads(path.read_text())
    objects[0]["masks"][1]["size"] = [32, 24]
    path.write_text(json.dumps(objects))
    r = run("import", "fishbowl", src, "--out", tmp_path / "ds2", "-q", "--workers", "1")
    assert r.exit_code == 2 and "objects.json: object id" in r.output and "swapped" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_frame_count_mismatch_and_truncated_mp4(raw, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(raw[0], src)
    path = next((src / "train_data/train_objects").glob("00000_object*")) / "objects.json"
    full = json.loads(path.read_text())
    full[0]["masks"] = full[0]["masks"][:3]
    path.write_text(json.dumps(full))
    r = run("import", "fishbowl", src, "--out", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 2 and "frame-count mismatch" in r.output and str(path) in r.output

    shutil.rmtree(src)
    shutil.copytree(raw[0], src)
    video = src / "train_data/train/00000/video.mp4"
    video.write_bytes(video.read_bytes()[: len(video.read_bytes()) // 2])
    r = run("import", "fishbowl", src, "--out", tmp_path / "ds2", "-q", "--workers", "1")
    assert r.exit_code == 2 and str(video) in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_channel_beyond_bit_width(tmp_path):
    make_fishbowl_wds(tmp_path / "src", Ks=(9,), vm_dtype=np.uint16)
    # fm_mask written as uint16 too: rewrite it as uint8, which cannot hold channel 9
    import io  # noqa: E401
    import tarfile
    shard = tmp_path / "src/train/shard-000000.tar"
    with tarfile.open(shard) as tar:
        data = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    amodal = np.zeros((4, 7, 24, 32), bool)
    data["00000.fm_mask.npy.gz"] = npy_gz(pack_bits(amodal, np.uint8))
    with tarfile.open(shard, "w") as tar:
        for name, blob in sorted(data.items()):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    r = run("import", "fishbowl", tmp_path / "src", "--out", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 2 and "beyond the 8-bit width" in r.output, r.output


def test_interrupted_import_resumes_to_the_same_bytes(raw, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(raw[0], src)
    clean = tmp_path / "clean"
    import_ok("fishbowl", raw[0], "--shard-size", "1", "--out", clean)
    video = src / "train_data/train/00001/video.mp4"
    kept = video.read_bytes()
    video.unlink()  # the second shard fails: the first stays, the dataset is unfinished
    r = run("import", "fishbowl", src, "--shard-size", "1", "--out", tmp_path / "ds", "-q", "--workers", "1")
    assert r.exit_code == 2 and (tmp_path / "ds/train/shard-000000.tar").is_file()
    assert not (tmp_path / "ds/dataset.json").exists()
    first = (tmp_path / "ds/train/shard-000000.tar").stat().st_mtime_ns
    video.write_bytes(kept)
    import_ok("fishbowl", src, "--shard-size", "1", "--out", tmp_path / "ds")
    assert (tmp_path / "ds/train/shard-000000.tar").stat().st_mtime_ns == first  # not made again
    a = json.loads((clean / "dataset.json").read_text())["splits"]
    b = json.loads((tmp_path / "ds/dataset.json").read_text())["splits"]
    assert a == b


def test_flownet2_flo_files_are_read_when_present(raw, tmp_path):
    from savos.data.importers.samples import write_flo

    src = tmp_path / "src"
    shutil.copytree(raw[0], src)
    rng = np.random.default_rng(0)
    flows = {}
    for name in ("train_flow", "train_flow_reverse"):
        for vid in ("00000", "00001"):
            d = src / name / "inference/run.epoch-0-flow-field" / vid
            d.mkdir(parents=True)
            f = (rng.normal(size=(3, 24, 32, 2)) * 2).astype(np.float32)
            for t in range(3):
                write_flo(d / f"{t:06d}.flo", f[t])
            flows[name, vid] = f
    import_ok("fishbowl", src, "--out", tmp_path / "ds")
    clip = open_dataset(tmp_path / "ds", "train")[1]
    assert clip.meta["flow"]["method"].startswith("flownet2")
    np.testing.assert_allclose(clip.flow_fwd, flows["train_flow", "00001"], atol=1 / 16 + 1e-6)
    np.testing.assert_allclose(clip.flow_bwd, flows["train_flow_reverse", "00001"], atol=1 / 16 + 1e-6)
    bad = src / "train_flow/inference/run.epoch-0-flow-field/00000/000001.flo"
    bad.write_bytes(b"JUNK" + bad.read_bytes()[4:])  # the magic is "PIEH"
    r = run("import", "fishbowl", src, "--out", tmp_path / "ds2", "-q", "--workers", "1")
    assert r.exit_code == 2 and f"{bad}: not a Middlebury .flo file" in r.output


def test_unseen_type_split(tmp_path):
    for split, seed in (("train", 0), ("test", 1)):
        make_fishbowl_raw(tmp_path / "src", split=split, videos=3, seed=seed)
    import_ok("fishbowl", tmp_path / "src", "--unseen-type", "MediaFishA", "--out", tmp_path / "ds")
    for split in ("train", "test"):
        for clip in open_dataset(tmp_path / "ds", split):
            for o in clip.meta["objects"]:
                unseen = o["category"] == "MediumFishA"
                assert (o["role"] == "target") == (unseen == (split == "test"))
    r = run("import", "fishbowl", tmp_path / "src", "--unseen-type", "GoldFish", "--out", tmp_path / "x")
    assert r.exit_code == 2 and "--unseen-type 'GoldFish'" in r.output


@pytest.mark.parametrize("args, message", [
    (["--size", "12"], "--size '12': expected HxW"),
    (["--size", "4x4"], "--size: must be >= 8 px"),
    (["--window", "1"], "--window: must be >= 2 frames"),
    (["--max-videos", "0"], "--max-videos: must be >= 1"),
    (["--splits", "train,nope"], "no split 'nope'"),
])
def test_bad_options_are_one_line(raw, tmp_path, args, message):
    r = run("import", "fishbowl", raw[0], "--out", tmp_path / "ds", *args, "-q")
    assert r.exit_code == 2 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_neither_layout_is_one_line(tmp_path):
    (tmp_path / "src").mkdir()
    r = run("import", "fishbowl", tmp_path / "src", "--out", tmp_path / "ds")
    assert r.exit_code == 2 and "neither FISHBOWL layout found" in r.output
    r = run("import", "fishbowl", tmp_path / "missing", "--out", tmp_path / "ds")
    assert r.exit_code == 2 and "FISHBOWL folder is missing" in r.output
