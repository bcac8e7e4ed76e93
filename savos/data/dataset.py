"""A dataset folder: ``dataset.json`` plus ``<split>/shard-NNNNNN.tar``; reading it as Clips.

``dataset.json`` (written last, atomically, by savos.data.writer):

    {"schema": 1, "generator": "chewing-gum", "version": "0.1.0", "seed": 0, "config": {...},
     "shard_size": 100, "amodal_flow": true,
     "splits": {"train": {"count": 4000, "first_index": 0,
                          "shards": [{"name": "shard-000000.tar", "first_index": 0, "count": 100,
                                      "sha256": "..."}, ...]}, ...}}

Clip indices are global across splits (train first, then val, then test), so a clip's key
``clip_<index:06d>`` and its seed ``[seed, index]`` are unique in the dataset.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from savos.data.clip import Clip, ClipError, clip_key
from savos.data.codec import decode_clip, decode_meta
from savos.data.shards import ShardError, ShardReader
from savos.errors import SavosError, brief
from savos.limits import MAX_CLIPS, MAX_SHARD_CLIPS
from savos.readers import FileFormatError, need, read_json, safe_name

SCHEMA = 1
INFO_NAME = "dataset.json"


_FIX = "regenerate the dataset with the savos-gen command that made it"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def read_info(root: str | Path) -> dict[str, Any]:
    """Parse and check ``root/dataset.json`` before anything is allocated from it: every field has its
    type; every split and shard name is one plain path component; counts and indices lie within the
    bounds of savos.limits (MAX_CLIPS clips in all, at most ``shard_size`` <= MAX_SHARD_CLIPS per shard);
    and the shards of each split add up to its count with consecutive clip indices. Problems are
    one-line SavosErrors naming the file and the field."""
    path = Path(root) / INFO_NAME
    if not path.is_file():
        if not Path(root).exists():
            raise SavosError(f"{root}: no such dataset folder; make one with "
                             f"`savos-gen chewing-gum --out {root}`")
        if not Path(root).is_dir():
            raise SavosError(f"{root}: is a file, not a dataset folder")
        raise SavosError(f"{path}: missing; {root} is not a finished savos dataset "
                         "(re-run the savos-gen command that made it to finish it)")
    info = read_json(path, "dataset description", _FIX)
    if not isinstance(info, dict):
        raise FileFormatError(f"{path}: expected a mapping of fields, got {type(info).__name__}; {_FIX}")
    if type(info.get("schema")) is not int or info["schema"] != SCHEMA:  # true == 1, but is no schema
        raise SavosError(f"{path}: schema {brief(info.get('schema'))} is not supported (expected {SCHEMA})")
    _check_made_with(info, path)
    per_shard = info.get("shard_size") or MAX_SHARD_CLIPS
    splits = need(info, "splits", dict, path, _FIX)
    if not splits:
        raise FileFormatError(f"{path}: field 'splits' is empty; {_FIX}")
    total = 0
    for split, sp in splits.items():
        where = f"{path}: split {brief(split)}"
        safe_name(split, path, "split", _FIX)
        count = need(sp, "count", int, where, _FIX, minimum=0, maximum=MAX_CLIPS)
        index = need(sp, "first_index", int, where, _FIX, minimum=0, maximum=MAX_CLIPS)
        total += count
        if total > MAX_CLIPS or index + count > MAX_CLIPS:
            raise FileFormatError(f"{where}: counts add up to more than {MAX_CLIPS:,} clips, more than "
                                  f"any dataset holds; {_FIX}")
        shards = need(sp, "shards", list, where, _FIX)
        if len(shards) > count:
            raise FileFormatError(f"{where}: lists {len(shards)} shards for {count} clips; {_FIX}")
        for j, s in enumerate(shards):
            at = f"{where}: shard {j}"
            safe_name(need(s, "name", str, at, _FIX), path, "shard", _FIX)
            n = need(s, "count", int, at, _FIX, minimum=1, maximum=per_shard)
            if need(s, "first_index", int, at, _FIX, minimum=0, maximum=MAX_CLIPS) != index:
                raise FileFormatError(f"{at}: first_index {s['first_index']} does not follow the shard "
                                      f"before it (expected {index}); {_FIX}")
            if not _SHA256.fullmatch(need(s, "sha256", str, at, _FIX)):
                raise FileFormatError(f"{at}: field 'sha256' must be 64 hex digits, got "
                                      f"{brief(s['sha256'])}; {_FIX}")
            index += n
        if index - sp["first_index"] != count:
            raise FileFormatError(f"{where}: its shards hold {index - sp['first_index']} clips but its "
                                  f"count is {count}; {_FIX}")
    return info


def _check_made_with(info: dict[str, Any], path: Path) -> None:
    """Types and bounds of the fields that describe how the dataset was made (the writer's settings)."""
    need(info, "generator", str, path, _FIX, optional=True)
    need(info, "version", str, path, _FIX, optional=True)
    need(info, "seed", (int, type(None)), path, _FIX, optional=True)
    need(info, "config", (dict, type(None)), path, _FIX, optional=True)
    need(info, "amodal_flow", bool, path, _FIX, optional=True)
    need(info, "shard_size", int, path, _FIX, minimum=1, maximum=MAX_SHARD_CLIPS, optional=True)
    made = need(info, "split_counts", dict, path, _FIX, optional=True) or {}
    for split in made:
        safe_name(split, path, "split", _FIX)
        need(made, split, int, f"{path}: split_counts", _FIX, minimum=0, maximum=MAX_CLIPS)


def fingerprint(root: str | Path) -> str:
    """The identity of a dataset: the first 16 hex digits of the sha256 of its ``dataset.json`` (which
    holds every shard's checksum, so it names the content). Outputs record it; readers compare it."""
    path = Path(root) / INFO_NAME
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as e:
        raise SavosError(f"{path}: cannot read ({e.strerror})") from None


class ClipDataset(Sequence):
    """The clips of one split, read lazily from shards (``len``, ``[i]``, iteration)."""

    def __init__(self, root: str | Path, split: str = "train", verify: bool = True):
        self.root = Path(root)
        self.split = split
        self.info = read_info(self.root)
        splits = self.info["splits"]
        if split not in splits:
            raise SavosError(f"{self.root}: no split {split!r}; it has {', '.join(splits) or 'none'}")
        self._shards = splits[split]["shards"]
        self._starts = []  # local start position of each shard in this split
        n = 0
        for s in self._shards:
            self._starts.append(n)
            n += int(s["count"])
        self._len = n
        self._verify = verify
        self._readers: dict[int, ShardReader] = {}

    def __len__(self) -> int:
        return self._len

    def _reader(self, j: int) -> ShardReader:
        if j not in self._readers:
            s = self._shards[j]
            digest = s["sha256"] if self._verify else None
            reader = ShardReader(self.root / self.split / s["name"], digest)
            first, count = int(s["first_index"]), int(s["count"])
            keys = reader.keys()
            if keys != [clip_key(first + k) for k in range(count)]:
                start = keys[0] if keys else "none"
                raise ShardError(f"{reader.path}: holds {len(keys)} clips from {start}, but "
                                 f"{self.root / INFO_NAME} lists {count} from {clip_key(first)}; "
                                 "regenerate the dataset")
            self._readers[j] = reader
        return self._readers[j]

    def locate(self, i: int) -> tuple[Path, str]:
        """(shard path, clip key) of local index i."""
        j = bisect.bisect_right(self._starts, i) - 1
        s = self._shards[j]
        return self.root / self.split / s["name"], clip_key(int(s["first_index"]) + i - self._starts[j])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"clip {i} out of range for {len(self)} clips in split {self.split!r}")
        j = bisect.bisect_right(self._starts, i) - 1
        path, key = self.locate(i)
        members = self._reader(j).read(key)
        try:
            return decode_clip(members)
        except ClipError as e:
            raise ShardError(f"{path}: clip {key}: {e}; regenerate this shard") from None

    def meta(self, i: int) -> dict[str, Any]:
        """The ``meta`` of local clip i, read without decoding its arrays."""
        if not 0 <= i < len(self):
            raise IndexError(f"clip {i} out of range for {len(self)} clips in split {self.split!r}")
        path, key = self.locate(i)
        members = self._reader(bisect.bisect_right(self._starts, i) - 1).read(key, ("meta.json.zst",))
        try:
            return decode_meta(members)
        except ClipError as e:
            raise ShardError(f"{path}: clip {key}: {e}; regenerate this shard") from None

    def __iter__(self) -> Iterator[Clip]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"ClipDataset(root={str(self.root)!r}, split={self.split!r}, clips={len(self)})"


def open_dataset(root: str | Path, split: str = "train", verify: bool = True) -> ClipDataset:
    """Open one split of a dataset folder as a sequence of Clips.

    Shard checksums are verified lazily, the first time a shard is read (``verify=False`` skips it).
    """
    return ClipDataset(root, split, verify=verify)
