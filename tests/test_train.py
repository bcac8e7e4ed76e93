"""The trainer: LR schedule, pure data sampling, run folder, exact resume, non-finite and time-budget
stops, and DDP (2 gloo processes) against one process on the concatenated batch."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from savos.config import TrainConfig, config_from_dict, config_to_dict, load_config
from savos.errors import SavosError
from savos.training import distributed
from savos.training.batches import StepBatches
from savos.training.checkpoint import load_checkpoint
from savos.training.methods import METHODS
from savos.training.train import lr_at, train, train_step

TINY = Path(__file__).parent.parent / "recipes" / "gum-tiny.yaml"


def tiny_config(root: Path, *overrides: str):
    return load_config(TINY, [f"data.root={root}", "train.threads=1", *overrides])


def params(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_lr_schedule():
    tc = TrainConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert lr_at(0, tc) == pytest.approx(0.1) and lr_at(9, tc) == pytest.approx(1.0)
    assert lr_at(10, tc) == pytest.approx(1.0)
    assert lr_at(55, tc) == pytest.approx(0.55)  # half way down the cosine
    assert lr_at(100, tc) == pytest.approx(0.1)
    tc = TrainConfig(steps=100, lr=1.0, schedule="step", decay_every=30, decay_factor=0.5)
    assert [lr_at(s, tc) for s in (0, 29, 30, 60, 99)] == [1.0, 1.0, 0.5, 0.25, 0.125]
    assert lr_at(50, TrainConfig(schedule="constant", lr=0.3)) == 0.3


def test_step_batches_are_a_pure_function_of_seed_step_rank(toy_root):
    def batch(step, rank=0, world=1, bs=2, seed=0):
        return StepBatches(str(toy_root), "train", 16, 1.5, 4, bs, seed, rank, world)[step]

    a, b = batch(3), batch(3)
    assert torch.equal(a.rgb, b.rgb) and a.keys == b.keys
    assert not torch.equal(batch(3).rgb, batch(4).rgb) or batch(3).keys != batch(4).keys
    # The global batch of a step is the same whatever the world size; rank r takes slice r.
    r0, r1 = batch(3, rank=0, world=2, bs=1), batch(3, rank=1, world=2, bs=1)
    assert torch.equal(torch.cat([r0.rgb, r1.rgb]), a.rgb) and r0.keys + r1.keys == a.keys
    assert a.rgb.shape == (2, 4, 3, 16, 16)



def test_step_windows_follow_the_seed_and_fit_the_clip(toy_root):
    def starts(seed):
        data = StepBatches(str(toy_root), "train", 16, 1.5, 4, 2, seed)
        return [data[step].t0.tolist() for step in range(6)]

    assert starts(0) == starts(0) and starts(0) != starts(1)
    assert all(0 <= t0 <= 5 - 4 for step in starts(0) for t0 in step)  # toy clips: 5 frames, window 4


def test_clips_shorter_than_the_window_are_one_line(toy_root):
    with pytest.raises(SavosError, match="fewer than data.window=6; lower data.window"):
        StepBatches(str(toy_root), "train", 16, 1.5, 6, 2, 0)[0]

def test_run_folder_and_exact_resume(toy_root, tmp_path):
    config = tiny_config(toy_root)
    full = train(config, tmp_path / "full", progress=False)
    run = tmp_path / "full"
    assert {"config.yaml", "last.pt", "best.pt", "metrics.json"} <= {p.name for p in run.iterdir()}
    assert list(run.glob("events.out.tfevents.*"))
    assert load_config(run / "config.yaml") == config  # the resolved config loads back as is
    ckpt = load_checkpoint(run / "last.pt")  # weights_only=True inside
    assert ckpt["step"] == 6 and ckpt["config"] == config_to_dict(config)
    assert full["status"] == "finished" and [h["step"] for h in full["history"]] == [3, 6]
    assert {"loss_total", "miou_full", "miou_occluded"} <= set(full["last"])

    half = train(config, tmp_path / "resumed", stop_after=3, progress=False)
    assert half["status"] == "stopped: stop_after" and half["step"] == 3
    again = train(config, tmp_path / "resumed", resume=True, progress=False)
    assert again["status"] == "finished" and again["history"] == full["history"]
    a, b = params(run / "last.pt"), params(tmp_path / "resumed" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)  # bitwise
    opt_a = load_checkpoint(run / "last.pt")["optimizer"]["state"]
    opt_b = load_checkpoint(tmp_path / "resumed" / "last.pt")["optimizer"]["state"]
    assert all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a)

    with pytest.raises(SavosError, match="already holds a run"):
        train(config, run, progress=False)
    with pytest.raises(SavosError, match=r"different config \(train.lr"):
        train(tiny_config(toy_root, "train.lr=0.5"), run, resume=True, progress=False)
    with pytest.raises(SavosError, match="nothing to resume"):
        train(config, tmp_path / "empty", resume=True, progress=False)


def test_loader_workers_do_not_change_the_numbers(toy_root, tmp_path):
    for workers in (0, 2):
        train(tiny_config(toy_root, "train.steps=2", f"data.workers={workers}"), tmp_path / f"w{workers}",
              progress=False)
    a, b = params(tmp_path / "w0" / "last.pt"), params(tmp_path / "w2" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_loss_stops_without_saving(toy_root, tmp_path, monkeypatch):
    real = METHODS["savos"]
    calls = {"n": 0}

    def poisoned(model, batch, loss):
        losses, probs = real.step(model, batch, loss)
        if model.training:
            calls["n"] += 1
            if calls["n"] == 4:  # step index 3, after last.pt of step 2
                losses = {**losses, "total": losses["total"] * float("nan")}
        return losses, probs

    monkeypatch.setitem(METHODS, "savos", dataclasses.replace(real, step=poisoned))
    run = tmp_path / "run"
    with pytest.raises(SavosError) as e:
        train(tiny_config(toy_root, "train.val_every=2"), run, progress=False)
    msg = str(e.value)
    assert msg.startswith("step 3: training diverged: loss is nan; stopped") and "\n" not in msg
    assert str(run / "last.pt") in msg
    assert load_checkpoint(run / "last.pt")["step"] == 2  # the good checkpoint is intact
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["status"] == "diverged" and summary["message"] == msg


def test_time_budget_stops_cleanly(toy_root, tmp_path):
    summary = train(tiny_config(toy_root, "train.max_minutes=1e-9"), tmp_path / "run", progress=False)
    assert summary["status"] == "stopped: time budget" and summary["step"] == 1
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 1


def test_loss_decreases_when_overfitting_one_batch(toy_root):
    config = tiny_config(toy_root, "train.grad_clip=0")
    batch = StepBatches(str(toy_root), "train", 16, 1.5, 4, 2, 0)[0]
    torch.manual_seed(0)
    model = METHODS["savos"].build(config)
    opt = torch.optim.Adam(model.parameters())
    d = distributed.Dist(0, 1, torch.device("cpu"))
    losses = [train_step(model, opt, batch, METHODS["savos"].step, config.loss, lr=3e-3,
                         grad_clip=config.train.grad_clip, d=d)[0]["total"] for _ in range(25)]
    assert all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.8 * losses[0], losses


# ---- DDP ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sgd_step(model_or_ddp, model, config, batch, d):
    """One plain-SGD step through train_step (SGD, unlike Adam, shows a wrongly scaled gradient)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    return train_step(model_or_ddp, opt, batch, METHODS["savos"].step, config.loss, lr=0.5,
                      grad_clip=config.train.grad_clip, d=d)


def _ddp_worker(rank: int, world: int, port: int, config_dict: dict, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    config = config_from_dict(config_dict)
    d = distributed.setup("cpu")
    # 1) one train_step under DDP on this rank's half of the batch
    batch = StepBatches(config.data.root, "train", 16, 1.5, 4, 1, 0, rank, world)[0]
    torch.manual_seed(0)
    model = METHODS["savos"].build(config)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    mean, grad_norm, _ = _sgd_step(ddp, model, config, batch, d)
    if rank == 0:
        torch.save({"model": model.state_dict(), "mean": mean, "grad_norm": grad_norm}, Path(out) / "sgd.pt")
    # 2) the whole training loop, as under torchrun
    train(config, Path(out) / "run", progress=False)


def test_ddp_two_processes_equal_one_process_on_the_concatenated_batch(toy_root, tmp_path):
    # Toy targets are visible in every frame, so each half holds the same number of (object, frame)
    # pairs and the mean of the two ranks' losses is the loss of the whole batch.
    ddp_cfg = tiny_config(toy_root, "train.batch_size=1", "train.steps=2", "train.val_every=2")
    one_cfg = tiny_config(toy_root, "train.batch_size=2", "train.steps=2", "train.val_every=2")
    mp.start_processes(_ddp_worker, args=(2, _free_port(), config_to_dict(ddp_cfg), str(tmp_path)),
                       nprocs=2, join=True, start_method="spawn")

    d = distributed.Dist(0, 1, torch.device("cpu"))
    batch = StepBatches(str(toy_root), "train", 16, 1.5, 4, 2, 0)[0]
    torch.manual_seed(0)
    model = METHODS["savos"].build(one_cfg)
    mean, grad_norm, _ = _sgd_step(model, model, one_cfg, batch, d)
    got = torch.load(tmp_path / "sgd.pt", weights_only=True)
    assert got["grad_norm"] == pytest.approx(grad_norm, rel=1e-5)  # averaged once: not x2, not /2
    assert got["mean"]["total"] == pytest.approx(mean["total"], rel=1e-6)
    sd = model.state_dict()
    assert all(torch.allclose(got["model"][k], sd[k], rtol=0, atol=1e-6) for k in sd)

    train(one_cfg, tmp_path / "one", progress=False)
    a, b = params(tmp_path / "run" / "last.pt"), params(tmp_path / "one" / "last.pt")
    # Adam divides each gradient by its own magnitude, so where a gradient is ~0 the rounding differences
    # of the two reductions grow to O(lr) (the SGD step above is the tight check). Ranks that did not
    # share gradients would differ by O(lr) almost everywhere.
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert float((diff > 0.1 * one_cfg.train.lr).float().mean()) < 0.02, float(diff.max())
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 2
    assert np.isfinite(load_checkpoint(tmp_path / "run" / "last.pt")["best_val_loss"])
