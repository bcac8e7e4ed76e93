"""WebDataset-style tar shards: atomic, deterministic writing and safe, lazily verified reading.

A shard is a plain POSIX tar. Each clip is a group of consecutive members ``<key>.<suffix>`` (see
codec.py). Headers carry no time, owner or mode information that varies between runs, so the same clips
give the same bytes. A shard is written to ``.<name>.tmp-<pid>`` and renamed when complete: a folder only
ever holds whole shards.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from savos.atomic import temp_path
from savos.errors import SavosError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_.\-]+$")


class ShardError(SavosError):
    """A shard is missing, corrupt, or unsafe."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_BLOCK = 512  # tar block
_RECORD = 20 * _BLOCK  # a tar file is a whole number of records (what tarfile writes, too)


def ustar_header(name: str, size: int) -> bytes:
    """The 512-byte POSIX ustar header of a regular file ``name`` (< 100 ASCII bytes) of ``size`` bytes,
    with mode 0644, uid/gid 0, no owner names and mtime 0: the bytes ``tarfile`` writes for the same
    TarInfo in USTAR format (tested), built directly because tarfile costs ~30 us per member."""
    raw = name.encode("ascii")
    if len(raw) >= 100 or not 0 <= size < 8**11:
        raise ShardError(f"cannot store member {name!r} of {size} bytes in a ustar shard")
    head = b"".join((raw.ljust(100, b"\0"), b"0000644\0", b"0000000\0", b"0000000\0",
                     b"%011o\0" % size, b"00000000000\0"))
    # type "0", no link name, magic "ustar\0" version "00", no owner names, no device numbers or prefix
    tail = b"0" + b"\0" * 100 + b"ustar\x0000" + b"\0" * 247
    checksum = sum(head) + sum(tail) + 8 * 32  # the checksum field counts as 8 spaces
    return head + b"%06o\0 " % checksum + tail


def write_shard(path: Path, groups: Iterable[tuple[str, list[tuple[str, bytes]]]],
                expect: str | None = None) -> tuple[str, int]:
    """Write clips to ``path`` atomically. ``groups`` yields (key, [(suffix, bytes), ...]).

    Returns (sha256 hex digest, number of clips). The file is a plain ustar archive, one member per
    (key, suffix), closed by two zero blocks and padded to a whole record, as ``tarfile`` writes it.
    ``expect``: the digest the shard must have (a shard made again); if it differs, nothing is written
    and ShardError says so.
    """
    path = Path(path)
    tmp = temp_path(path)
    n, written, sha = 0, 0, hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            for key, members in groups:
                parts = []
                for suffix, data in members:
                    parts += (ustar_header(f"{key}.{suffix}", len(data)), data, b"\0" * (-len(data) % _BLOCK))
                chunk = b"".join(parts)
                sha.update(chunk)
                f.write(chunk)
                written += len(chunk)
                n += 1
            end = b"\0" * (2 * _BLOCK)
            end += b"\0" * (-(written + len(end)) % _RECORD)
            sha.update(end)
            f.write(end)
            f.flush()
            os.fsync(f.fileno())
        if expect is not None and sha.hexdigest() != expect:
            raise ShardError(f"{path}: made again from the recorded settings, it does not match the "
                             "recorded checksum (the dataset was made by another version of its generator); "
                             "restore the file or make the dataset again")
        os.replace(tmp, path)
    except OSError as e:  # a full disk: name the shard, leave no partial file
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha.hexdigest(), n


@dataclass
class ShardReader:
    """Random access to the clips of one shard. Checks the checksum on first use (if one is given)
    and refuses member names with path components."""

    path: Path
    sha256: str | None = None
    _index: dict[str, dict[str, tuple[int, int]]] | None = field(default=None, repr=False)
    _keys: list[str] = field(default_factory=list, repr=False)

    def _load(self) -> None:
        if self._index is not None:
            return
        if not self.path.is_file():
            raise ShardError(f"{self.path}: shard is missing; regenerate it (`savos-gen verify --repair`, or "
                             "re-run the same savos-gen command) or restore the file")
        if self.sha256 is not None:
            actual = sha256_file(self.path)
            if actual != self.sha256:
                raise ShardError(f"{self.path}: checksum mismatch (the file is corrupt or was changed); "
                                 "regenerate it (`savos-gen verify --repair`, or re-run the same savos-gen "
                                 "command) or restore it")
        index: dict[str, dict[str, tuple[int, int]]] = {}
        try:
            with tarfile.open(self.path, mode="r:") as tar:
                for m in tar:
                    if not m.isfile() or not _SAFE_NAME.match(m.name) or ".." in m.name:
                        raise ShardError(f"{self.path}: refusing unsafe member name {m.name!r}")
                    key, suffix = m.name.split(".", 1)
                    index.setdefault(key, {})[suffix] = (m.offset_data, m.size)
        except tarfile.TarError as e:
            raise ShardError(f"{self.path}: not a readable tar shard ({e}); regenerate it") from None
        self._index = index
        self._keys = list(index)

    def keys(self) -> list[str]:
        self._load()
        return list(self._keys)

    def read(self, key: str, suffixes: tuple[str, ...] | None = None) -> dict[str, bytes]:
        """The members of clip ``key`` as {suffix: bytes} (only ``suffixes``, those present, if given)."""
        self._load()
        assert self._index is not None
        if key not in self._index:
            raise ShardError(f"{self.path}: no clip {key!r} in this shard")
        out = {}
        with open(self.path, "rb") as f:
            for suffix, (offset, size) in self._index[key].items():
                if suffixes is not None and suffix not in suffixes:
                    continue
                f.seek(offset)
                out[suffix] = f.read(size)
                if len(out[suffix]) != size:
                    raise ShardError(f"{self.path}: clip {key}: member {suffix} is truncated")
        return out
