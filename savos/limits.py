"""Sanity bounds on sizes a user can ask for, checked before anything is allocated.

Each bound is far above any sensible use and far below what would exhaust a machine: an absurd value
(``--n 99999999999999999999``, ``--set data.patch=100000``) costs one line, not a killed process.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from savos.errors import SavosError

MAX_CLIPS = 10_000_000  # clips in one dataset (~0.5 TB at the default size)
MAX_SHARD_CLIPS = 100_000  # clips in one shard file
MAX_CLIP_PIXELS = 2**25  # frames x height x width of one clip (e.g. 2048 frames of 128x128)
MAX_PATCH = 512  # crop side in pixels
MAX_BATCH = 4096  # tracks per step or per forward pass
MAX_WORKERS = 256  # worker processes asked for; then capped at the machine's cores


def check_count(value: int, name: str, low: int = 0, high: int = MAX_CLIPS) -> int:
    """``value`` if low <= value <= high, else a one-line SavosError naming ``name`` (a flag or key)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SavosError(f"{name} must be an integer in [{low}, {high:,}], got {value!r}")
    return value


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cap_workers(requested: int | None, name: str = "--workers") -> int:
    """Worker processes to use: ``None`` = every core; at least 1, at most the machine's cores."""
    if requested is None:
        return cpu_count()
    check_count(requested, name, 1, MAX_WORKERS)
    return min(requested, cpu_count())


def worker_pool(context: Any, workers: int, initializer: Callable | None = None, initargs: tuple = ()):
    """``context.Pool(workers, initializer, initargs)`` whose workers ignore Ctrl-C.

    SIGINT is ignored while the workers start: they inherit that (across spawn's exec too, so Python
    installs no KeyboardInterrupt handler in them), and a Ctrl-C at the terminal reaches the parent alone,
    which stops, terminates the pool and prints one line, not a traceback per worker. Outside the main
    thread (no signal handlers there) it is a plain pool.
    """
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return context.Pool(workers, initializer=initializer, initargs=initargs)
    try:
        return context.Pool(workers, initializer=initializer, initargs=initargs)
    finally:
        signal.signal(signal.SIGINT, previous)
