"""`savos eval` and `savos baseline` on tiny datasets: library calls, mismatches, and the real CLI."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_metrics import scene

from savos.data import fingerprint, open_dataset
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.evaluation.baselines import run_baseline
from savos.evaluation.evaluate import evaluate, format_table
from savos.evaluation.predictions import open_predictions, write_prediction, write_prediction_info

SPLITS = {"train": 1, "test": 3}
DESC = {"generator": "hand", "version": "0", "seed": 0, "config": {}, "amodal_flow": False}


def make_clip(index: int, split: str):
    """A target rectangle moving right behind a vertical bar, plus a second target that is never
    occluded; types from meta "type"."""
    T, H, W = 5, 16, 20
    rect = [(3, 10, 1 + t + index % 2, 12 + t + index % 2) for t in range(T)]
    free = [(12, 15, 2, 6)] * T
    bar = [(0, 11, 5, 8)] * T
    return scene([rect, free, bar], T, H, W, roles=["target", "target", "occluder"],
                 types=["rect", "small", None], index=index, split=split)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "hand"
    write_dataset(root, make_clip, SPLITS, DESC, shard_size=2, workers=1, progress=False)
    return root


def _perfect(data: Path, out: Path, split: str = "test") -> Path:
    ds = open_dataset(data, split)
    for clip in ds:
        predicted = np.zeros(clip.num_objects, bool)
        predicted[clip.target_ids()] = True
        write_prediction(out, clip.key, clip.amodal & predicted[None, :, None, None], predicted,
                         fingerprint(data))
    write_prediction_info(out, {"method": "oracle", "split": split, "num_clips": len(ds),
                                "dataset_id": fingerprint(data)})
    return out


def test_perfect_predictions_score_one_and_files_are_written(data, tmp_path):
    pred = _perfect(data, tmp_path / "oracle")
    result = evaluate(pred, data, "test", "savos", progress=False)
    s = result.summary
    assert s["miou_full"] == 1.0 and s["miou_occ"] == 1.0 and s["num_clips"] == 3
    # rect: frames 1-3 of 3 clips (rate 7*3/(7*11) = 0.27); "small" is never occluded: filtered out.
    assert s["pairs_full"] == 9
    assert {r["type"]: r["pairs_full"] for r in result.by_type} == {"rect": 9, "small": 0}
    assert [p.name for p in result.files] == ["metrics_savos.json", "metrics_savos.csv", "pairs_savos.csv.gz"]
    doc = json.loads((pred / "metrics_savos.json").read_text())
    assert doc["method"] == "oracle" and doc["split"] == "test" and doc["summary"]["miou_occ"] == 1.0
    rows = list(csv.DictReader((pred / "metrics_savos.csv").open()))
    assert rows[0]["section"] == "summary" and float(rows[0]["miou_full"]) == 1.0
    assert {r["section"] for r in rows} == {"summary", "bucket", "type"}
    pairs = list(csv.DictReader(gzip.open(pred / "pairs_savos.csv.gz", "rt")))
    assert len(pairs) == 30 and pairs[0]["clip"] == "clip_000001"  # 3 clips x 2 targets x 5 frames
    assert "oracle" in format_table(result) and "1.0000" in format_table(result)

    out = tmp_path / "elsewhere"
    result = evaluate(pred, data, "test", "eoras", out_dir=out, progress=False)
    # eoras: I / (U + 1e-6) in float32 is exactly 1 only for unions of 32 px or more ("small" has 12)
    assert result.summary["miou_full"] == pytest.approx(1.0, abs=1e-6)
    assert (out / "metrics_eoras.json").is_file()


def test_baselines_write_the_prediction_format(data, tmp_path):
    out = run_baseline("visible", data, "test", tmp_path / "vis", progress=False)
    preds = open_predictions(out)
    assert preds.keys() == ["clip_000001", "clip_000002", "clip_000003"]
    assert (preds.info["method"], preds.info["split"], preds.info["num_objects"]) == ("visible", "test", 6)
    amodal, predicted = preds.load("clip_000002")
    clip = open_dataset(data, "test")[1]
    assert predicted.tolist() == [True, True, False]
    assert np.array_equal(amodal[:, 0], clip.visible == 1) and not amodal[:, 2].any()
    s = evaluate(out, data, "test", progress=False).summary
    assert s["miou_occ"] < 1e-6 and 0.5 < s["miou_full"] < 1.0
    with pytest.raises(SavosError, match="--overwrite"):
        run_baseline("visible", data, "test", out, progress=False)
    run_baseline("convex", data, "test", out, overwrite=True, progress=False)
    assert open_predictions(out).info["method"] == "convex"
    circle = run_baseline("circle", data, "test", tmp_path / "circle", progress=False)
    amodal, predicted = open_predictions(circle).load("clip_000002")
    own, others = clip.visible == 1, clip.visible > 1
    assert predicted.tolist() == [True, True, False] and open_predictions(circle).info["method"] == "circle"
    assert np.array_equal(amodal[:, 0] & ~others, own)  # own visible kept, completed only behind others


def test_mismatches_are_one_line_errors(data, tmp_path):
    pred = _perfect(data, tmp_path / "p")
    with pytest.raises(SavosError, match="split 'test', not 'train'"):
        evaluate(pred, data, "train", progress=False)
    with pytest.raises(SavosError, match="unknown protocol"):
        evaluate(pred, data, "test", "coco", progress=False)

    other = tmp_path / "other"
    shutil.copytree(pred, other)
    (other / "clip_000003.npz").rename(other / "clip_000009.npz")
    with pytest.raises(SavosError, match=r"no prediction for 1 clips .* \(first: clip_000003\)"):
        evaluate(other, data, "test", progress=False)

    (other / "clip_000009.npz").unlink()
    info = json.loads((other / "predictions.json").read_text())
    (other / "predictions.json").write_text(json.dumps({**info, "num_clips": 2}))
    with pytest.raises(SavosError, match="2 clip predictions but split 'test'"):
        evaluate(other, data, "test", progress=False)

    write_prediction(other, "clip_000003", np.zeros((5, 3, 16, 21), bool), np.array([True, True, False]),
                     fingerprint(data))
    (other / "predictions.json").write_text(json.dumps(info))
    with pytest.raises(SavosError, match=r"clip_000003.npz: prediction shape \(5, 3, 16, 21\) does not"):
        evaluate(other, data, "test", progress=False)

    write_prediction(other, "clip_000003", np.zeros((5, 3, 16, 20), bool), np.array([True, False, False]),
                     fingerprint(data))
    with pytest.raises(SavosError, match="target object 1 of clip clip_000003 was not predicted"):
        evaluate(other, data, "test", progress=False)


def _savos(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("savos")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)


def test_cli_baseline_then_eval(data, tmp_path):
    out = tmp_path / "convex"
    r = _savos("baseline", "convex", str(data), "--split", "test", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    r = _savos("eval", str(out), str(data), "--split", "test", "--protocol", "savos", "--quiet")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["method", "protocol", "full", "mIoU"]
    assert lines[1].split()[:2] == ["convex", "savos"]
    assert (out / "metrics_savos.json").is_file() and (out / "metrics_savos.csv").is_file()


def test_cli_errors_are_one_line(data, tmp_path):
    r = _savos("eval", str(tmp_path), str(data), "--quiet")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
    assert "predictions.json" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(importlib.util.find_spec("generators.chewing_gum") is None,
                    reason="the Chewing Gum generator is not there yet")
def test_cli_on_chewing_gum(tmp_path):
    data, pred = tmp_path / "gum", tmp_path / "visible"
    gen = Path(sys.executable).with_name("savos-gen")
    r = subprocess.run([str(gen), "chewing-gum", "--n", "4", "--val", "0", "--test", "2", "--out", str(data),
                        "--workers", "1", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = _savos("baseline", "visible", str(data), "--split", "test", "--out", str(pred), "--quiet")
    assert r.returncode == 0, r.stderr
    for protocol in ("savos", "eoras"):
        r = _savos("eval", str(pred), str(data), "--split", "test", "--protocol", protocol, "--quiet")
        assert r.returncode == 0, r.stderr
        s = json.loads((pred / f"metrics_{protocol}.json").read_text())["summary"]
        assert s["pairs_full"] > 0 and s["miou_full"] < 1.0
        if protocol == "savos" and s["pairs_occ"]:
            assert s["miou_occ"] < 1e-3  # the visible mask predicts nothing hidden
