"""The training loop: one process, or several under ``torchrun`` (DDP), with no code change.

    savos train recipes/gum-cpu.yaml --out runs/gum-cpu
    torchrun --nproc_per_node 2 $(which savos) train recipes/gum.yaml --out runs/gum

Reproducibility: the model is initialised from ``train.seed``; the batch of step s is a pure function of
(seed, s, rank) (see StepBatches); the learning rate is a pure function of s (``lr_at``). A checkpoint
therefore only needs the model, the optimizer, the step and the torch rng states, and ``--resume``
continues to exactly the numbers of an uninterrupted run.

DDP: gradients are averaged once, by DDP's own all-reduce in backward (the original summed them twice);
every rank computes the LR of the step (the original stepped its scheduler on rank 0 only); each rank
trains on its own slice of the step's global batch; only rank 0 validates and writes files.

Model selection: ``best.pt`` has the lowest self-supervised validation loss. The ground-truth mIoU of
the amodal crops is logged for information only (it never picks a checkpoint).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from savos.atomic import write_json_atomic
from savos.config import Config, TrainConfig, config_to_dict, dump_config
from savos.data import fingerprint, open_dataset
from savos.errors import SavosError, note
from savos.limits import cpu_count
from savos.outputs import OwnedDir
from savos.tracks import TrackBatch, collate, crop_track, make_tracks
from savos.training import distributed, sources
from savos.training.checkpoint import BEST, LAST, rng_state, save_checkpoint, set_rng_state
from savos.training.health import (
    DivergedError,
    InterruptedRun,
    InterruptFlag,
    LossWatch,
    ignore_sigint,
    val_diverged,
)
from savos.training.methods import METHODS, Method
from savos.training.oracle import check_truth
from savos.training.run_folder import RUN_FILES, check_run_dir
from savos.training.summary import SUMMARY, read_summary
from savos.training.validation import validate


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


class StepBatches(torch.utils.data.Dataset):
    """Item s is this process's training batch of step s, a pure function of (seed, s, rank).

    Step s draws the whole global batch (batch_size x world tracks: clip, target object, window start)
    from ``np.random.default_rng([seed, s])``; rank r takes the r-th slice. So resuming at any step redraws
    the same batches, ranks never share data, and the data of a step does not depend on the world size.
    """

    def __init__(self, root: str, split: str, patch: int | tuple[int, int], enlarge: float, window: int,
                 batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.clips = open_dataset(root, split)
        if len(self.clips) == 0:
            raise SavosError(f"{root}: split {split!r} has no clips to train on")
        self.patch, self.enlarge, self.window = patch, enlarge, window
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world

    def __getitem__(self, step: int) -> TrackBatch:
        rng = np.random.default_rng([self.seed, step])
        n = self.batch_size * self.world
        clip_ids = rng.integers(0, len(self.clips), size=n)
        u = rng.random((n, 2))  # uniform picks of the track and the window start, independent of content
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        return collate([self._item(int(i), uo, us) for i, (uo, us) in zip(clip_ids[mine], u[mine],
                                                                          strict=True)])

    def _item(self, i: int, u_object: float, u_start: float):
        for j in range(len(self.clips)):  # a clip without visible targets passes to the next one
            clip = self.clips[(i + j) % len(self.clips)]
            tracks = make_tracks(clip, self.patch, self.enlarge)
            if tracks:
                break
        else:
            raise SavosError(f"{self.clips.root}: no clip of split {self.clips.split!r} has a visible target")
        if clip.num_frames < self.window:
            raise SavosError(f"{self.clips.root}: clip {clip.key} has {clip.num_frames} frames, fewer than "
                             f"data.window={self.window}; lower data.window")
        track = tracks[int(u_object * len(tracks))]
        t0 = int(u_start * (clip.num_frames - self.window + 1))
        return crop_track(clip, track, t0, self.window)

    def __len__(self) -> int:
        return 2**62  # indexed by step


class NonFiniteError(SavosError):
    """The loss or the gradient norm is NaN or infinite."""


def train_step(ddp: torch.nn.Module, method: Method, optimizer: torch.optim.Optimizer, batch: TrackBatch,
               config: Config, lr: float, d: distributed.Dist, flags: tuple[bool, ...] = ()):
    """One optimizer step on this process's batch. ``ddp`` is the DDP-wrapped module (or the bare one on
    a single process). -> ({loss name: mean over processes}, gradient norm, per flag: any process set it).

    One small all-reduce carries the losses (for logging and the divergence check), the non-finite check
    (a NaN on any process reaches all of them, so all stop together, before touching the weights) and
    ``flags`` (rank 0's time-budget and validation decisions, any process's Ctrl-C). The gradients are
    averaged by DDP in backward, once.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    losses, _ = method.step(ddp, batch, config.loss)
    names = sorted(losses)
    flag_t = torch.tensor([float(f) for f in flags], device=d.device)
    stats = torch.cat([torch.stack([losses[k].detach().float() for k in names]), flag_t])
    stats = distributed.all_reduce_sum(stats, d).cpu()
    mean = {k: float(stats[i]) / d.world for i, k in enumerate(names)}
    if not math.isfinite(mean["total"]):
        raise NonFiniteError(f"loss is {mean['total']}")
    losses["total"].backward()
    max_norm = config.train.grad_clip if config.train.grad_clip > 0 else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(ddp.parameters(), max_norm))
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
    try:
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


def _train(config: Config, run_dir: Path, resume: bool, stop_after: int | None, progress: bool,
           d: distributed.Dist, resume_command: str | None) -> dict[str, Any]:
    tc, method = config.train, METHODS[config.method]
    if tc.threads:
        torch.set_num_threads(tc.threads)
    if d.device.type == "cuda":  # TF32 convolutions and matmuls: ~2x faster, masks do not need fp32 mantissas
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    ckpt = check_run_dir(run_dir, resume, config)
    source = sources.resolve(config.data.root, config.data.val_root, tc.seed)
    data_id = sources.fingerprint(source, fingerprint)
    if ckpt is not None and ckpt.get("dataset_id") not in (None, data_id):
        raise SavosError(f"{run_dir / LAST}: the run trained on dataset {ckpt['dataset_id']}, but "
                         f"{config.data.root} is {data_id}; resume with the same data (data.root may move, "
                         "not change)")

    torch.manual_seed(tc.seed)
    model = method.build(config).to(d.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr)
    start, best_loss, best_step, history, val0 = 0, math.inf, -1, [], None
    watch = LossWatch(tc.diverge_factor)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start, best_loss, best_step = ckpt["step"], ckpt["best_val_loss"], ckpt["best_step"]
        history = list(ckpt["history"])
        val0 = ckpt.get("val_loss_at_start")
        if "loss_watch" in ckpt:
            watch.load_state_dict(ckpt["loss_watch"])
        set_rng_state(ckpt["rng"])
    ddp = DDP(model, device_ids=[d.device] if d.device.type == "cuda" else None) if d.enabled else model

    if d.is_main:  # a streamed source's fixed val split, generated once
        sources.prepare_val(source, config.data.val_split, config.data.val_clips, progress=progress)
    distributed.barrier(d)
    plateau = config.data.plateau if len(source.levels) > 1 else 0
    if plateau:  # levels begin where validation says; the steps are saved in the checkpoint
        starts = list(ckpt["level_starts"]) if ckpt is not None else [0]
    else:
        starts = sources.level_starts(len(source.levels), config.data.level_steps, tc.steps)
    data = sources.SourceBatches(source, starts, config.data.train_split, config.data.patch,
                                 config.data.enlarge, config.data.window, tc.batch_size, tc.seed, d.rank,
                                 d.world)
    if method.supervised and data.disk is not None:  # streamed (synthetic) clips are all known
        for root, level in zip(source.levels, data.disk, strict=True):
            check_truth(level.clips, f"{root}: split {config.data.train_split!r}", config.method)
    val_config = dataclasses.replace(config, data=dataclasses.replace(config.data, root=source.val_root))
    workers = min(config.data.workers, cpu_count())
    writer, folder = None, OwnedDir(run_dir, "savos train")
    if d.is_main:
        from torch.utils.tensorboard import SummaryWriter

        _notes(config, data.num_clips, workers)
        folder.claim(RUN_FILES)
        if tc.device == "auto" and d.device.type == "cpu":  # once the run folder is ours: training starts
            note("train.device is auto and no CUDA GPU is available: training on the CPU")
        folder.remove_stale_temps()  # .last.pt.tmp-PID and the like, left by killed runs
        dump_config(config, run_dir / "config.yaml")
        before = set(folder.entries())
        writer = SummaryWriter(str(run_dir), purge_step=start if resume else None)
        folder.claim(sorted(set(folder.entries()) - before))  # the new TensorBoard event file
        if start == 0 and tc.diverge_after > 0:
            val0 = validate(model, method, val_config, d.device)[0].get("loss_total")
            if val0 is None:
                note(f"split {config.data.val_split!r} of {source.val_root} gives no validation tracks "
                     "(empty, or data.val_clips is 0): no validation, no best.pt, no divergence check on it")

    loader = sources.step_loader(data, start, tc.steps, workers, d.device.type == "cuda",
                                 worker_init_fn=ignore_sigint if workers else None)
    bar = tqdm(total=tc.steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
               disable=not (progress and d.is_main))
    t_start = time.monotonic()

    def summary(status: str, step: int, message: str | None = None) -> dict[str, Any]:
        out = {"status": status, "step": step, "steps": tc.steps, "best_step": best_step,
               "best_val_loss": best_loss if best_step >= 0 else None,
               "last": history[-1] if history else None, "val_loss_at_start": val0,
               "history": history, "world_size": d.world,
               "dataset": {"root": config.data.root, "id": data_id},
               "seconds_this_session": round(time.monotonic() - t_start, 1)}
        if message:
            out["message"] = message
        return out

    def save(step: int, status: str, check: bool = True) -> dict[str, Any]:
        """Validate (unless ``check`` is False), then write last.pt (and best.pt if the val loss
        improved) and metrics.json. Rank 0. -> the summary (status "diverged", and no checkpoint
        written, when the validation says so)."""
        nonlocal best_loss, best_step
        metrics, image = validate(model, method, val_config, d.device) if check else ({}, None)
        improved, diverged = False, None
        if metrics:
            level = {"level": data.level(step - 1)} if len(source.levels) > 1 else {}
            history.append({"step": step, **metrics, **level})
            for k, v in metrics.items():
                writer.add_scalar(f"val/{k}", v, step)
            if image is not None:
                writer.add_image("val/visible-prediction-truth", image[None], step)
            diverged = val_diverged(step, tc.steps, tc.diverge_after, metrics["loss_total"], val0)
            improved = metrics["loss_total"] < best_loss and diverged is None
            if improved:
                best_loss, best_step = metrics["loss_total"], step
        if diverged is None:
            if (plateau and len(starts) < len(source.levels) and step < tc.steps
                    and sources.plateaued(history, starts[-1], plateau)):
                starts.append(step)  # the next level begins with the next step; the other ranks learn it
            state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "level_starts": list(starts),
                     "config": config_to_dict(config), "rng": rng_state(), "history": history,
                     "best_val_loss": best_loss, "best_step": best_step, "dataset_id": data_id,
                     "val_loss_at_start": val0, "loss_watch": watch.state_dict()}
            if improved:
                save_checkpoint(run_dir / BEST, state)
            save_checkpoint(run_dir / LAST, state)
        out = summary(status if diverged is None else "diverged", step, diverged)
        write_json_atomic(run_dir / SUMMARY, out)
        writer.flush()
        return out

    def fail(step: int, why: str) -> None:
        """Divergence: metrics.json says so (rank 0); every process stops with one line."""
        last = run_dir / LAST
        kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was saved"
        message = (f"step {step}: training diverged: {why}; stopped ({kept}); try a lower train.lr or "
                   "train.grad_clip")
        if d.is_main:
            write_json_atomic(run_dir / SUMMARY, summary("diverged", step, message))
        raise DivergedError(message)

    out: dict[str, Any] = {}
    diverged_at_val = False
    try:
        with InterruptFlag() as interrupt:
            for step, batch in loader:
                lr = lr_at(step, tc)
                over = d.is_main and tc.max_minutes > 0 and time.monotonic() - t_start > 60 * tc.max_minutes
                try:
                    mean, grad_norm, (over, stop_bad, ctrl_c) = train_step(
                        ddp, method, optimizer, batch.to(d.device), config, lr, d,
                        flags=(over, diverged_at_val, interrupt.raised))
                except NonFiniteError as e:
                    fail(step, str(e))
                if stop_bad:
                    fail(step, out.get("message") or "rank 0's validation loss did not improve")
                why = watch.update(step, mean["total"])
                if why:
                    fail(step + 1, why)
                bar.set_postfix(loss=f"{mean['total']:.4f}", lr=f"{lr:.2e}", refresh=False)
                bar.update(1)
                if writer is not None and (step % tc.log_every == 0 or step + 1 == tc.steps):
                    for k, v in mean.items():
                        writer.add_scalar(f"train/{k}", v, step + 1)
                    writer.add_scalar("train/lr", lr, step + 1)
                    writer.add_scalar("train/grad_norm", grad_norm, step + 1)
                    if len(source.levels) > 1:
                        writer.add_scalar("train/level", data.level(step), step + 1)
                done = step + 1
                if ctrl_c:
                    if d.is_main:
                        out = save(done, "interrupted", check=False)
                    hint = f"; resume with: {resume_command}" if resume_command else ""
                    raise InterruptedRun(f"interrupted at step {done}; saved {run_dir / LAST}{hint}")
                stop = "time budget" if over else "stop_after" if stop_after == done else None
                if stop or done % tc.val_every == 0 or done == tc.steps:
                    status = "finished" if done == tc.steps else f"stopped: {stop}" if stop else "running"
                    if d.is_main:
                        out = save(done, status)
                        if out["status"] == "diverged":
                            if not d.enabled:
                                raise DivergedError(f"step {done}: training diverged: {out['message']}; "
                                                    "stopped (the last good checkpoint is kept); try a "
                                                    "lower train.lr or train.grad_clip")
                            diverged_at_val = True  # the other processes learn it at the next step
                    if plateau:
                        sources.sync_levels(d, starts)
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
