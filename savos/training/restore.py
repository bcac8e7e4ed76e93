"""Where a run starts: a fresh model and optimizer from ``train.seed``, or what ``last.pt`` saved
(``--resume``), with the counters the training loop carries from step to step (``TrainState``).

The torch rng states are restored too, so a resumed run continues to exactly the numbers of an
uninterrupted one (the batch of a step and its learning rate are pure functions of the step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from savos.config import Config
from savos.errors import SavosError, brief
from savos.training import sources
from savos.training.checkpoint import load_optimizer, load_weights, set_rng_state
from savos.training.health import LossWatch
from savos.training.methods import Method


@dataclass
class TrainState:
    """What the training loop carries from step to step; ``savos.training.checkpointer`` saves it."""

    model: nn.Module  # the bare module, never the DDP wrapper
    optimizer: torch.optim.Optimizer
    watch: LossWatch  # the training loss's divergence check
    level_starts: list[int]  # first step of each curriculum level begun so far ([0]: one level)
    step: int = 0  # optimizer steps done
    best_loss: float = math.inf  # the lowest validation loss so far ...
    best_step: int = -1  # ... and its step (-1: none yet, no best.pt)
    history: list[dict[str, Any]] = field(default_factory=list)  # every validation record
    val0: float | None = None  # the validation loss at step 0 (train.diverge_after compares with it)


def restore(config: Config, method: Method, ckpt: dict[str, Any] | None, source: sources.Source,
            device: torch.device, path: str | Path = "last.pt") -> TrainState:
    """The state a run starts from: fresh when ``ckpt`` is None, else as ``ckpt`` (read from ``path``,
    which messages name) saved it: weights and optimizer state that do not fit the model are one line."""
    starts = _level_starts(config, source, ckpt)
    torch.manual_seed(config.train.seed)
    model = method.build(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr)
    watch = LossWatch(config.train.diverge_factor)
    if ckpt is None:
        return TrainState(model, optimizer, watch, starts)
    load_weights(model, ckpt["model"], path)
    load_optimizer(optimizer, ckpt["optimizer"], path)
    try:
        if "loss_watch" in ckpt:
            watch.load_state_dict(ckpt["loss_watch"])
        set_rng_state(ckpt["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise SavosError(f"{path}: the saved loss watch or generator state is damaged ({type(e).__name__}: "
                         f"{brief(str(e))}); use a checkpoint written by `savos train`") from None
    return TrainState(model, optimizer, watch, starts, step=ckpt["step"], best_loss=ckpt["best_val_loss"],
                      best_step=ckpt["best_step"], history=list(ckpt["history"]),
                      val0=ckpt.get("val_loss_at_start"))


def _level_starts(config: Config, source: sources.Source, ckpt: dict[str, Any] | None) -> list[int]:
    """Where the levels begin: fixed by ``data.level_steps``, or, on a plateau, as far as the saved run
    got (the checkpoint records the steps; a fresh run begins with level 0 only)."""
    if sources.plateau_patience(source, config.data.plateau):
        return list(ckpt["level_starts"]) if ckpt is not None else [0]
    return sources.level_starts(len(source.levels), config.data.level_steps, config.train.steps)


def check_same_data(ckpt: dict[str, Any] | None, data_id: str, last: Path, root: str) -> None:
    """One line unless the run of checkpoint ``ckpt`` (read from ``last``) trained on ``data_id``."""
    if ckpt is not None and ckpt.get("dataset_id") not in (None, data_id):
        raise SavosError(f"{last}: the run trained on dataset {ckpt['dataset_id']}, but {root} is "
                         f"{data_id}; resume with the same data (data.root may move, not change)")
