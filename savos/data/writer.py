"""Writing a dataset: plan shards, make them (in parallel, or a slice of them with ``shard=(i, n)``),
resume after an interruption, and write ``dataset.json`` once every shard exists.

Every shard's bytes depend only on the clips it holds, and clip i depends only on (seed, i); so serial,
parallel and sharded runs give identical folders. Progress is recorded by the shards themselves
(atomic renames): an interrupted run leaves whole shards plus ``.pending.json`` (the settings), and the
same command skips the shards that exist.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from savos.atomic import write_json_atomic
from savos.data.clip import Clip, clip_key
from savos.data.codec import encode_clip
from savos.data.dataset import INFO_NAME, SCHEMA, read_info
from savos.data.malloc import retain_freed_memory
from savos.data.shards import sha256_file, write_shard
from savos.errors import SavosError
from savos.limits import MAX_SHARD_CLIPS, cap_workers, check_count
from savos.outputs import check_writable
from savos.readers import FileFormatError, read_json

PENDING_NAME = ".pending.json"
# (global index, split) -> Clip; must be picklable. If it also has a method ``many(indices, split) ->
# list[Clip]`` (the same clips), shards are made BATCH clips at a time with it. If it has an attribute
# ``valid_by_construction = True``, clips are not validated again before encoding (readers validate).
MakeClip = Callable[[int, str], Clip]
BATCH = 25  # clips made together: numpy's per-call cost is shared, arrays still fit in the CPU caches


@dataclass(frozen=True)
class ShardJob:
    split: str
    shard: int  # position within the split
    first_index: int  # global index of its first clip
    count: int

    @property
    def name(self) -> str:
        return f"shard-{self.shard:06d}.tar"


def plan_shards(splits: dict[str, int], shard_size: int) -> list[ShardJob]:
    """Shards of every split, in order; global clip indices run across splits in the given order."""
    if shard_size < 1:
        raise SavosError(f"shard size must be >= 1, got {shard_size}")
    jobs, first = [], 0
    for split, count in splits.items():
        if count < 0:
            raise SavosError(f"split {split!r}: count must be >= 0, got {count}")
        for j, start in enumerate(range(0, count, shard_size)):
            jobs.append(ShardJob(split, j, first + start, min(shard_size, count - start)))
        first += count
    return jobs


def _make_shard(make_clip: MakeClip, root: Path, job: ShardJob) -> tuple[ShardJob, str]:
    def groups():
        many = getattr(make_clip, "many", None)
        validate = not getattr(make_clip, "valid_by_construction", False)
        for start in range(job.first_index, job.first_index + job.count, BATCH):
            indices = range(start, min(start + BATCH, job.first_index + job.count))
            clips = many(indices, job.split) if many else (make_clip(i, job.split) for i in indices)
            for i, clip in zip(indices, clips, strict=True):
                yield clip_key(i), encode_clip(clip, validate=validate)

    digest, _ = write_shard(root / job.split / job.name, groups())
    return job, digest


def _check_settings(root: Path, settings: dict[str, Any]) -> bool:
    """True if ``root`` already holds the finished dataset; raises if it holds a different one."""
    if (root / INFO_NAME).is_file():
        info = read_info(root)
        done = {k: info.get(k) for k in settings}
        if done != settings:
            raise SavosError(f"{root}: holds a dataset made with other settings; choose another --out "
                             "or delete the folder")
        return True
    pending = root / PENDING_NAME
    if pending.is_file():
        try:
            previous = read_json(pending, "record of an unfinished dataset")
        except FileFormatError:
            previous = None
        if previous != settings:
            raise SavosError(f"{root}: holds an unfinished dataset made with other settings; choose "
                             "another --out or delete the folder")
    elif root.is_dir() and any(root.iterdir()):
        raise SavosError(f"{root}: folder exists and is not a savos dataset; choose another --out")
    return False


def write_dataset(
    root: str | Path,
    make_clip: MakeClip,
    splits: dict[str, int],
    description: dict[str, Any],
    *,
    shard_size: int = 100,
    workers: int | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> dict[str, Any] | None:
    """Make the dataset (or this run's slice of it). Returns the dataset.json content when the dataset
    is complete, else None (other ``--shard`` slices still missing).

    ``description`` holds generator, version, seed, config, amodal_flow: everything that determines
    the bytes, and nothing that does not (no times, worker counts or paths).
    """
    root = check_writable(root)
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise SavosError(f"--shard must be i/n with 0 <= i < n, got {i}/{n}")
    check_count(shard_size, "shard size", 1, MAX_SHARD_CLIPS)
    for split, count in splits.items():
        check_count(count, f"split {split!r}: clip count")
    check_count(sum(splits.values()), "the total number of clips", 1)
    workers = cap_workers(workers)
    settings = {**description, "schema": SCHEMA, "shard_size": shard_size,
                "split_counts": {k: int(v) for k, v in splits.items()}}
    settings = json.loads(json.dumps(settings))  # as it reads back from disk (tuples become lists)
    if _check_settings(root, settings):
        return read_info(root)
    jobs = plan_shards(splits, shard_size)
    for split in splits:
        (root / split).mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / PENDING_NAME, settings, sort_keys=True)

    mine = [job for j, job in enumerate(jobs) if j % n == i]
    todo = [job for job in mine if not (root / job.split / job.name).is_file()]
    digests: dict[tuple[str, int], str] = {}
    _run(make_clip, root, todo, digests, workers, progress)

    if not all((root / job.split / job.name).is_file() for job in jobs):
        return None
    for job in jobs:  # shards made earlier or by other --shard runs: hash them now
        if (job.split, job.shard) not in digests:
            digests[(job.split, job.shard)] = sha256_file(root / job.split / job.name)
    info = dict(settings)
    info["splits"] = {}
    first = 0
    for split, count in splits.items():
        shards = [{"name": job.name, "first_index": job.first_index, "count": job.count,
                   "sha256": digests[(job.split, job.shard)]} for job in jobs if job.split == split]
        info["splits"][split] = {"count": int(count), "first_index": first, "shards": shards}
        first += count
    write_json_atomic(root / INFO_NAME, info, sort_keys=True)
    (root / PENDING_NAME).unlink(missing_ok=True)
    for split in splits:  # leftovers of killed runs; nobody is writing now that every shard exists
        for tmp in (root / split).glob("shard-*.tar.tmp-*"):
            tmp.unlink(missing_ok=True)
    return info


def _run(make_clip: MakeClip, root: Path, todo: list[ShardJob], digests: dict, workers: int | None,
         progress: bool) -> None:

    total = sum(job.count for job in todo)
    workers = max(1, min(workers or 1, len(todo)))
    work = partial(_make_shard, make_clip, root)
    bar = tqdm(total=total, unit="clip", disable=not progress or total == 0, file=sys.stderr,
               dynamic_ncols=True)
    try:
        if workers == 1:
            retain_freed_memory()
            results = map(work, todo)
            for job, digest in results:
                digests[(job.split, job.shard)] = digest
                bar.update(job.count)
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with mp.get_context(method).Pool(workers, initializer=retain_freed_memory) as pool:
                for job, digest in pool.imap_unordered(work, todo):
                    digests[(job.split, job.shard)] = digest
                    bar.update(job.count)
    finally:
        bar.close()
