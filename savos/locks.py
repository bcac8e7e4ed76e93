"""Single-writer locks on output folders.

Every savos command that writes into a folder first takes an exclusive ``fcntl.flock`` on the folder's
lock file ``.savos-lock`` and records in it who holds it (pid, host, command, since when). A second
writer is refused at once with one line naming the holder; nothing waits. The kernel drops a flock when
its process ends, however it ends (a ``kill -9`` too), so a lock is never stale: a lock file left by a
killed process is simply taken over.

Dataset slices (``savos-gen ... --shard i/n``) may run side by side: each takes the folder's lock
*shared* and its own slice lock ``.savos-lock-<i>of<n>`` exclusive; a whole run takes the folder's lock
exclusive, so it excludes every slice.

The lock file is unlinked while still held, on release; a process that locks a file that is no longer
the one at the path (it was unlinked meanwhile) drops it and tries again. A folder that the lock itself
created is removed again on release if nothing else was written into it.

Locks are re-entrant within a process (``hold`` nests): a command that writes a subfolder or scores
predictions into a folder it already holds does not lock itself out.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from savos.errors import SavosError

LOCK_NAME = ".savos-lock"
SLICE_PREFIX = ".savos-lock-"


class LockedError(SavosError):
    """The output folder is being written by another process."""


def is_lock_name(name: str) -> bool:
    return name == LOCK_NAME or name.startswith(SLICE_PREFIX)


@dataclass
class _Held:
    fds: list[tuple[int, Path]]  # (open file, its path), the folder's lock first
    created: list[Path]  # folders that taking the lock created, deepest first
    count: int = 1


_HELD: dict[tuple[str, str], _Held] = {}  # (resolved folder, slice) -> what this process holds


def _holder(path: Path) -> str:
    """``savos train (pid 123 on host, since 2024-05-01 12:00:03)`` from a lock file, or a vaguer line."""
    try:
        doc = json.loads(path.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(doc["since"])))
        return f"{doc['command']} (pid {int(doc['pid'])} on {doc['host']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another savos command"


def _describe_holders(folder: Path, path: Path) -> str:
    """Who holds ``path``; for a folder lock held shared, the slices that hold it."""
    who = _holder(path)
    if who == "another savos command" and path.name == LOCK_NAME:
        slices = sorted(folder.glob(f"{SLICE_PREFIX}*"))
        named = [_holder(p) for p in slices]
        named = [n for n in named if n != "another savos command"]
        if named:
            more = f" and {len(named) - 1} more" if len(named) > 1 else ""
            who = named[0] + more
    return who


def _lock_file(path: Path, shared: bool, command: str, flag: str, folder: Path) -> int:
    """Open and flock ``path``; -> its descriptor. LockedError names the holder if it is taken."""
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OSError(e.errno, e.strerror, str(folder)) from None
            raise LockedError(f"{flag} {folder}: in use by {_describe_holders(folder, path)}; wait for it to "
                              f"finish or choose another {flag}") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # unlinked by its holder between our open and our flock: take the new file
    if not shared:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "argv": shlex.join(sys.argv), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return fd


def _release(held: _Held) -> None:
    for fd, path in reversed(held.fds):
        try:
            # Unlink only a file we hold exclusively (a shared holder upgrades without waiting first).
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                path.unlink()
        except OSError:
            pass  # another holder keeps the file; the kernel drops our lock when the file is closed
        finally:
            os.close(fd)
    for made in held.created:
        try:  # only an empty folder: anything written there stays
            made.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def hold(folder: str | Path, command: str, flag: str = "--out", slice: tuple[int, int] | None = None
         ) -> Iterator[Path]:
    """Hold the write lock of ``folder`` (created if missing) while the block runs; -> the folder.

    ``command`` (e.g. "savos train") is what a refused second writer is told. ``slice=(i, n)`` with n > 1
    takes the folder lock shared plus the lock of slice i of n (dataset slices run side by side).
    """
    folder = Path(folder)
    part = f"{slice[0]}of{slice[1]}" if slice is not None and slice[1] > 1 else ""
    key = (str(folder.resolve()), part)
    if key in _HELD:
        _HELD[key].count += 1
    else:
        created, probe = [], folder
        while not probe.exists() and probe.parent != probe:
            created.append(probe)
            probe = probe.parent
        folder.mkdir(parents=True, exist_ok=True)
        held = _Held([], created)
        try:
            held.fds.append((_lock_file(folder / LOCK_NAME, bool(part), command, flag, folder),
                             folder / LOCK_NAME))
            if part:
                path = folder / f"{SLICE_PREFIX}{part}"
                held.fds.append((_lock_file(path, False, command, flag, folder), path))
        except BaseException:
            _release(held)
            raise
        _HELD[key] = held
    try:
        yield folder
    finally:
        entry = _HELD[key]
        entry.count -= 1
        if entry.count == 0:
            del _HELD[key]
            _release(entry)
