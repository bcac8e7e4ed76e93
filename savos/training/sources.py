"""Where training data comes from: ``data.root`` names a dataset folder, a curriculum, or a generator
config streamed on the fly (docs/design.md, "Where training data comes from").

- a dataset folder (``dataset.json``): one level;
- a curriculum folder (``curriculum.json``, made by ``savos-gen curriculum``): its levels in order;
- a scene YAML, a chewing-gum YAML (the keys of ChewingGumConfig) or a curriculum YAML: clips are
  generated in the DataLoader workers, never written (``savos.training.batches``). Clip j of rank r at
  step s is generator clip
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

This module says what the data is and when each level begins; ``savos.training.batches`` draws the
batches from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generators.chewing_gum import ChewingGumConfig
from generators.chewing_gum import ClipMaker as GumMaker
from generators.scenes.config import SceneConfig
from generators.scenes.curriculum import load_curriculum, read_manifest
from generators.scenes.dataset import description
from generators.scenes.engine import ClipMaker
from savos import __version__
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.readers import read_yaml
from savos.training import distributed

STREAM_OFFSET = 2**40  # streamed clip indices start here; generated val sets use 0..val_clips-1


@dataclass(frozen=True)
class Source:
    kind: str  # "dataset", "curriculum" (a folder) or "stream" (a YAML)
    levels: tuple[Any, ...]  # dataset roots (str) or clip makers (index, split) -> Clip
    val_root: str
    val_maker: Any = None  # for a stream: the maker of the val set, and what dataset.json records
    val_description: Any = None


def _maker(data: Any, path: Path):
    """A clip maker and its dataset description for a scene or chewing-gum config mapping."""
    fields = set(ChewingGumConfig.__dataclass_fields__)
    if isinstance(data, dict) and data and set(data) <= fields:
        cfg = ChewingGumConfig.from_dict(data)
        desc = {"generator": "chewing-gum", "version": __version__, "config": cfg.to_dict(),
                "amodal_flow": bool(cfg.amodal_flow)}
        return (lambda seed: GumMaker(cfg, seed)), (lambda seed: {**desc, "seed": seed})
    cfg = data if isinstance(data, SceneConfig) else SceneConfig.from_dict(data, str(path))
    return (lambda seed: ClipMaker(cfg, seed)), (lambda seed: description(cfg, seed))


def resolve(root: str, val_root: str, seed: int) -> Source:
    """What ``data.root`` names (module docstring). SavosError if nothing usable is there."""
    path = Path(root)
    if path.is_dir() and (path / "dataset.json").is_file():
        return Source("dataset", (root,), val_root or root)
    if path.is_dir() and (path / "curriculum.json").is_file():
        levels = tuple(level["root"] for level in read_manifest(path)["levels"])
        return Source("curriculum", levels, val_root or levels[-1])
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        raw = read_yaml(path, "generator config")
        if isinstance(raw, dict) and "levels" in raw:
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
    if source.kind == "stream":
        text = json.dumps([m.config.to_dict() for m in source.levels], sort_keys=True)
        return "stream-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    ids = [dataset_fingerprint(root) for root in source.levels]
    return ids[0] if len(ids) == 1 else "levels-" + hashlib.sha256("-".join(ids).encode()).hexdigest()[:16]


def prepare_val(source: Source, split: str, clips: int, progress: bool = True) -> None:
    """Generate a stream's validation set once if it is missing (call on one process only)."""
    if source.kind != "stream" or (Path(source.val_root) / "dataset.json").is_file():
        return
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


def plateau_patience(source: Source, plateau: int) -> int:
    """``data.plateau`` where it applies (a source of several levels), else 0: levels follow the steps."""
    return plateau if len(source.levels) > 1 else 0


def plateaued(history: list[dict], level_start: int, patience: int) -> bool:
    """True if the last ``patience`` validations of the current level (those after step ``level_start``)
    did not improve on the best val loss before them in that level."""
    losses = [h["loss_total"] for h in history if h["step"] > level_start and "loss_total" in h]
    return len(losses) > patience and min(losses[-patience:]) >= min(losses[:-patience])


def sync_levels(d, starts: list[int]) -> None:
    """After a validation: every rank learns whether rank 0 began the next curriculum level (the
    trainer appends to ``starts`` on rank 0), and at which step, from one small all-reduce.
    ``d``: savos.training.distributed.Dist."""
    if not d.enabled:
        return
    news = torch.tensor([float(len(starts)), float(starts[-1])] if d.is_main else [0.0, 0.0], device=d.device)
    count, step = (int(v) for v in distributed.all_reduce_sum(news, d).cpu().tolist())
    if not d.is_main and count > len(starts):
        starts.append(step)
