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
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from savos.data.clip import Clip, ClipError, clip_key
from savos.data.codec import decode_clip
from savos.data.shards import ShardError, ShardReader
from savos.errors import SavosError

SCHEMA = 1
INFO_NAME = "dataset.json"


def read_info(root: str | Path) -> dict[str, Any]:
    """Parse ``root/dataset.json`` with one-line errors."""
    path = Path(root) / INFO_NAME
    if not path.is_file():
        if not Path(root).exists():
            raise SavosError(f"{root}: no such dataset folder; make one with "
                             f"`savos-gen chewing-gum --out {root}`")
        raise SavosError(f"{path}: missing; {root} is not a finished savos dataset "
                         "(re-run the savos-gen command that made it to finish it)")
    try:
        info = json.loads(path.read_text())
        if info.get("schema") != SCHEMA:
            raise SavosError(f"{path}: schema {info.get('schema')!r} is not supported (expected {SCHEMA})")
        for split in info["splits"].values():
            for s in split["shards"]:
                int(s["count"]), int(s["first_index"]), str(s["sha256"]), str(s["name"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SavosError(f"{path}: corrupt dataset description ({type(e).__name__}: {e})") from None
    return info


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
            name = s["name"]
            if "/" in name or "\\" in name or name.startswith("."):
                raise ShardError(f"{self.root / INFO_NAME}: refusing unsafe shard name {name!r}")
            digest = s["sha256"] if self._verify else None
            self._readers[j] = ShardReader(self.root / self.split / name, digest)
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
