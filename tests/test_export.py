"""`savos-gen export fishbowl|kins`: the exports read back through `savos-gen import` with the same masks
(exactly) and frames (FISHBOWL: exactly what H.264 returns; KINS: exactly), typed objects get stable type
ids, the encoders are the decoders' exact inverses, the export folder is owned, the bytes are
deterministic, and user mistakes are one line."""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tiny import TINY_GUM, tiny_gum

from generators.chewing_gum import ChewingGumConfig, generate_clip
from generators.scenes.config import SceneConfig
from generators.scenes.dataset import write_scene_dataset
from generators.scenes.types import FISH_TYPES
from savos.cli.gen import main
from savos.data import fingerprint, open_dataset
from savos.data.importers.masks import decode_rle, encode_rle, mask_polygons, rasterize_polygons
from savos.data.importers.media import h264_round_trip
from savos.data.writer import write_dataset

pytest.importorskip("cv2")
cocomask = pytest.importorskip("pycocotools.mask")

FAST = ("--workers", "1", "--flow", "dis-fast")
REPO = Path(__file__).resolve().parents[1]
RGB_MAE = 12.0  # mean |error| of H.264 (CRF 25, yuv420p) on 32x32 flat polygons, of 255; measured ~9


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(*args):
    r = run(*args, "-q")
    assert r.exit_code == 0, r.output
    return r


def error_line(*args) -> str:
    r = run(*args, "-q")
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and r.output.count("\n") == 1, r.output
    assert "Traceback" not in r.output
    return r.output


@pytest.fixture(scope="module")
def gum(tmp_path_factory):
    return tiny_gum(tmp_path_factory.mktemp("export") / "gum", {"train": 2, "test": 1})


def clips_of(root):
    return {c.key: c for s in ("train", "test") for c in open_dataset(root, s)}


def test_rle_and_polygons_are_exact_inverses():
    rng = np.random.default_rng(0)
    for i in range(60):
        H, W = (int(x) for x in rng.integers(1, 30, 2))
        m = rng.random((H, W)) < rng.random()
        if i % 5 == 0:
            m[:] = i % 10 == 0  # empty and full
        rle = encode_rle(m)
        assert rle["counts"] == cocomask.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode()
        np.testing.assert_array_equal(decode_rle(rle, (H, W), "test"), m)
        np.testing.assert_array_equal(rasterize_polygons(mask_polygons(m), (H, W), "test"), m)


def test_fishbowl_round_trip(gum, tmp_path):
    ok("export", "fishbowl", gum, "--out", tmp_path / "fb")
    vid = tmp_path / "fb" / "train_data" / "train" / "000000"
    objects = json.loads((vid / "objects.json").read_text())
    assert [set(o) - {"role"} for o in objects] == [{"id", "masks"}] * 3  # untyped: no type_id / type_name
    amodal = json.loads((tmp_path / "fb/train_data/train_objects/000000_object1/objects.json").read_bytes())
    assert len(amodal) == 1 and amodal[0]["id"] == 1 and len(amodal[0]["masks"]) == 8
    manifest = json.loads((tmp_path / "fb" / "export.json").read_text())
    assert manifest["source"]["fingerprint"] == fingerprint(gum)
    assert manifest["splits"] == {"train": 2, "test": 1}
    assert sorted(manifest["options"]["splits"]) == ["test", "train"] and manifest["savos_version"]
    assert json.loads((tmp_path / "fb" / "types.json").read_text()) == {"type_ids": {}}

    ok("import", "fishbowl", tmp_path / "fb", "--out", tmp_path / "back", *FAST)
    source = clips_of(gum)
    for split in ("train", "test"):
        back = open_dataset(tmp_path / "back", split)
        assert len(back) == len(open_dataset(gum, split))
        for clip in back:
            src = source["clip_" + clip.meta["source"]["video"].split("/")[1]]
            np.testing.assert_array_equal(clip.visible, src.visible)
            np.testing.assert_array_equal(clip.amodal, src.amodal)
            assert clip.amodal_known.all()
            assert [o["source_id"] for o in clip.meta["objects"]] == list(range(src.num_objects))
            np.testing.assert_array_equal(clip.rgb, h264_round_trip(src.rgb))  # the codec's frames, exactly
            assert np.abs(clip.rgb.astype(int) - src.rgb).mean() < RGB_MAE


def _typed(root):
    fish = {"count": [1, 2], "families": list(FISH_TYPES), "size": [8.0, 10.0], "upright": True,
            "motion": {"tail": [0.1, 0.15], "tail_period": [5.0, 7.0], "rotation": [0.0, 0.5]}}
    config = SceneConfig.from_dict({"frame": {"height": 40, "width": 48, "frames": 6}, "targets": fish,
                                    "occluders": {**fish, "count": [1, 1]},
                                    "occlusion": {"rate": [0.0, 0.95]}, "max_attempts": 2000})
    write_scene_dataset(config, root, n=3, splits={"train": 3}, workers=1, shard_size=2, progress=False)
    return root


def test_fishbowl_type_ids_are_stable_and_read_back(tmp_path):
    data = _typed(tmp_path / "fish")
    ok("export", "fishbowl", data, "--out", tmp_path / "fb")
    ids = json.loads((tmp_path / "fb" / "types.json").read_text())["type_ids"]
    names = sorted({o["type"] for c in open_dataset(data, "train") for o in c.meta["objects"]})
    assert ids == {n: i for i, n in enumerate(names)}
    ok("import", "fishbowl", tmp_path / "fb", "--out", tmp_path / "back", *FAST)
    for src, clip in zip(open_dataset(data, "train"), open_dataset(tmp_path / "back", "train"), strict=True):
        kept = [o["source_id"] for o in clip.meta["objects"]]  # objects with > 100 visible pixels
        for j, k in enumerate(kept):
            assert clip.meta["objects"][j]["category"] == src.meta["objects"][k]["type"]
            assert clip.meta["objects"][j]["type_id"] == ids[src.meta["objects"][k]["type"]]
            np.testing.assert_array_equal(clip.visible == j + 1, src.visible == k + 1)
            np.testing.assert_array_equal(clip.amodal[:, j], src.amodal[:, k])
    # re-exporting the import keeps its fish ids and type ids
    ok("export", "fishbowl", tmp_path / "back", "--out", tmp_path / "again")
    assert json.loads((tmp_path / "again" / "types.json").read_text())["type_ids"] == ids


def test_kins_round_trip_and_annotations(gum, tmp_path):
    ok("export", "kins", gum, "--out", tmp_path / "k")
    doc = json.loads((tmp_path / "k" / "kins" / "update_train_2020.json").read_text())
    assert doc["categories"] == [{"id": 4, "name": "car"}] and len(doc["images"]) == 2 * 8
    source = clips_of(gum)
    images = {im["id"]: im for im in doc["images"]}
    for a in doc["annotations"]:
        im = images[a["image_id"]]
        clip = source["clip_" + im["file_name"].split("_")[0]]
        t, k = int(im["file_name"].split("_")[1][:4]), a["track_id"] - 1000
        H, W = clip.size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            full = cocomask.decode(cocomask.merge(cocomask.frPyObjects(a["a_segm"], H, W))).astype(bool)
        np.testing.assert_array_equal(full, clip.amodal[t, k])
        own = clip.visible[t] == k + 1
        np.testing.assert_array_equal(rasterize_polygons(a["i_segm"], (H, W), "t"), own)
        assert a["a_area"] == clip.amodal[t, k].sum() and a["i_area"] == own.sum()
        x, y, w, h = a["bbox"]
        assert a["a_bbox"] == a["bbox"] and clip.amodal[t, k, y:y + h, x:x + w].sum() == a["a_area"]
        assert a["category_id"] == 4

    k = tmp_path / "k"
    ok("import", "kins-video-car", "--kins", k / "kins", "--kitti-raw", k / "raw", "--tracks", k / "tracks",
       "--out", tmp_path / "back", *FAST)
    back = open_dataset(tmp_path / "back", "train")  # 3 drives: all train by the importer's split rule
    assert len(back) == 3
    for clip in back:
        src = source["clip_" + clip.meta["source"]["video"].split("_drive_")[1].removesuffix("_sync")]
        np.testing.assert_array_equal(clip.rgb, src.rgb)  # PNG: lossless
        np.testing.assert_array_equal(clip.visible, src.visible)
        seen = np.stack([src.visible == j + 1 for j in range(src.num_objects)], 1).any(axis=(2, 3))
        np.testing.assert_array_equal(clip.amodal_known, seen)  # truth wherever the object is visible
        np.testing.assert_array_equal(clip.amodal[seen], src.amodal[seen])


def test_same_input_same_bytes(gum, tmp_path):
    for fmt in ("fishbowl", "kins"):
        for side in ("a", "b"):
            ok("export", fmt, gum, "--out", tmp_path / side / fmt)
        files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / fmt).rglob("*")
                       if p.is_file())
        assert any(p.suffix == ".json" for p in files)
        for p in files:
            assert (tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes(), p


def test_the_export_folder_is_owned(gum, tmp_path):
    out = tmp_path / "out"
    ok("export", "fishbowl", gum, "--out", out)
    ok("export", "fishbowl", gum, "--out", out, "--splits", "test")  # replaces what it wrote
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == \
        ["export.json", "test_data", "types.json"]
    ok("export", "kins", gum, "--out", out)  # another export replaces it too
    assert not (out / "test_data").exists() and (out / "kins").is_dir()

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert "notes.txt" in error_line("export", "kins", gum, "--out", mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert "holds a dataset" in error_line("export", "fishbowl", gum, "--out", gum)


def test_user_mistakes_are_one_line(gum, tmp_path):
    out = ("--out", tmp_path / "o")
    assert "no such dataset folder" in error_line("export", "fishbowl", tmp_path / "nope", *out)
    (tmp_path / "empty").mkdir()
    assert "not a finished savos dataset" in error_line("export", "kins", tmp_path / "empty", *out)
    assert "no split 'val'" in error_line("export", "fishbowl", gum, *out, "--splits", "val")
    assert "train and test only" in error_line("export", "kins", gum, *out, "--splits", "val")
    odd = tmp_path / "odd"
    config = ChewingGumConfig.from_dict({**TINY_GUM, "height": 33, "frames": 4})
    write_dataset(odd, partial(generate_clip, config, 0), {"train": 1}, {"generator": "chewing-gum"},
                  shard_size=2, workers=1, progress=False)
    assert "even height and width" in error_line("export", "fishbowl", odd, *out)
    assert not (tmp_path / "o").exists()


def _preset(name, root, n=3):
    import yaml

    config = SceneConfig.from_dict(yaml.safe_load((REPO / "recipes" / "scenes" / f"{name}.yaml").read_text()))
    write_scene_dataset(config, root, n=n, splits={"train": n - 1, "test": 1}, workers=1, shard_size=2,
                        progress=False)
    return root


def test_props_stay_occluders_and_the_unseen_type_takes_the_exports_names(tmp_path):
    data = _preset("fishbowl-sim", tmp_path / "fish")
    roles = {o.get("role") for c in open_dataset(data, "train") for o in c.meta["objects"]}
    assert "occluder" in roles  # rocks and plants on the floor
    ok("export", "fishbowl", data, "--out", tmp_path / "fb")
    ok("import", "fishbowl", tmp_path / "fb", "--out", tmp_path / "back", *FAST)
    for src, clip in zip(open_dataset(data, "train"), open_dataset(tmp_path / "back", "train"), strict=True):
        for j, k in enumerate(o["source_id"] for o in clip.meta["objects"]):
            want = src.meta["objects"][k].get("role", "target")
            assert clip.meta["objects"][j].get("role", "target") == want
    ok("import", "fishbowl", tmp_path / "fb", "--unseen-type", "fish-tuna", "--out", tmp_path / "unseen",
       *FAST)
    for split, held_out in (("train", False), ("test", True)):
        pairs = zip(open_dataset(data, split), open_dataset(tmp_path / "unseen", split), strict=True)
        for src, clip in pairs:
            for o in clip.meta["objects"]:
                was = src.meta["objects"][o["source_id"]].get("role", "target")
                # a target stays one where its type is the held-out one exactly in val and test; a prop
                # or an occluding fish stays an occluder
                held = (o["category"] == "fish-tuna") == held_out
                assert (o["role"] == "target") == (was == "target" and held), (split, o, was)
    assert "fish-tuna" in error_line("import", "fishbowl", tmp_path / "fb", "--unseen-type", "fish-shark",
                                     "--out", tmp_path / "x")


def test_car_types_are_kins_cars_with_tracks(tmp_path):
    data = _preset("parked-cars", tmp_path / "cars")
    ok("export", "kins", data, "--out", tmp_path / "k")
    doc = json.loads((tmp_path / "k" / "kins" / "update_train_2020.json").read_text())
    assert {"id": 4, "name": "car"} in doc["categories"]
    assert all(not c["name"].startswith("car-") for c in doc["categories"])  # car-hatchback is a car
    assert any(a["category_id"] == 4 for a in doc["annotations"])
    assert list((tmp_path / "k" / "tracks").glob("*.txt"))
