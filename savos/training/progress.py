"""The training progress bar, honest about the time budget.

With ``train.max_minutes`` set, training stops at whichever comes first: the last step or the budget.
The bar then counts to the step the budget is expected to reach (so its percentage and ETA are the real
ones) and shows the minutes left of the budget; without a budget it counts to ``train.steps``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tqdm import tqdm


class TrainBar:
    """``update(loss, lr)`` once per step; ``close()`` at the end. ``clock`` is injectable for tests."""

    def __init__(self, steps: int, start: int, max_minutes: float, disable: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.steps, self.start, self.n = steps, start, start  # n: steps done (a disabled tqdm counts none)
        self.budget = 60.0 * max_minutes if max_minutes > 0 else None
        self.clock = clock
        self.t0 = clock()
        self.total = steps  # what the bar counts to
        self.bar = tqdm(total=steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
                        disable=disable, file=sys.stderr)

    def projected_end(self) -> int:
        """The step training is expected to stop at: ``steps``, or the budget's reach at the current rate."""
        if self.budget is None:
            return self.steps
        elapsed = self.clock() - self.t0
        done = self.n - self.start
        if done <= 0 or elapsed <= 0:
            return self.steps
        reach = self.n + int(done / elapsed * max(0.0, self.budget - elapsed))
        return min(self.steps, max(reach, self.n))

    def budget_left(self) -> float | None:
        """Seconds left of the time budget (None without one)."""
        return None if self.budget is None else max(0.0, self.budget - (self.clock() - self.t0))

    def update(self, loss: float, lr: float) -> None:
        self.n += 1
        self.bar.update(1)
        post = {"loss": f"{loss:.4f}", "lr": f"{lr:.2e}"}
        left = self.budget_left()
        if left is not None:
            end = self.projected_end()
            if end < self.steps:  # the budget binds: count to where it ends
                self.bar.total = end
                self.bar.set_description(f"train (stops at ~{end} of {self.steps}: time budget)",
                                         refresh=False)
            else:
                self.bar.total = self.steps
                self.bar.set_description("train", refresh=False)
            self.total = self.bar.total
            post["budget"] = f"{int(left // 60)}:{int(left % 60):02d} left"
        self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        self.bar.close()
