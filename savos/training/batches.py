"""Batch sampling: the one place that decides which tracks and windows training and validation read.

- ``StepBatches``: item s is this process's training batch of step s, a pure function of (seed, s, rank).
  Step s draws the whole global batch (batch_size x world tracks) from ``np.random.default_rng([seed,
  s])`` and rank r takes the r-th slice, so resuming at any step redraws the same batches, ranks never
  share data, and the data of a step does not depend on the world size. The clips come from the level
  that step s belongs to (``starts``; a dataset folder is one level), on disk or streamed
  (``savos.training.sources``).
- ``step_loader``: (step, batch) through a DataLoader, a fresh one whenever a curriculum level begins.
- ``val_batches``: whole target tracks of the first val clips, the same at every validation.

A training window is picked by two uniform numbers per track (``window``): which target of the clip,
and where the window starts, independent of the clip's content.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from savos.data import open_dataset
from savos.data.clip import Clip
from savos.errors import SavosError
from savos.tracks import Track, TrackBatch, TrackItem, collate, crop_track, make_tracks
from savos.training.sources import STREAM_OFFSET, Source


def window(clip: Clip, tracks: Sequence[Track], u_object: float, u_start: float, length: int) -> TrackItem:
    """The ``length``-frame window of one of ``tracks`` that two uniform numbers in [0, 1) pick: the
    track ``u_object`` and the window start ``u_start``."""
    track = tracks[int(u_object * len(tracks))]
    t0 = int(u_start * (clip.num_frames - length + 1))
    return crop_track(clip, track, t0, length)


class StepBatches(torch.utils.data.Dataset):
    """Item s is this process's training batch of step s (module docstring).

    ``source``: a ``savos.training.sources.Source``, or the path of a dataset folder. ``starts``: the
    first step of each level begun so far (default [0]); the trainer appends to the same list when a
    level begins on a plateau, and ``level(s)`` follows.
    """

    def __init__(self, source: Source | str, split: str, patch: int | tuple[int, int], enlarge: float,
                 window: int, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 starts: list[int] | None = None):
        self.source = Source("dataset", (source,), source) if isinstance(source, str) else source
        self.starts = [0] if starts is None else starts
        self.patch, self.enlarge, self.window = patch, enlarge, window
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        # the clips of each level on disk; None for a stream, whose clips are made as they are drawn
        self.datasets = None if self.source.kind == "stream" else [
            _train_clips(root, split) for root in self.source.levels]
        # training clips available (the smallest level; a stream never runs out)
        self.num_clips = min(len(c) for c in self.datasets) if self.datasets else 2**62

    def level(self, step: int) -> int:
        return bisect.bisect_right(self.starts, step) - 1

    def __getitem__(self, step: int) -> TrackBatch:
        level = self.level(step)
        rng = np.random.default_rng([self.seed, step])
        n = self.batch_size * self.world
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        if self.datasets is None:
            u = rng.random((n, 2))[mine]
            first = STREAM_OFFSET + step * n + self.rank * self.batch_size
            return collate([self._streamed(self.source.levels[level], first + j, uo, us)
                            for j, (uo, us) in enumerate(u)])
        clips = self.datasets[level]
        clip_ids = rng.integers(0, len(clips), size=n)
        u = rng.random((n, 2))
        return collate([self._from_disk(clips, int(i), uo, us)
                        for i, (uo, us) in zip(clip_ids[mine], u[mine], strict=True)])

    def _from_disk(self, clips, i: int, u_object: float, u_start: float) -> TrackItem:
        for j in range(len(clips)):  # a clip without visible targets passes to the next one
            clip = clips[(i + j) % len(clips)]
            tracks = make_tracks(clip, self.patch, self.enlarge)
            if tracks:
                break
        else:
            raise SavosError(f"{clips.root}: no clip of split {clips.split!r} has a visible target")
        if clip.num_frames < self.window:
            raise SavosError(f"{clips.root}: clip {clip.key} has {clip.num_frames} frames, fewer than "
                             f"data.window={self.window}; lower data.window")
        return window(clip, tracks, u_object, u_start, self.window)

    def _streamed(self, maker: Callable[[int, str], Clip], index: int, u_object: float,
                  u_start: float) -> TrackItem:
        clip = maker(index, "stream")
        tracks = make_tracks(clip, self.patch, self.enlarge)
        if not tracks or clip.num_frames < self.window:
            raise SavosError(f"streamed clip {index} has {len(tracks)} visible targets and "
                             f"{clip.num_frames} frames (data.window={self.window}); check the "
                             "generator config")
        return window(clip, tracks, u_object, u_start, self.window)

    def __len__(self) -> int:
        return 2**62  # indexed by step


def _train_clips(root: str, split: str):
    clips = open_dataset(root, split)
    if len(clips) == 0:
        raise SavosError(f"{root}: split {split!r} has no clips to train on")
    return clips


def step_loader(data: StepBatches, first: int, steps: int, workers: int, pin_memory: bool,
                worker_init_fn: Callable[[int], None] | None = None) -> Iterator[tuple[int, TrackBatch]]:
    """(step, batch) for steps first..steps-1 through a DataLoader; a fresh one whenever a level begins
    (``data.starts`` grew while the caller trained on the last step yielded: prefetched batches of the
    old level are dropped)."""
    while first < steps:
        levels = len(data.starts)
        batches = torch.utils.data.DataLoader(data, batch_size=None, sampler=range(first, steps),
                                              num_workers=workers, pin_memory=pin_memory,
                                              worker_init_fn=worker_init_fn)
        step = first
        for step, batch in zip(range(first, steps), batches, strict=False):
            yield step, batch  # the caller trains, validates and may begin the next level
            if len(data.starts) != levels:
                break
        first = step + 1


def val_batches(root: str, split: str, count: int, patch: int | tuple[int, int], enlarge: float,
                batch_size: int) -> Iterator[TrackBatch]:
    """Whole target tracks of the first ``count`` clips of ``split``, in batches of at most
    ``batch_size`` tracks of equal length."""
    clips = open_dataset(root, split)
    items, length = [], None
    for i in range(min(len(clips), count)):
        clip = clips[i]
        if items and (len(items) == batch_size or clip.num_frames != length):
            yield collate(items)
            items = []
        length = clip.num_frames
        for track in make_tracks(clip, patch, enlarge):
            if len(items) == batch_size:
                yield collate(items)
                items = []
            items.append(crop_track(clip, track))
    if items:
        yield collate(items)
