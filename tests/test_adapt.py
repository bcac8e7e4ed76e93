"""Test-time adaptation (savos/adapt/loop.py, `savos adapt`): the loss goes down and the visible-part
IoU up on a tiny clip, early stopping fires on a plateau, the weights are restored for every clip and the
run is never written, the outputs resume and feed eval and report."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from generators.chewing_gum import ChewingGumConfig, generate_clip
from savos.adapt import split as adapt_split
from savos.adapt.loop import adapt_clip, should_stop
from savos.adapt.split import adapt, parse_clips
from savos.cli.main import main as savos_main
from savos.config import config_from_dict, load_config
from savos.data import open_dataset
from savos.data.writer import write_dataset
from savos.evaluation.predict import predict
from savos.evaluation.predictions import open_predictions
from savos.training.methods import METHODS
from savos.training.train import train

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
TINY = {"height": 32, "width": 32, "frames": 8, "radius": [5.0, 7.0]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("adapt")
    config = ChewingGumConfig.from_dict(TINY)
    data = tmp / "data"
    write_dataset(data, partial(generate_clip, config, 0), {"train": 4, "val": 1, "test": 3},
                  {"generator": "chewing-gum", "version": "test", "seed": 0, "config": config.to_dict(),
                   "amodal_flow": True}, shard_size=4, workers=1, progress=False)
    recipe = load_config(RECIPES / "gum-tiny.yaml",
                         [f"data.root={data}", "train.steps=2", "train.val_every=2"])
    train(recipe, tmp / "run", progress=False)
    return tmp, data, tmp / "run"


def _tiny_model(method: str, seed: int = 0):
    raw = {"method": method, "data": {"patch": 16}}
    raw["model"] = ({"enc_widths": [4, 8], "feat": 8, "hidden": 8, "completer_widths": [4, 8],
                     "motion_widths": [4, 8]} if method == "savos" else {"widths": [4, 8]})
    config = config_from_dict(raw)
    torch.manual_seed(seed)
    model = METHODS[method].build(config)
    return model, config


def _adapt(model, config, clip, **kw):
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    settings = dict(patch=16, enlarge=1.5, loss=config.loss, lr=3e-3, max_iters=25, patience=10,
                    min_delta=0.0, batch_size=8, window=0, grad_clip=1.0, seed=(0, 0),
                    device=torch.device("cpu"))
    settings.update(kw)
    return adapt_clip(model, METHODS[config.method], clip, initial, **settings)


def _clip():
    return generate_clip(ChewingGumConfig.from_dict(TINY), 0, 5, "test")


def test_should_stop_is_the_papers_rule():
    flat = [0.5] * 11
    assert should_stop(flat, patience=10, min_delta=0.01)
    assert not should_stop(flat[:10], patience=10, min_delta=0.01)  # too early to tell
    rising = [0.5 + 0.002 * i for i in range(11)]  # +0.02 over the last 10
    assert not should_stop(rising, patience=10, min_delta=0.01)
    assert should_stop(rising, patience=10, min_delta=0.03)
    dip = [0.5, 0.9] + [0.6] * 10  # the best so far no longer rises
    assert should_stop(dip, patience=10, min_delta=0.01)
    assert not should_stop(flat, patience=10, min_delta=0.0)  # 0 = never stop early


def test_adaptation_lowers_the_loss_and_raises_the_visible_iou():
    model, config = _tiny_model("savos")
    clip = _clip()
    (after, predicted), (before, _), log = _adapt(model, config, clip, lr=1e-2, max_iters=12)
    assert log.steps == 12 and log.stopped == "max_iters"
    assert np.mean(log.loss[-3:]) < 0.9 * log.loss[0], log.loss
    assert log.visible_iou[-1] > log.visible_iou[0] + 0.05, log.visible_iou
    assert after.shape == clip.amodal.shape and predicted[clip.target_ids()].all()
    assert (after != before).any()
    assert log.occluded_iou[0] is not None  # ground truth logged for analysis


def test_image_ssl_adapts_with_its_own_loss():
    model, config = _tiny_model("image-ssl")
    _, _, log = _adapt(model, config, _clip(), max_iters=15)
    assert np.mean(log.loss[-3:]) < np.mean(log.loss[:3]), log.loss


def test_early_stopping_fires_on_a_plateau():
    model, config = _tiny_model("savos")
    _, _, log = _adapt(model, config, _clip(), lr=1e-12, patience=4, min_delta=0.01)
    assert log.stopped == "plateau" and log.steps == 4 and len(log.visible_iou) == 5


def test_the_model_is_restored_and_clips_do_not_leak_into_each_other():
    model, config = _tiny_model("savos")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    ds = [generate_clip(ChewingGumConfig.from_dict(TINY), 0, i, "test") for i in (5, 6)]
    _adapt(model, config, ds[0], max_iters=5)
    assert all(torch.equal(start[k], v) for k, v in model.state_dict().items())
    (b_after, _), _, b_log = _adapt(model, config, ds[1], max_iters=5)
    fresh, _ = _tiny_model("savos")
    (b_alone, _), _, alone_log = _adapt(fresh, config, ds[1], max_iters=5)
    assert np.array_equal(b_after, b_alone) and b_log.loss == alone_log.loss


def _sha(run: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run.iterdir()) if p.is_file()}


def test_cli_adapt_writes_predictions_logs_and_leaves_the_run_alone(world):
    tmp, data, run = world
    files = _sha(run)
    out = tmp / "tta"
    result = CliRunner().invoke(savos_main, ["adapt", str(run), str(data), "--out", str(out), "-q",
                                             "--set", "adapt.max_iters=3", "--set", "adapt.lr=1e-3"])
    assert result.exit_code == 0, result.output
    assert _sha(run) == files  # checkpoints, config, metrics: byte for byte
    preds = open_predictions(out)
    assert preds.info["adapted"] and preds.info["adapt"]["lr"] == 1e-3
    assert preds.info["adapt"]["max_iters"] == 3
    assert preds.info["checkpoint_sha256"] == files["best.pt"] and len(preds) == 3
    assert preds.info["dataset_id"] and preds.info["method"] == "savos+tta"
    log = json.loads((out / "logs" / f"{preds.keys()[0]}.json").read_text())
    assert log["steps"] <= 3 and len(log["visible_iou"]) == log["steps"] + 1
    assert (out / "logs" / f"{preds.keys()[0]}.png").stat().st_size > 1000
    assert list((out / "logs" / "tensorboard").glob("events.out.tfevents.*"))
    # before/ is what `savos predict` writes for the same run and data
    plain = predict(run, data, "test", tmp / "plain", progress=False)
    before = open_predictions(out / "before")
    for key in before.keys():
        assert np.array_equal(before.load(key)[0], open_predictions(plain).load(key)[0])
    result = CliRunner().invoke(savos_main, ["eval", str(out), str(data), "-q"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(savos_main, ["report", str(out / "before"), str(out), "--out",
                                             str(tmp / "rep"), "--clips", "2"])
    assert result.exit_code == 0, result.output
    index = (tmp / "rep" / "index.md").read_text()
    assert "Test-time adaptation" in index and (tmp / "rep" / "0_adapt_curves.png").is_file()
    assert len(list((tmp / "rep" / "adapt_clips").glob("*.gif"))) == 2


def test_interrupted_adaptation_resumes_to_the_same_bytes(world, monkeypatch):
    tmp, data, run = world
    sets = ["adapt.max_iters=2"]
    whole = adapt(run, data, "test", tmp / "whole", overrides=sets, progress=False)
    real, calls = adapt_split._adapt_one, []

    def dies_on_the_second_clip(i):
        calls.append(i)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(i)

    monkeypatch.setattr(adapt_split, "_adapt_one", dies_on_the_second_clip)
    with pytest.raises(KeyboardInterrupt):
        adapt(run, data, "test", tmp / "cut", overrides=sets, progress=False)
    assert not (tmp / "cut" / "predictions.json").exists()
    monkeypatch.setattr(adapt_split, "_adapt_one", real)
    adapt(run, data, "test", tmp / "cut", overrides=sets, progress=False)
    for key in open_predictions(whole).keys():
        for sub in ("", "before/"):
            assert (whole / f"{sub}{key}.npz").read_bytes() == (tmp / "cut" / f"{sub}{key}.npz").read_bytes()


def test_clip_selection():
    assert parse_clips("0-2,5", 6) == [0, 1, 2, 5]
    assert parse_clips(None, 3) == [0, 1, 2]
    with pytest.raises(Exception, match="--clips"):
        parse_clips("4-9", 6)


def test_subset_and_workers(world):
    tmp, data, run = world
    out = adapt(run, data, "test", tmp / "sub", clips="1-2", overrides=["adapt.max_iters=1"], workers=2,
                progress=False)
    preds = open_predictions(out)
    ds = open_dataset(data, "test")
    assert preds.keys() == [ds.locate(1)[1], ds.locate(2)[1]]
    serial = adapt(run, data, "test", tmp / "sub1", clips="1-2", overrides=["adapt.max_iters=1"],
                   progress=False)
    for key in preds.keys():  # two processes give the clips the same results as one
        assert np.array_equal(preds.load(key)[0], open_predictions(serial).load(key)[0])
