"""Writing a dataset: plan shards, make them (in parallel, or a slice of them with ``shard=(i, n)``),
resume after an interruption, repair, and write ``dataset.json`` once every shard exists.

Every shard's bytes depend only on the clips it holds, and clip i depends only on (seed, i); so serial,
parallel and sharded runs give identical folders. Progress is recorded by the shards themselves
(atomic renames) and by the checksum recorded for each as it is finished (``.shard-sums/``): an
interrupted run leaves whole shards plus ``.pending.json`` (the settings), and the same command skips
the shards that match their record and makes the others again; ``dataset.json`` lists only checksums
that were recorded when the shard was made and checked since. The same command on a finished dataset
makes again any shard that is missing or fails its checksum (``repair_shards``), bit for bit.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from savos.atomic import is_temp_of, write_bytes_atomic, write_json_atomic
from savos.data.clip import Clip, clip_key
from savos.data.codec import encode_clip
from savos.data.dataset import INFO_NAME, SCHEMA, read_info
from savos.data.malloc import retain_freed_memory
from savos.data.shards import sha256_file, write_shard
from savos.errors import SavosError, note
from savos.limits import MAX_SHARD_CLIPS, cap_workers, check_count
from savos.outputs import OwnedDir, open_output
from savos.readers import FileFormatError, read_json

PENDING_NAME = ".pending.json"
SUMS = ".shard-sums"  # <split>/<shard>.sha256: each finished shard's digest, until dataset.json holds them
# (global index, split) -> Clip; must be picklable. If it also has a method ``many(indices, split) ->
# list[Clip]`` (the same clips), shards are made BATCH clips at a time with it. If it has an attribute
# ``valid_by_construction = True``, clips are not validated again before encoding (readers validate). If it
# has a method ``encode(index, split) -> members`` (``codec.encode_clip``'s bytes of the same clip, made
# without holding the clip, as importers do), shards are made from it, clip by clip.
MakeClip = Callable[[int, str], Clip]
BATCH = 25  # clips made together: numpy's per-call cost is shared, arrays still fit in the CPU caches


@dataclass(frozen=True)
class ShardJob:
    split: str
    shard: int  # position within the split
    first_index: int  # global index of its first clip
    count: int
    sha256: str | None = None  # the digest a shard made again must have (repair), else None

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


def _make_shard(make_clip: MakeClip, root: Path, record: bool, job: ShardJob) -> tuple[ShardJob, str]:
    def groups():
        encode = getattr(make_clip, "encode", None)
        if encode is not None:
            for i in range(job.first_index, job.first_index + job.count):
                yield clip_key(i), encode(i, job.split)
            return
        many = getattr(make_clip, "many", None)
        validate = not getattr(make_clip, "valid_by_construction", False)
        for start in range(job.first_index, job.first_index + job.count, BATCH):
            indices = range(start, min(start + BATCH, job.first_index + job.count))
            clips = many(indices, job.split) if many else (make_clip(i, job.split) for i in indices)
            for i, clip in zip(indices, clips, strict=True):
                yield clip_key(i), encode_clip(clip, validate=validate)

    digest, _ = write_shard(root / job.split / job.name, groups(), expect=job.sha256)
    if record:  # after the rename: a recorded shard is complete
        write_bytes_atomic(_sum_path(root, job), digest.encode())
    return job, digest


def _check_settings(folder: OwnedDir, settings: dict[str, Any]) -> bool:
    """True if the folder already holds the finished dataset; raises if it holds a different one."""
    root = folder.path
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
    elif folder.foreign() or any((root / n).exists() for n in folder.owned()):
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
    command: str | None = None,
) -> dict[str, Any] | None:
    """Make the dataset (or this run's slice of it). Returns the dataset.json content when the dataset
    is complete, else None (other ``--shard`` slices still missing).

    ``description`` holds generator, version, seed, config, amodal_flow: everything that determines
    the bytes, and nothing that does not (no times, worker counts or paths). ``command`` names the
    writer in the folder's manifest and lock [default: savos-gen <generator>].

    A folder that already holds this dataset is checked and repaired (``repair_shards``): a shard
    that is missing or fails its checksum is made again.
    """
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
    command = command or f"savos-gen {description.get('generator', 'dataset')}"
    with open_output(root, command, slice=shard) as folder:
        if _check_settings(folder, settings):
            info = read_info(folder.path)
            folder.claim([INFO_NAME, *info["splits"]])
            repair_shards(folder.path, make_clip, info, workers=workers, progress=progress)
            return info
        folder.claim([INFO_NAME, PENDING_NAME, SUMS, *splits])
        return _write_slice(folder.path, make_clip, splits, settings, shard, workers, progress)


def _write_slice(root: Path, make_clip: MakeClip, splits: dict[str, int], settings: dict[str, Any],
                 shard: tuple[int, int], workers: int, progress: bool) -> dict[str, Any] | None:
    i, n = shard
    jobs = plan_shards(splits, int(settings["shard_size"]))
    for split in splits:
        (root / split).mkdir(parents=True, exist_ok=True)
    write_json_atomic(root / PENDING_NAME, settings, sort_keys=True)

    digests: dict[tuple[str, int], str] = {}
    todo = []
    for job in (job for j, job in enumerate(jobs) if j % n == i):
        digest = _finished(root, job)
        if digest is None:
            todo.append(job)
        else:
            digests[(job.split, job.shard)] = digest
    _run(make_clip, root, todo, digests, workers, progress)

    bad = []
    for job in jobs:  # shards made earlier or by other --shard runs: checked against their record
        if (job.split, job.shard) in digests:
            continue
        if not (_path(root, job).is_file() and _sum_path(root, job).is_file()):
            return None  # another slice has not finished it yet
        digest = _finished(root, job)
        if digest is None:
            bad.append(job)
        else:
            digests[(job.split, job.shard)] = digest
    _run(make_clip, root, bad, digests, workers, progress)

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
    shutil.rmtree(root / SUMS, ignore_errors=True)
    for job in jobs:  # leftovers of killed runs: exactly the temporary names of this dataset's shards
        for entry in os.listdir(root / job.split):
            if is_temp_of(entry, job.name):
                (root / job.split / entry).unlink(missing_ok=True)
    return info


def _path(root: Path, job: ShardJob) -> Path:
    return root / job.split / job.name


def _sum_path(root: Path, job: ShardJob) -> Path:
    """Where an unfinished dataset records the checksum of a shard once it is complete."""
    return root / SUMS / job.split / f"{job.name}.sha256"


def _finished(root: Path, job: ShardJob) -> str | None:
    """The digest of a shard made earlier if it matches the checksum recorded when it was made; None if
    it must be made (again): missing, never recorded (its run was killed before recording it), or
    changed since (then a note says so)."""
    path, record = _path(root, job), _sum_path(root, job)
    if not path.is_file() or not record.is_file():
        return None
    digest = sha256_file(path)
    if digest != record.read_text().strip():
        note(f"{path}: does not match the checksum recorded when it was made; making it again")
        return None
    return digest


def repair_shards(root: str | Path, make_clip: MakeClip, info: dict[str, Any], *, workers: int | None = None,
                  progress: bool = True) -> list[str]:
    """Make again every shard of a finished dataset that is missing or fails the checksum in
    dataset.json (``info``), from the same settings: the bytes are those of the original, or ShardError
    names the shard (made by another version of its generator) and leaves the file as it was.
    -> the paths of the shards made again."""
    root = Path(root)
    jobs = []
    for split, entry in info["splits"].items():
        for j, recorded in enumerate(entry["shards"]):
            job = ShardJob(split, j, int(recorded["first_index"]), int(recorded["count"]),
                           str(recorded["sha256"]))
            if recorded["name"] != job.name:
                raise SavosError(f"{root / INFO_NAME}: split {split!r}: shard {j} is named "
                                 f"{recorded['name']!r}, not {job.name!r}; make the dataset again")
            path = _path(root, job)
            why = ("missing" if not path.is_file() else
                   "fails its checksum" if sha256_file(path) != job.sha256 else None)
            if why:
                note(f"{path}: {why}; making it again from the settings in {INFO_NAME}")
                jobs.append(job)
    for split in {job.split for job in jobs}:
        (root / split).mkdir(parents=True, exist_ok=True)
    _run(make_clip, root, jobs, {}, cap_workers(workers), progress, record=False)
    return [str(_path(root, job)) for job in jobs]


def _run(make_clip: MakeClip, root: Path, todo: list[ShardJob], digests: dict, workers: int | None,
         progress: bool, record: bool = True) -> None:
    if not todo:
        return
    total = sum(job.count for job in todo)
    workers = max(1, min(workers or 1, len(todo)))
    work = partial(_make_shard, make_clip, root, record)
    # Makers of clips that live long and leave long-lived pieces between large temporaries (an import's
    # compressed members) opt out: glibc would keep every freed hole below them.
    tune = retain_freed_memory if getattr(make_clip, "retain_freed_memory", True) else None
    bar = tqdm(total=total, unit="clip", disable=not progress or total == 0, file=sys.stderr,
               dynamic_ncols=True)
    try:
        if workers == 1:
            if tune:
                tune()
            results = map(work, todo)
            for job, digest in results:
                digests[(job.split, job.shard)] = digest
                bar.update(job.count)
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            with mp.get_context(method).Pool(workers, initializer=tune) as pool:
                for job, digest in pool.imap_unordered(work, todo):
                    digests[(job.split, job.shard)] = digest
                    bar.update(job.count)
    finally:
        bar.close()
