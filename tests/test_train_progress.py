"""The training progress bar counts to where the time budget ends training, not to train.steps."""

from __future__ import annotations

from savos.training.progress import TrainBar


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_that_binds_sets_the_bar_to_its_projected_end():
    clock = Clock()
    bar = TrainBar(steps=1500, start=0, max_minutes=15, disable=True, clock=clock)
    for _ in range(100):  # 100 steps in 5 minutes: 20 steps/min, 10 minutes left -> 200 more
        clock.now += 3.0
        bar.update(0.5, 1e-3)
    assert bar.projected_end() == 300
    assert bar.total == 300 and "stops at ~300 of 1500: time budget" in bar.bar.desc
    assert bar.budget_left() == 600.0 and "10:00 left" in bar.bar.postfix
    bar.close()


def test_budget_that_does_not_bind_and_no_budget_count_to_the_steps():
    clock = Clock()
    bar = TrainBar(steps=50, start=10, max_minutes=15, disable=True, clock=clock)
    for _ in range(5):
        clock.now += 1.0
        bar.update(0.5, 1e-3)
    assert bar.projected_end() == 50 and bar.total == 50 and "budget" not in bar.bar.desc
    none = TrainBar(steps=50, start=0, max_minutes=0, disable=True, clock=clock)
    none.update(0.5, 1e-3)
    assert none.budget_left() is None and none.projected_end() == 50 and "budget" not in none.bar.postfix
    bar.close()
    none.close()
