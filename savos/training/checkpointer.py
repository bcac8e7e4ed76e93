"""When a run saves, and what: rank 0's side of the run folder.

- when: ``due`` — every ``train.val_every`` steps, at the last step, and when the run stops early
  (time budget, ``stop_after``); a Ctrl-C saves without validating.
- what: ``Checkpointer.save`` validates, records the validation in the history and TensorBoard, begins
  the next curriculum level on a plateau, then writes ``last.pt`` (and ``best.pt`` when the validation
  loss improved; the self-supervised loss picks it, never the ground truth) and ``metrics.json``. A
  validation that says the run diverged writes no checkpoint, so the last good one stays.
- ``open_run_folder`` claims the run folder and opens the TensorBoard writer; ``diverged`` is the error
  that stops every process, after rank 0 wrote metrics.json saying so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

from savos.atomic import write_json_atomic
from savos.config import Config, TrainConfig, config_to_dict, dump_config
from savos.outputs import OwnedDir
from savos.training import sources
from savos.training.batches import StepBatches
from savos.training.checkpoint import BEST, LAST, rng_state, save_checkpoint
from savos.training.health import DivergedError, val_diverged
from savos.training.methods import Method
from savos.training.restore import TrainState
from savos.training.run_folder import RUN_FILES
from savos.training.summary import SUMMARY
from savos.training.validation import validate


def due(done: int, tc: TrainConfig, stop: str | None) -> bool:
    """Whether the run validates and saves after ``done`` steps (``stop``: why it stops early, or None)."""
    return stop is not None or done % tc.val_every == 0 or done == tc.steps


def open_run_folder(run_dir: Path, config: Config, resume: bool, start: int) -> SummaryWriter:
    """Claim the run folder's files, write config.yaml, open TensorBoard (events after ``start`` are
    dropped on resume: they are trained again). Rank 0, before the first step."""
    folder = OwnedDir(run_dir, "savos train")
    folder.claim(RUN_FILES)
    folder.remove_stale_temps()  # .last.pt.tmp-PID and the like, left by killed runs
    dump_config(config, run_dir / "config.yaml")
    before = set(folder.entries())
    writer = SummaryWriter(str(run_dir), purge_step=start if resume else None)
    folder.claim(sorted(set(folder.entries()) - before))  # the new TensorBoard event file
    return writer


@dataclass
class Checkpointer:
    """Rank 0's saving of one run (module docstring). ``started``: when this process's first step began."""

    run_dir: Path
    config: Config  # the run's recipe, saved in every checkpoint
    val_config: Config  # the same with data.root the validation dataset
    method: Method
    state: TrainState
    data: StepBatches  # for the level of a step
    data_id: str
    device: torch.device
    world: int
    writer: SummaryWriter
    started: float

    def save(self, step: int, status: str, check: bool = True) -> dict[str, Any]:
        """Validate (unless ``check`` is False), then write last.pt (and best.pt if the validation loss
        improved) and metrics.json. -> the summary: status "diverged", and no checkpoint written, when
        the validation says so."""
        metrics, image = {}, None
        if check:
            metrics, image = validate(self.state.model, self.method, self.val_config, self.device)
        improved, why = self._record(step, metrics, image) if metrics else (False, None)
        if why is None:
            self._next_level(step)
            self._write_checkpoints(step, improved)
        out = self.write_summary(status if why is None else "diverged", step, why)
        self.writer.flush()
        return out

    def _record(self, step: int, metrics: dict[str, float], image: torch.Tensor | None
                ) -> tuple[bool, str | None]:
        """Add a validation to the history and TensorBoard. -> (it is the best so far, why the run
        diverged or None)."""
        s, tc = self.state, self.config.train
        level = {"level": self.data.level(step - 1)} if len(self.data.source.levels) > 1 else {}
        s.history.append({"step": step, **metrics, **level})
        for k, v in metrics.items():
            self.writer.add_scalar(f"val/{k}", v, step)
        if image is not None:
            self.writer.add_image("val/visible-prediction-truth", image[None], step)
        why = val_diverged(step, tc.steps, tc.diverge_after, metrics["loss_total"], s.val0)
        improved = metrics["loss_total"] < s.best_loss and why is None
        if improved:
            s.best_loss, s.best_step = metrics["loss_total"], step
        return improved, why

    def _next_level(self, step: int) -> None:
        """On a plateau of the current curriculum level, the next one begins with the next step (the
        other ranks learn it from ``sources.sync_levels``)."""
        starts, plateau = self.state.level_starts, sources.plateau_patience(self.data.source,
                                                                             self.config.data.plateau)
        if (plateau and len(starts) < len(self.data.source.levels) and step < self.config.train.steps
                and sources.plateaued(self.state.history, starts[-1], plateau)):
            starts.append(step)

    def _write_checkpoints(self, step: int, best: bool) -> None:
        s = self.state
        ckpt = {"step": step, "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
                "level_starts": list(s.level_starts),
                "config": config_to_dict(self.config), "rng": rng_state(), "history": s.history,
                "best_val_loss": s.best_loss, "best_step": s.best_step, "dataset_id": self.data_id,
                "val_loss_at_start": s.val0, "loss_watch": s.watch.state_dict()}
        if best:
            save_checkpoint(self.run_dir / BEST, ckpt)
        save_checkpoint(self.run_dir / LAST, ckpt)

    def write_summary(self, status: str, step: int, message: str | None = None) -> dict[str, Any]:
        """Write metrics.json (``savos.training.summary``); -> its content."""
        s = self.state
        out = {"status": status, "step": step, "steps": self.config.train.steps, "best_step": s.best_step,
               "best_val_loss": s.best_loss if s.best_step >= 0 else None,
               "last": s.history[-1] if s.history else None, "val_loss_at_start": s.val0,
               "history": s.history, "world_size": self.world,
               "dataset": {"root": self.config.data.root, "id": self.data_id},
               "seconds_this_process": round(time.monotonic() - self.started, 1)}
        if message:
            out["message"] = message
        write_json_atomic(self.run_dir / SUMMARY, out)
        return out


def diverged(run_dir: Path, step: int, why: str, saver: Checkpointer | None) -> DivergedError:
    """The one-line error that stops every process at ``step``; rank 0 (``saver``) first writes
    metrics.json with ``"status": "diverged"``."""
    last = run_dir / LAST
    kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was saved"
    message = (f"step {step}: training diverged: {why}; stopped ({kept}); try a lower train.lr or "
               "train.grad_clip")
    if saver is not None:
        saver.write_summary("diverged", step, message)
    return DivergedError(message)
