"""`savos train` then `savos predict` end to end on a tiny generated Chewing-Gum set; predict resumes
after an interruption and refuses bad inputs with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import savos.evaluation.predict as predict_module
from savos.cli.main import main
from savos.data import open_dataset
from savos.errors import SavosError
from savos.evaluation.evaluate import evaluate
from savos.evaluation.predict import predict
from savos.evaluation.predictions import open_predictions

TINY = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"


def _invoke(args, code=0):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture(scope="module")
def run_dir(gum_root, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = _invoke(["train", str(TINY), "--set", f"data.root={gum_root}", "--set", "train.threads=1",
                      "--out", str(run), "--quiet"])
    assert "finished at step 6" in result.output
    return run


def test_cli_train_then_predict_then_eval(gum_root, run_dir, tmp_path):
    assert {"config.yaml", "last.pt", "best.pt", "metrics.json"} <= {p.name for p in run_dir.iterdir()}
    assert list(run_dir.glob("events.out.tfevents.*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["step"] == 6 and metrics["best_step"] in (3, 6)

    out = tmp_path / "pred"
    _invoke(["predict", str(run_dir), str(gum_root), "--split", "test", "--out", str(out), "--quiet"])
    preds = open_predictions(out)
    clips = open_dataset(gum_root, "test")
    assert preds.keys() == sorted(c.key for c in clips) and len(preds) == 3
    for clip in clips:
        amodal, predicted = preds.load(clip.key)
        assert amodal.shape == clip.amodal.shape and amodal.dtype == bool
        assert predicted.tolist() == [k in clip.target_ids() for k in range(clip.num_objects)]
    info = preds.info
    assert info["method"] == "savos" and info["split"] == "test" and info["step"] in (3, 6)
    assert info["checkpoint"] == str(run_dir / "best.pt") and info["run"] == str(run_dir)
    assert info["data_root"] == str(gum_root.resolve())
    assert not (out / ".predict.json").exists()
    assert evaluate(out, gum_root, "test", write=False, progress=False).summary["num_clips"] == 3

    _invoke(["predict", str(run_dir), str(gum_root), "--out", str(out)], code=2)  # already there
    _invoke(["predict", str(run_dir), str(gum_root), "--out", str(out), "--overwrite", "--quiet"])


def test_predict_resumes_after_interruption(gum_root, run_dir, tmp_path, monkeypatch):
    out = tmp_path / "pred"
    real = predict_module.write_prediction
    written = []

    def flaky(pred_dir, key, amodal, predicted, dataset_id):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(key)
        return real(pred_dir, key, amodal, predicted, dataset_id)

    monkeypatch.setattr(predict_module, "write_prediction", flaky)
    with pytest.raises(KeyboardInterrupt):
        predict(run_dir, gum_root, "test", out, progress=False)
    assert not (out / "predictions.json").exists() and len(list(out.glob("*.npz"))) == 2
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}

    monkeypatch.setattr(predict_module, "write_prediction", real)
    predict(run_dir, gum_root, "test", out, progress=False)
    assert len(open_predictions(out)) == 3
    assert all((out / name).stat().st_mtime_ns == t for name, t in first.items())  # skipped, not redone


def test_predict_falls_back_to_last_and_refuses_bad_input(gum_root, run_dir, tmp_path):
    only_last = tmp_path / "run"
    only_last.mkdir()
    (only_last / "last.pt").write_bytes((run_dir / "last.pt").read_bytes())
    out = predict(only_last, gum_root, "val", tmp_path / "pred", progress=False)
    assert open_predictions(out).info["checkpoint"] == str(only_last / "last.pt")
    amodal, _ = open_predictions(out).load(open_dataset(gum_root, "val")[0].key)
    assert amodal.ndim == 4 and np.isin(amodal, [0, 1]).all()

    with pytest.raises(SavosError, match="holds no checkpoint"):
        predict(tmp_path, gum_root, "test", tmp_path / "p2", progress=False)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SavosError, match="not a readable savos checkpoint"):
        predict(tmp_path / "bad", gum_root, "test", tmp_path / "p3", progress=False)
    result = _invoke(["predict", str(tmp_path / "nope"), str(gum_root), "--out", str(tmp_path / "p4")],
                     code=2)
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
