"""The prediction format: round trip, info, atomic writes, and one-line errors for bad folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from savos.errors import SavosError
from savos.evaluation.predictions import (
    FORMAT,
    FORMAT_VERSION,
    create_prediction_dir,
    open_predictions,
    write_prediction,
    write_prediction_info,
)
from savos.outputs import MANIFEST

DATA_ID = "0123456789abcdef"  # the fingerprint of the dataset the predictions are of


def _random_prediction(rng, shape):
    T, K, H, W = shape
    predicted = rng.random(K) < 0.7
    amodal = (rng.random(shape) < 0.3) & predicted.reshape(1, K, 1, 1)
    return amodal, predicted


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)),
       seed=st.integers(0, 2**32 - 1))
def test_round_trip_is_exact(tmp_path, shape, seed):
    amodal, predicted = _random_prediction(np.random.default_rng(seed), shape)  # sizes not multiples of 8
    write_prediction(tmp_path, "clip_000007", amodal, predicted, DATA_ID)
    write_prediction_info(tmp_path, {"method": "test", "num_clips": 1, "dataset_id": DATA_ID})
    back, back_pred = open_predictions(tmp_path).load("clip_000007")
    assert back.dtype == np.bool_ and back.shape == shape and np.array_equal(back, amodal)
    assert back_pred.dtype == np.bool_ and np.array_equal(back_pred, predicted)


def test_info_keys_and_no_temp_files(tmp_path):
    rng = np.random.default_rng(0)
    for i in (3, 1, 2):
        write_prediction(tmp_path, f"clip_{i:06d}", *_random_prediction(rng, (2, 2, 5, 6)), DATA_ID)
    write_prediction_info(tmp_path, {"method": "convex", "source": None, "split": "test", "num_clips": 3,
                                     "dataset_id": DATA_ID})
    preds = open_predictions(tmp_path)
    assert preds.keys() == ["clip_000001", "clip_000002", "clip_000003"] and len(preds) == 3
    assert preds.has("clip_000002") and not preds.has("clip_000004")
    assert preds.info["method"] == "convex" and preds.info["format"] == FORMAT
    assert preds.info["format_version"] == FORMAT_VERSION and preds.info["created_by"].startswith("savos ")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clip_000001.npz", "clip_000002.npz", "clip_000003.npz", "predictions.json"]


def test_files_are_bit_packed_and_compressed(tmp_path):
    amodal = np.zeros((40, 2, 64, 64), bool)
    amodal[:, 0, 10:40, 10:40] = True
    path = write_prediction(tmp_path, "clip_000000", amodal, np.array([True, False]), DATA_ID)
    assert path.stat().st_size < amodal.size / 8 / 10


def test_writer_refuses_bad_input(tmp_path):
    amodal = np.zeros((2, 2, 3, 3), bool)
    with pytest.raises(SavosError, match="invalid clip key"):
        write_prediction(tmp_path, "../evil", amodal, np.ones(2, bool), DATA_ID)
    with pytest.raises(ValueError, match="bool"):
        write_prediction(tmp_path, "clip_000000", amodal.astype(np.uint8), np.ones(2, bool), DATA_ID)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        write_prediction(tmp_path, "clip_000000", amodal, np.ones(3, bool), DATA_ID)
    amodal[0, 1, 0, 0] = True
    with pytest.raises(ValueError, match="not marked predicted"):
        write_prediction(tmp_path, "clip_000000", amodal, np.array([True, False]), DATA_ID)
    with pytest.raises(ValueError, match="method"):
        write_prediction_info(tmp_path, {})


def _one(tmp_path):
    write_prediction(tmp_path, "clip_000000", np.ones((2, 1, 4, 4), bool), np.ones(1, bool), DATA_ID)
    write_prediction_info(tmp_path, {"method": "m", "num_clips": 1, "dataset_id": DATA_ID})
    return tmp_path / "clip_000000.npz"


@pytest.mark.parametrize("damage", ["garbage", "truncate", "flip", "empty"])
def test_corrupt_file_is_a_one_line_error_naming_it(tmp_path, damage):
    path = _one(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(b"not a zip file at all" * 10)
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 3] ^= 0xFF
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(SavosError) as e:
        open_predictions(tmp_path).load("clip_000000")
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_pieces_are_one_line_errors(tmp_path):
    with pytest.raises(SavosError, match="no such prediction folder"):
        open_predictions(tmp_path / "nope")
    path = _one(tmp_path)
    with pytest.raises(SavosError, match="missing prediction for clip clip_000009"):
        open_predictions(tmp_path).load("clip_000009")
    path.unlink()
    with pytest.raises(SavosError, match="says 1 clips but the folder holds 0"):
        open_predictions(tmp_path)
    (tmp_path / "predictions.json").unlink()
    with pytest.raises(SavosError, match="not a finished prediction folder"):
        open_predictions(tmp_path)
    (tmp_path / "predictions.json").write_text("{oops")
    with pytest.raises(SavosError, match="prediction description is not valid JSON"):
        open_predictions(tmp_path)
    (tmp_path / "predictions.json").write_text(json.dumps({"format": FORMAT, "format_version": 99}))
    with pytest.raises(SavosError, match="format version 99"):
        open_predictions(tmp_path)


def test_create_prediction_dir(tmp_path):
    out = create_prediction_dir(tmp_path / "a" / "b", keys=["clip_000000"])
    assert out.is_dir()
    _one(out)
    with pytest.raises(SavosError, match="--overwrite"):
        create_prediction_dir(out)
    create_prediction_dir(out, overwrite=True)
    assert [p.name for p in out.iterdir()] == [MANIFEST]  # every file it wrote is gone; nothing else was
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SavosError, match="holds notes.txt, which savos did not write"):
        create_prediction_dir(out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_never_deletes_files_savos_did_not_write(tmp_path):
    """`--overwrite` on a folder of the user's own files (even *.npz, metrics_*, dot files)
    refuses, names them, and deletes nothing."""
    mine = {"my_arrays.npz": b"PK", ".env": b"SECRET=1", "metrics_notes.txt": b"notes"}
    for name, data in mine.items():
        (tmp_path / name).write_bytes(data)
    for overwrite in (False, True):
        with pytest.raises(SavosError, match=r"holds \.env, metrics_notes.txt, my_arrays.npz, which savos"):
            create_prediction_dir(tmp_path, overwrite=overwrite)
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == mine
