"""Where training data comes from: ``data.root`` names a dataset folder, a curriculum, or a generator
config streamed on the fly (DESIGN.md, "Where training data comes from").

- a dataset folder (``dataset.json``): ``StepBatches`` as always;
- a curriculum folder (``curriculum.json``, made by ``savos-gen curriculum``): its levels in order;
- a scene YAML, a chewing-gum YAML (the keys of ChewingGumConfig) or a curriculum YAML: clips are
  generated in the DataLoader workers, never written. Clip j of rank r at step s is generator clip
  ``STREAM_OFFSET + (s * world + r) * batch_size + j`` with seed ``train.seed``: a pure function of
  (seed, step, rank), so resume and DDP keep their guarantees, and no clip is ever drawn twice or
  shared with the validation set (indices below STREAM_OFFSET).

Curricula follow ``data.level_steps`` (steps per level, the last level to the end; empty = equal
shares of ``train.steps``): the level of step s is fixed by s, so resume and DDP hold here too. With
``data.plateau: n`` a level instead ends at the validation after which n validations have not improved
its val loss (``plateaued``); the steps where levels began are saved in the checkpoint, and every rank
learns them from rank 0, so resume and DDP hold as well.

Validation always reads a fixed split: ``data.val_root`` if set, else ``data.root`` (a dataset), the
last level (a curriculum folder), or ``data/<stem>-val`` (a YAML). For a YAML the val dataset is
generated once, by rank 0, if it is missing (``data.val_clips`` clips of the last level's generator).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from savos.errors import SavosError
from savos.tracks import TrackBatch, collate, crop_track, make_tracks

STREAM_OFFSET = 2**40  # streamed clip indices start here; generated val sets use 0..val_clips-1


@dataclass(frozen=True)
class Source:
    kind: str  # "dataset", "curriculum" (a folder) or "stream" (a YAML)
    levels: tuple[Any, ...]  # dataset roots (str) or clip makers (index, split) -> Clip
    val_root: str
    val_maker: Any = None  # for a stream: the maker of the val set, and what dataset.json records
    val_description: Any = None


def _yaml(path: Path) -> Any:
    from savos.readers import read_yaml

    return read_yaml(path, "generator config")


def _maker(data: Any, path: Path):
    """A clip maker and its dataset description for a scene or chewing-gum config mapping."""
    from generators.chewing_gum import ChewingGumConfig
    from generators.chewing_gum import ClipMaker as GumMaker
    from generators.scenes.dataset import description
    from generators.scenes.engine import ClipMaker

    fields = set(ChewingGumConfig.__dataclass_fields__)
    if isinstance(data, dict) and data and set(data) <= fields:
        from savos import __version__

        cfg = ChewingGumConfig.from_dict(data)
        desc = {"generator": "chewing-gum", "version": __version__, "config": cfg.to_dict(),
                "amodal_flow": bool(cfg.amodal_flow)}
        return (lambda seed: GumMaker(cfg, seed)), (lambda seed: {**desc, "seed": seed})
    from generators.scenes.config import SceneConfig

    cfg = data if isinstance(data, SceneConfig) else SceneConfig.from_dict(data, str(path))
    return (lambda seed: ClipMaker(cfg, seed)), (lambda seed: description(cfg, seed))


def resolve(root: str, val_root: str, seed: int) -> Source:
    """What ``data.root`` names (module docstring). SavosError if nothing usable is there."""
    path = Path(root)
    if path.is_dir() and (path / "dataset.json").is_file():
        return Source("dataset", (root,), val_root or root)
    if path.is_dir() and (path / "curriculum.json").is_file():
        from generators.scenes.curriculum import read_manifest

        levels = tuple(level["root"] for level in read_manifest(path)["levels"])
        return Source("curriculum", levels, val_root or levels[-1])
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        raw = _yaml(path)
        if isinstance(raw, dict) and "levels" in raw:
            from generators.scenes.curriculum import load_curriculum

            makers = [_maker(level.config, path) for level in load_curriculum(path)]
        else:
            makers = [_maker(raw or {}, path)]
        return Source("stream", tuple(m(seed) for m, _ in makers), val_root or f"data/{path.stem}-val",
                      makers[-1][0](seed), makers[-1][1](seed))
    return Source("missing", (), val_root)


def fingerprint(source: Source, dataset_fingerprint) -> str:
    """The identity of what a run trains on (checked on --resume): a dataset's fingerprint
    (``savos.data.fingerprint``), the levels' joined, or for a stream the sha256 of its generators'
    descriptions (same config, same clips)."""
    import hashlib
    import json

    if source.kind == "stream":
        text = json.dumps([m.config.to_dict() for m in source.levels], sort_keys=True)
        return "stream-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    ids = [dataset_fingerprint(root) for root in source.levels]
    return ids[0] if len(ids) == 1 else "levels-" + hashlib.sha256("-".join(ids).encode()).hexdigest()[:16]


def prepare_val(source: Source, split: str, clips: int, progress: bool = True) -> None:
    """Generate a stream's validation set once if it is missing (call on one process only)."""
    if source.kind != "stream" or (Path(source.val_root) / "dataset.json").is_file():
        return
    from savos.data.writer import write_dataset

    write_dataset(source.val_root, source.val_maker, {split: max(clips, 1)}, source.val_description,
                  shard_size=100, workers=1, progress=progress)


def level_starts(levels: int, level_steps: tuple[int, ...], steps: int) -> list[int]:
    """First step of each level: ``level_steps`` per level (the last runs to the end), or equal shares."""
    if levels == 1:
        return [0]
    if level_steps:
        if len(level_steps) not in (levels - 1, levels):
            raise SavosError(f"data.level_steps: {len(level_steps)} values for {levels} levels; give one per "
                             f"level (the last level runs to the end of training)")
        sizes = list(level_steps[:levels - 1])
    else:
        sizes = [steps // levels] * (levels - 1)
    return [0, *np.cumsum(sizes).tolist()]


def plateaued(history: list[dict], level_start: int, patience: int) -> bool:
    """True if the last ``patience`` validations of the current level (those after step ``level_start``)
    did not improve on the best val loss before them in that level."""
    losses = [h["loss_total"] for h in history if h["step"] > level_start and "loss_total" in h]
    return len(losses) > patience and min(losses[-patience:]) >= min(losses[:-patience])


def sync_levels(d, starts: list[int]) -> None:
    """After a validation: every rank learns whether rank 0 began the next curriculum level (the
    trainer appends to ``starts`` on rank 0), and at which step, from one small all-reduce.
    ``d``: savos.training.distributed.Dist."""
    from savos.training import distributed

    if not d.enabled:
        return
    news = torch.tensor([float(len(starts)), float(starts[-1])] if d.is_main else [0.0, 0.0], device=d.device)
    count, step = (int(v) for v in distributed.all_reduce_sum(news, d).cpu().tolist())
    if not d.is_main and count > len(starts):
        starts.append(step)


def step_loader(data: SourceBatches, first: int, steps: int, workers: int, pin_memory: bool,
                worker_init_fn=None):
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


class SourceBatches(torch.utils.data.Dataset):
    """Item s is this process's training batch of step s from the level that step s belongs to; a pure
    function of (seed, s, rank) for every kind of source."""

    def __init__(self, source: Source, starts: list[int], split: str, patch: int | tuple[int, int],
                 enlarge: float, window: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        from savos.training.train import StepBatches

        self.source, self.starts = source, starts
        self.patch, self.enlarge, self.window = patch, enlarge, window
        self.batch_size, self.seed, self.rank, self.world = batch_size, seed, rank, world
        self.disk = [StepBatches(root, split, patch, enlarge, window, batch_size, seed, rank, world)
                     for root in source.levels] if source.kind != "stream" else None
        # training clips available (the smallest level; a stream never runs out)
        self.num_clips = min(len(b.clips) for b in self.disk) if self.disk else 2**62

    def level(self, step: int) -> int:
        return bisect.bisect_right(self.starts, step) - 1

    def __getitem__(self, step: int) -> TrackBatch:
        level = self.level(step)
        if self.disk is not None:
            return self.disk[level][step]
        maker = self.source.levels[level]
        rng = np.random.default_rng([self.seed, step])
        n = self.batch_size * self.world
        u = rng.random((n, 2))[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
        first = STREAM_OFFSET + step * n + self.rank * self.batch_size
        items = []
        for j, (u_object, u_start) in enumerate(u):
            clip = maker(first + j, "stream")
            tracks = make_tracks(clip, self.patch, self.enlarge)
            if not tracks or clip.num_frames < self.window:
                raise SavosError(f"streamed clip {first + j} has {len(tracks)} visible targets and "
                                 f"{clip.num_frames} frames (data.window={self.window}); check the "
                                 "generator config")
            track = tracks[int(u_object * len(tracks))]
            t0 = int(u_start * (clip.num_frames - self.window + 1))
            items.append(crop_track(clip, track, t0, self.window))
        return collate(items)

    def __len__(self) -> int:
        return 2**62  # indexed by step
