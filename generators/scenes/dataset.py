"""A scene dataset on disk: split counts, the description that fixes its bytes, and the one writer
(``savos.data.writer.write_dataset``: shards, workers, ``--shard i/n``, resume)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generators.scenes.config import SceneConfig, load_scene
from generators.scenes.engine import GENERATOR, ClipMaker
from savos import __version__
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.limits import MAX_CLIPS, check_count


def split_counts(n: int, val: int | None = None, test: int | None = None) -> dict[str, int]:
    """{"train", "val", "test"} clip counts; val and test default to 10 % of n each."""

    check_count(n, "--n", 1, MAX_CLIPS)
    val = round(0.1 * n) if val is None else check_count(val, "--val")
    test = round(0.1 * n) if test is None else check_count(test, "--test")
    if val + test > n:
        raise SavosError(f"--val {val} and --test {test} must be >= 0 and add up to at most --n {n}")
    return {"train": n - val - test, "val": val, "test": test}


def description(config: SceneConfig, seed: int) -> dict[str, Any]:
    """What determines a scene dataset's bytes (dataset.json; a resumed run must match it)."""

    return {"generator": GENERATOR, "version": __version__, "seed": int(seed), "config": config.to_dict(),
            "amodal_flow": bool(config.amodal_flow)}


def write_scene_dataset(scene: str | Path | SceneConfig, out: str | Path, *, n: int, seed: int = 0,
                        val: int | None = None, test: int | None = None, splits: dict[str, int] | None = None,
                        workers: int | None = None, shard: tuple[int, int] = (0, 1), shard_size: int = 100,
                        progress: bool = True) -> dict[str, Any] | None:
    """Write (or resume) a scene dataset; returns dataset.json's content, or None while other
    ``shard`` slices are missing. ``scene`` is a YAML path or a SceneConfig; ``splits`` (a dict of
    split counts) overrides n, val and test."""

    config = scene if isinstance(scene, SceneConfig) else load_scene(scene)
    counts = splits if splits is not None else split_counts(n, val, test)
    return write_dataset(out, ClipMaker(config, seed), counts, description(config, seed),
                         shard_size=shard_size, workers=workers, shard=shard, progress=progress)
