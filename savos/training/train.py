"""The training loop (``train``), one optimizer step (``train_step``) and the learning-rate schedule
(``lr_at``): one process, or several under ``torchrun`` (DDP), with no code change.

    savos train recipes/gum-cpu.yaml --out runs/gum-cpu
    torchrun --nproc_per_node 2 $(which savos) train recipes/gum.yaml --out runs/gum

The loop reads top to bottom: check the run folder, resolve the data (``sources``), restore the model,
optimizer and counters (``restore``), then per step: draw the batch (``batches.StepBatches``), take one
optimizer step, log, and at the steps ``checkpointer.due`` names validate and save (``Checkpointer``).

Reproducibility: the model is initialised from ``train.seed``; the batch of step s is a pure function of
(seed, s, rank) (see savos.training.batches); the learning rate is a pure function of s (``lr_at``). A
checkpoint therefore only needs the model, the optimizer, the step and the torch rng states, and
``--resume`` continues to exactly the numbers of an uninterrupted run.

DDP: gradients are averaged once, by DDP's own all-reduce in backward (the original summed them twice);
every rank computes the LR of the step (the original stepped its scheduler on rank 0 only); each rank
trains on its own slice of the step's global batch; only rank 0 validates and writes files.

Model selection: ``best.pt`` has the lowest self-supervised validation loss. The ground-truth mIoU of
the amodal crops is logged for information only (it never picks a checkpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from savos.config import Config, LossConfig, TrainConfig
from savos.data import fingerprint
from savos.errors import SavosError, note
from savos.limits import cpu_count
from savos.outputs import open_output
from savos.tracks import TrackBatch
from savos.training import distributed, sources
from savos.training.batches import StepBatches, step_loader
from savos.training.checkpoint import LAST
from savos.training.checkpointer import Checkpointer, diverged, due, open_run_folder
from savos.training.health import DivergedError, InterruptedRun, InterruptFlag, ignore_sigint
from savos.training.methods import METHODS, Method
from savos.training.oracle import check_truth
from savos.training.progress import TrainBar
from savos.training.restore import TrainState, check_same_data, restore
from savos.training.run_folder import check_run_dir
from savos.training.summary import SUMMARY, read_summary
from savos.training.validation import validate

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

    from savos.training.methods import Step


def lr_at(step: int, tc: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, then cosine, step or constant."""
    if step < tc.warmup:
        return tc.lr * (step + 1) / tc.warmup
    if tc.schedule == "constant":
        return tc.lr
    if tc.schedule == "step":
        return tc.lr * tc.decay_factor ** ((step - tc.warmup) // tc.decay_every)
    progress = (step - tc.warmup) / max(1, tc.steps - tc.warmup)  # 0 -> 1
    return tc.lr * (tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class NonFiniteError(SavosError):
    """The loss or the gradient norm is NaN or infinite."""


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: TrackBatch,
               method_step: Step, loss: LossConfig, *, lr: float, grad_clip: float, d: distributed.Dist,
               flags: tuple[bool, ...] = ()) -> tuple[dict[str, float], float, tuple[bool, ...]]:
    """One optimizer step on this process's batch. ``model`` is the DDP-wrapped module (or the bare one
    on a single process); ``method_step`` the method's step (``Method.step``), ``loss`` its weights;
    ``grad_clip`` the gradient norm clipped to (0: none).
    -> ({loss name: mean over processes}, gradient norm, per flag: any process set it).

    One small all-reduce carries the losses (for logging and the divergence check), the non-finite check
    (a NaN on any process reaches all of them, so all stop together, before touching the weights) and
    ``flags`` (rank 0's time-budget and validation decisions, any process's Ctrl-C). The gradients are
    averaged by DDP in backward, once.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    losses, _ = method_step(model, batch, loss)
    names = sorted(losses)
    flag_t = torch.tensor([float(f) for f in flags], device=d.device)
    stats = torch.cat([torch.stack([losses[k].detach().float() for k in names]), flag_t])
    stats = distributed.all_reduce_sum(stats, d).cpu()
    mean = {k: float(stats[i]) / d.world for i, k in enumerate(names)}
    if not math.isfinite(mean["total"]):
        raise NonFiniteError(f"loss is {mean['total']}")
    losses["total"].backward()
    max_norm = grad_clip if grad_clip > 0 else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
    if not math.isfinite(grad_norm):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteError(f"gradient norm is {grad_norm}")
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return mean, grad_norm, tuple(bool(v > 0) for v in stats[len(names):])


def train(config: Config, run_dir: str | Path, resume: bool = False, *, stop_after: int | None = None,
          progress: bool = True, resume_command: str | None = None) -> dict[str, Any]:
    """Train ``config`` into ``run_dir`` (config.yaml, TensorBoard events, last.pt, best.pt, metrics.json).

    ``resume``: continue from ``run_dir/last.pt``. ``stop_after``: stop after that many steps in total,
    saving last.pt, as an interrupted run would (tests). ``resume_command``: the command line that
    continues this run, printed when Ctrl-C stops it. Returns the content of metrics.json. A diverged run
    raises DivergedError after writing metrics.json with ``"status": "diverged"``.
    """
    d = distributed.setup(config.train.device)
    try:  # rank 0 writes the run folder; the lock keeps a second run out of it
        with open_output(run_dir, "savos train") if d.is_main else contextlib.nullcontext():
            return _train(config, Path(run_dir), resume, stop_after, progress, d, resume_command)
    finally:
        distributed.cleanup(d)


def _notes(config: Config, train_clips: int, workers: int) -> None:
    if config.train.batch_size > train_clips:
        note(f"train.batch_size {config.train.batch_size} is more than the {train_clips} clips of split "
             f"{config.data.train_split!r}: clips repeat within a batch")
    if workers < config.data.workers:
        note(f"data.workers {config.data.workers} is more than this machine's {cpu_count()} cores; using "
             f"{workers}")


def _configure_torch(tc: TrainConfig, d: distributed.Dist) -> None:
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if d.device.type == "cuda":  # TF32 convolutions and matmuls: ~2x faster, masks do not need fp32 mantissas
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


def _validation_at_start(state: TrainState, method: Method, val_config: Config, device: torch.device
                         ) -> float | None:
    """The validation loss of the untrained model (what ``train.diverge_after`` compares with)."""
    val0 = validate(state.model, method, val_config, device)[0].get("loss_total")
    if val0 is None:
        note(f"split {val_config.data.val_split!r} of {val_config.data.root} gives no validation tracks "
             "(empty, or data.val_clips is 0): no validation, no best.pt, no divergence check on it")
    return val0


def _log_step(writer: SummaryWriter, done: int, mean: dict[str, float], lr: float, grad_norm: float,
              level: int | None) -> None:
    """TensorBoard scalars of the step that made ``done`` steps (``level``: None for one level)."""
    for k, v in mean.items():
        writer.add_scalar(f"train/{k}", v, done)
    writer.add_scalar("train/lr", lr, done)
    writer.add_scalar("train/grad_norm", grad_norm, done)
    if level is not None:
        writer.add_scalar("train/level", level, done)


def _train(config: Config, run_dir: Path, resume: bool, stop_after: int | None, progress: bool,
           d: distributed.Dist, resume_command: str | None) -> dict[str, Any]:
    tc, method = config.train, METHODS[config.method]
    _configure_torch(tc, d)

    # The data and the state to start from: fresh, or last.pt.
    ckpt = check_run_dir(run_dir, resume, config)
    source = sources.resolve(config.data.root, config.data.val_root, tc.seed)
    data_id = sources.fingerprint(source, fingerprint)
    check_same_data(ckpt, data_id, run_dir / LAST, config.data.root)
    state = restore(config, method, ckpt, source, d.device, run_dir / LAST)
    model = state.model  # what train_step runs: under torchrun the DDP wrapper, which averages gradients
    if d.enabled:
        model = DDP(state.model, device_ids=[d.device] if d.device.type == "cuda" else None)
    if d.is_main:  # a streamed source's fixed val split, generated once
        sources.prepare_val(source, config.data.val_split, config.data.val_clips, progress=progress)
    distributed.barrier(d)
    data = StepBatches(source, config.data.train_split, config.data.patch, config.data.enlarge,
                       config.data.window, tc.batch_size, tc.seed, d.rank, d.world, starts=state.level_starts)
    if method.supervised and data.datasets is not None:  # streamed (synthetic) clips are all known
        for root, clips in zip(source.levels, data.datasets, strict=True):
            check_truth(clips, f"{root}: split {config.data.train_split!r}", config.method)
    val_config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=source.val_root))
    plateau = sources.plateau_patience(source, config.data.plateau)
    workers = min(config.data.workers, cpu_count())

    # Rank 0 owns the run folder and validates; the other processes only train.
    writer = saver = None
    if d.is_main:
        _notes(config, data.num_clips, workers)
        writer = open_run_folder(run_dir, config, resume, state.step)
        if tc.device == "auto" and d.device.type == "cpu":  # once the run folder is ours: training starts
            note("train.device is auto and no CUDA GPU is available: training on the CPU")
        if state.step == 0 and tc.diverge_after > 0:
            state.val0 = _validation_at_start(state, method, val_config, d.device)

    loader = step_loader(data, state.step, tc.steps, workers, d.device.type == "cuda",
                         worker_init_fn=ignore_sigint if workers else None)
    bar = TrainBar(tc.steps, state.step, tc.max_minutes, disable=not (progress and d.is_main))
    t_start = time.monotonic()
    if d.is_main:
        saver = Checkpointer(run_dir, config, val_config, method, state, data, data_id, d.device, d.world,
                             writer, t_start)
    out: dict[str, Any] = {}
    diverged_at_val = False  # rank 0's validation said so; the other processes learn it at the next step
    try:
        with InterruptFlag() as interrupt:
            for step, batch in loader:
                lr = lr_at(step, tc)
                over = d.is_main and tc.max_minutes > 0 and time.monotonic() - t_start > 60 * tc.max_minutes
                try:
                    mean, grad_norm, (over, stop_bad, ctrl_c) = train_step(
                        model, state.optimizer, batch.to(d.device), method.step, config.loss, lr=lr,
                        grad_clip=tc.grad_clip, d=d, flags=(over, diverged_at_val, interrupt.raised))
                except NonFiniteError as e:
                    raise diverged(run_dir, step, str(e), saver) from None
                if stop_bad:
                    raise diverged(run_dir, step, out.get("message") or "rank 0's validation loss did not "
                                   "improve", saver)
                why = state.watch.update(step, mean["total"])
                if why:
                    raise diverged(run_dir, step + 1, why, saver)
                done = state.step = step + 1

                bar.update(mean["total"], lr)
                if writer is not None and (step % tc.log_every == 0 or done == tc.steps):
                    level = data.level(step) if len(source.levels) > 1 else None
                    _log_step(writer, done, mean, lr, grad_norm, level)

                if ctrl_c:
                    if saver is not None:
                        saver.save(done, "interrupted", check=False)
                    hint = f"; resume with: {resume_command}" if resume_command else ""
                    raise InterruptedRun(f"interrupted at step {done}; saved {run_dir / LAST}{hint}")
                stop = "time budget" if over else "stop_after" if stop_after == done else None
                if not due(done, tc, stop):
                    continue
                if saver is not None:
                    status = "finished" if done == tc.steps else f"stopped: {stop}" if stop else "running"
                    out = saver.save(done, status)
                    if out["status"] == "diverged":
                        if not d.enabled:
                            raise DivergedError(f"step {done}: training diverged: {out['message']}; stopped "
                                                "(the last good checkpoint is kept); try a lower train.lr or "
                                                "train.grad_clip")
                        diverged_at_val = True
                if plateau:
                    sources.sync_levels(d, state.level_starts)
                if stop:
                    break
        if diverged_at_val:  # at the last step: no next step told the other processes
            raise DivergedError(f"training diverged: {out['message']}; try a lower train.lr")
        if d.is_main and not out and (run_dir / SUMMARY).is_file():  # nothing left to train
            out = read_summary(run_dir)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return out
