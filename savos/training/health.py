"""Training health: divergence detection, Ctrl-C that saves, stale temporary files.

Divergence (``train.diverge_factor``, ``train.diverge_after``; 0 turns a check off). From step
``MIN_DIVERGE_STEPS`` on, a run has diverged when
- the running mean of its training loss (exponential, ``SMOOTHING``) exceeds ``diverge_factor`` times the
  mean loss of its first ``START_STEPS`` steps (the loss exploded), or
- at a validation once ``diverge_after`` of the steps are done, the validation loss is no lower than it
  was at step 0 (the model learned nothing; e.g. an absurd learning rate that saturates every logit).
Both decisions use numbers every process agrees on (the all-reduced training loss; rank 0's
validation, shared through the step's flags), so all processes stop together.

Interrupts: the first Ctrl-C (SIGINT) only sets a flag; the loop finishes its step, saves ``last.pt`` and
stops with the exact resume command. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import math
import signal
from dataclasses import dataclass
from typing import Any

from savos.errors import SavosError

MIN_DIVERGE_STEPS = 50
START_STEPS = 10
SMOOTHING = 0.9  # weight of the past in the running mean of the training loss


class DivergedError(SavosError):
    """Training stopped because the loss diverged (``metrics.json`` says ``"status": "diverged"``)."""


class InterruptedRun(SavosError):
    """Ctrl-C: the run saved ``last.pt`` and stopped; exit code 130 like any interrupted command."""

    exit_code = 130


@dataclass
class LossWatch:
    """Watches the training loss (all-reduced, so the same on every process) for an explosion."""

    factor: float
    start_sum: float = 0.0
    start_steps: int = 0
    running: float | None = None

    def update(self, step: int, loss: float) -> str | None:
        """Record the loss of step ``step`` (0-based); -> a message if the run has diverged."""
        if self.start_steps < START_STEPS:
            self.start_sum += loss
            self.start_steps += 1
        self.running = loss if self.running is None else SMOOTHING * self.running + (1 - SMOOTHING) * loss
        if self.factor <= 0 or step + 1 < MIN_DIVERGE_STEPS or self.start_steps == 0:
            return None
        start = self.start_sum / self.start_steps
        if self.running > self.factor * start:
            return (f"the training loss rose to {self.running:.4g} (running mean), more than "
                    f"{self.factor:g}x its start {start:.4g}")
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"start_sum": self.start_sum, "start_steps": self.start_steps, "running": self.running}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start_sum, self.start_steps = float(state["start_sum"]), int(state["start_steps"])
        self.running = None if state["running"] is None else float(state["running"])


def val_diverged(step: int, steps: int, after: float, val_loss: float, val_loss_at_start: float | None
                 ) -> str | None:
    """-> a message if, ``after`` of the run in, the validation loss is no lower than at step 0."""
    if after <= 0 or val_loss_at_start is None or step < max(MIN_DIVERGE_STEPS, math.ceil(after * steps)):
        return None
    if not val_loss < val_loss_at_start:  # also NaN
        return (f"the validation loss {val_loss:.4g} at step {step} is no lower than at step 0 "
                f"({val_loss_at_start:.4g})")
    return None


class InterruptFlag:
    """While active, the first SIGINT sets ``.raised`` instead of raising; a second one raises."""

    def __init__(self):
        self.raised = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.raised:
            raise KeyboardInterrupt
        self.raised = True

    def __enter__(self) -> InterruptFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def ignore_sigint(_worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: Ctrl-C is the main process's to handle (it saves and stops)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
