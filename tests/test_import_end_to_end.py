"""Imported real data through the whole tool chain: a tiny `savos train`, `savos predict`, `savos eval`
(savos protocol on FISHBOWL, savos-kins on KINS-Video-Car, scoring only known pairs) and
`savos-gen preview` of a user's video."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from savos.cli.gen import main as gen
from savos.cli.main import main as savos
from savos.data.importers.samples import make_fishbowl_raw, make_kins_video_car

pytest.importorskip("cv2")
pytest.importorskip("pycocotools")
TINY = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"


def ok(cli, *args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


def train_predict_eval(tmp_path, data, split, protocol, *sets):
    run = tmp_path / "run"
    ok(savos, "train", TINY, "--set", f"data.root={data}", "--set", f"data.val_split={split}", "--set",
       "train.threads=1", *sets, "--out", run, "--quiet")
    ok(savos, "predict", run, data, "--split", split, "--out", tmp_path / "pred", "--quiet")
    r = ok(savos, "eval", tmp_path / "pred", data, "--split", split, "--protocol", protocol, "--quiet")
    return json.loads((tmp_path / "pred" / f"metrics_{protocol}.json").read_text()), r.output


def test_fishbowl_import_train_predict_eval(tmp_path):
    for split, seed in (("train", 0), ("val", 1), ("test", 2)):
        make_fishbowl_raw(tmp_path / "src", split=split, T=6, seed=seed)
    ok(gen, "import", "fishbowl", tmp_path / "src", "--out", tmp_path / "ds", "-q", "--workers", "1")
    # the paper's wide patches (64 x 128, here 16 x 32), through training, prediction and paste-back
    doc, _ = train_predict_eval(tmp_path, tmp_path / "ds", "test", "savos", "--set", "data.patch=[16, 32]")
    assert doc["summary"]["num_clips"] == 2 and doc["summary"]["pairs_full"] > 0


def test_kins_import_scores_only_known_pairs(tmp_path):
    make_kins_video_car(tmp_path)
    ok(gen, "import", "kins-video-car", "--kins", tmp_path / "kins", "--kitti-raw", tmp_path / "raw",
       "--tracks", tmp_path / "tracks", "--out", tmp_path / "ds", "-q", "--workers", "1")
    import gzip

    doc, _ = train_predict_eval(tmp_path, tmp_path / "ds", "train", "savos-kins")
    rows = gzip.decompress((tmp_path / "pred" / "pairs_savos-kins.csv.gz").read_bytes()).decode().splitlines()
    frames = {int(r.split(",")[2]) for r in rows[1:]}
    assert frames <= {1, 3}  # only the frames KINS annotates are scored
    assert doc["protocol"] == "savos-kins"


def test_user_video_train_predict_preview(tmp_path):
    import numpy as np
    from PIL import Image

    from savos.data.importers.samples import fish_scene, write_mp4

    rgb, _, visible = fish_scene(np.random.default_rng(4), 6, 24, 32, 2)
    write_mp4(tmp_path / "mine.mp4", rgb)
    (tmp_path / "masks").mkdir()
    for t in range(6):
        lab = (visible[t, 0] * 1 + visible[t, 1] * 2).astype(np.uint8)
        Image.fromarray(lab).save(tmp_path / "masks" / f"{t:05d}.png")
    ok(gen, "import", "video", tmp_path / "mine.mp4", "--masks", tmp_path / "masks", "--out", tmp_path / "ds",
       "-q", "--workers", "1")
    run = tmp_path / "run"  # self-supervised: it may train on the user's own video
    ok(savos, "train", TINY, "--set", f"data.root={tmp_path / 'ds'}", "--set", "data.train_split=test",
       "--set", "data.val_split=test", "--set", "train.threads=1", "--out", run, "--quiet")
    ok(savos, "predict", run, tmp_path / "ds", "--split", "test", "--out", tmp_path / "pred", "--quiet")
    oracle = Path(__file__).parent.parent / "recipes" / "gum-oracle-unet.yaml"  # needs amodal truth: refused
    r = CliRunner().invoke(savos, ["train", str(oracle), "--set", f"data.root={tmp_path / 'ds'}", "--set",
                                   "data.train_split=test", "--out", str(tmp_path / "oracle"), "--quiet"])
    assert r.exit_code == 2 and "no clip has amodal ground truth" in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    ok(gen, "preview", tmp_path / "ds", "--split", "test", "--pred", tmp_path / "pred", "--out",
       tmp_path / "pred.gif")
    assert (tmp_path / "pred.gif").stat().st_size > 0
    r = ok(savos, "eval", tmp_path / "pred", tmp_path / "ds", "--split", "test", "--quiet")
    assert json.loads((tmp_path / "pred" / "metrics_savos.json").read_text())["summary"]["pairs_full"] == 0
    assert "nan" in r.output  # nothing is known, so nothing is scored (and nothing fails)
    ok(savos, "report", tmp_path / "pred", "--data", tmp_path / "ds", "--split", "test", "--clips", 1,
       "--out", tmp_path / "report")
    from savos.report.report import NO_TRUTH_COLOR, SCALE

    (gif,) = (tmp_path / "report" / "clips").glob("*.gif")
    frame = np.asarray(Image.open(gif).convert("RGB"))[14:]  # below the panel names
    w = 32 * SCALE  # panels: input | visible | ground truth | prediction
    words = (frame == NO_TRUTH_COLOR).all(-1)
    assert words[:, 2 * w : 3 * w].any() and not words[:, 3 * w :].any()
