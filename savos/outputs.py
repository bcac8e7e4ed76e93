"""Output folders: checked before work starts, locked while written, and owned file by file.

Every savos command that writes into a folder lists the names it writes in the folder's manifest
``.savos-files.json`` *before* writing them (``OwnedDir.claim``), with the command that wrote them. A
command deletes or replaces only names in the manifest that a command of its own *kind* claimed (a run,
a dataset, predictions, ...: ``kind_of``); anything else in the folder is left alone. A name that a
command would write but that exists without being in the manifest is refused, naming the file.

A folder that holds another kind of output is refused as ``--out`` (``OwnedDir.check_kind``): a
prediction folder is not written into a run, nor a run into a dataset. Only evaluation metrics may join
a prediction folder (``savos eval`` writes them next to the predictions by default), and previews any
folder. The kinds come from the manifest; a folder written without one is recognised by its
``dataset.json``, ``last.pt`` or ``predictions.json``.

``open_output`` is how every command opens its output folder: checked writable, locked against a second
writer (``savos.locks``), and checked for another kind of output.

``check_writable`` runs before any work: the output's name must be UTF-8 text, and the output (or its
nearest existing ancestor) a folder we can write into, not a file; so a typo costs one line, not an hour
of training.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from savos.atomic import is_temp_of, temp_path, write_json_atomic
from savos.errors import SavosError
from savos.locks import hold, is_lock_name
from savos.readers import need, read_json

MANIFEST = ".savos-files.json"

# Command (or its first words) -> the kind of output it writes; the first match wins.
KINDS = (("savos train", "run"), ("savos predict", "predictions"), ("savos baseline", "predictions"),
         ("savos adapt", "adapt"), ("savos eval", "eval"), ("savos report", "report"),
         ("savos-gen curriculum", "curriculum"), ("savos-gen gallery", "gallery"),
         ("savos-gen preview", "preview"), ("savos-gen export", "export"), ("savos-gen", "dataset"))
KIND_NAMES = {"run": "a training run", "predictions": "predictions", "adapt": "adapted predictions",
              "eval": "evaluation metrics", "report": "a report", "curriculum": "a curriculum",
              "gallery": "a gallery", "preview": "previews", "export": "an export",
              "dataset": "a dataset"}
# Kinds that may join a folder of another kind: kind -> the kinds of folder they may join (None: any).
GUESTS: dict[str, set[str] | None] = {"eval": {"predictions", "adapt"}, "preview": None}
# Files that say what a folder holds when no manifest claims them (folders written without one).
MARKERS = {"dataset.json": "dataset", ".pending.json": "dataset", "curriculum.json": "curriculum",
           "last.pt": "run", "best.pt": "run", "predictions.json": "predictions", "export.json": "export"}


def kind_of(command: str) -> str:
    """The kind of output ``command`` writes (``KINDS``); an unknown command is a kind of its own."""
    for prefix, kind in KINDS:
        if command == prefix or command.startswith(prefix + " "):
            return kind
    return command


def check_utf8_name(path: str | Path, flag: str = "--out") -> Path:
    """``path`` if its name is UTF-8 text, else a one-line SavosError: outputs record their paths in JSON,
    YAML and TensorBoard files, which hold text only, so a name of other bytes would fail halfway."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(str(path)).decode("utf-8", "backslashreplace")  # the bytes as \xNN
        raise SavosError(f"{flag} {shown}: the name is not UTF-8 text, and savos records output paths "
                         "as text; choose a name in UTF-8") from None
    return Path(path)


def check_writable(path: str | Path, flag: str = "--out") -> Path:
    """Raise a one-line SavosError unless folder ``path`` has a UTF-8 name and exists and is writable or
    can be created."""
    path = check_utf8_name(path, flag)
    if path.exists() and not path.is_dir():
        raise SavosError(f"{flag} {path}: exists and is not a folder; choose another {flag}")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise SavosError(f"{flag} {path}: {probe} is a file, not a folder; choose another {flag}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SavosError(f"{flag} {path}: {probe} is not writable; choose another {flag} or fix its "
                         "permissions")
    return path


def check_writable_file(path: str | Path, flag: str = "--out") -> Path:
    """Like check_writable, for a file output: its folder must be writable, it must not be a folder."""
    path = check_utf8_name(path, flag)
    if path.is_dir():
        raise SavosError(f"{flag} {path}: is a folder; give a file name")
    check_writable(path.parent if str(path.parent) else Path("."), flag)
    return path


def _is_temp_of(entry: str, owned: set[str]) -> bool:
    """Whether ``entry`` is a temporary file (``savos.atomic.temp_path``) of a write of an owned name."""
    if not (entry.startswith(".") and ".tmp-" in entry):
        return False
    base = entry[1:].rsplit(".tmp-", 1)[0]
    return base in owned and is_temp_of(entry, base)


def _may_join(guest: str, host: str) -> bool:
    """Whether output of kind ``guest`` may sit in a folder of kind ``host`` (``GUESTS``)."""
    if guest not in GUESTS:
        return False
    hosts = GUESTS[guest]
    return hosts is None or host in hosts


def _bookkeeping(name: str) -> bool:
    """The manifest and the lock files: savos's, in every output folder, never an output."""
    return name == MANIFEST or is_lock_name(name)


class OwnedDir:
    """A folder whose savos-written files are listed in its manifest."""

    def __init__(self, path: str | Path, command: str):
        self.path = Path(path)
        self.command = command  # e.g. "savos predict", recorded with each claim
        self.kind = kind_of(command)

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    def owned(self) -> dict[str, str]:
        """{name: command that claimed it} from the manifest (names may not exist yet)."""
        if not self.manifest.exists():
            return {}
        fix = "delete it only if this folder holds nothing you want to keep"
        doc = read_json(self.manifest, "savos file manifest", fix)
        files = need(doc, "files", dict, self.manifest, fix)
        return {str(k): str(v) for k, v in files.items()}

    def entries(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []

    def mine(self) -> set[str]:
        """Owned names claimed by a command of this command's kind."""
        return {n for n, c in self.owned().items() if kind_of(c) == self.kind}

    def foreign(self) -> list[str]:
        """Names in the folder that no savos command claimed (the manifest and locks excluded)."""
        owned = set(self.owned())
        return [n for n in self.entries()
                if not _bookkeeping(n) and n not in owned and not _is_temp_of(n, owned)]

    def kinds(self) -> dict[str, list[str]]:
        """{kind: names there} of the outputs the folder holds: claimed names that exist, by the kind of
        the command that claimed them, and unclaimed marker files (``MARKERS``)."""
        owned, out = self.owned(), {}
        for name in self.entries():
            if name in owned:
                out.setdefault(kind_of(owned[name]), []).append(name)
            elif name in MARKERS:
                out.setdefault(MARKERS[name], []).append(name)
        return out

    def check_kind(self, flag: str = "--out") -> None:
        """Refuse the folder if it holds a kind of output this command may not write beside (module
        docstring), naming what is there (its main kind first)."""
        for kind, names in sorted(self.kinds().items(), key=lambda kv: (kv[0] in GUESTS, kv[0])):
            if kind == self.kind or _may_join(kind, self.kind) or _may_join(self.kind, kind):
                continue
            what = KIND_NAMES.get(kind, f"the output of {kind}")
            raise SavosError(f"{flag} {self.path}: holds {what} ({describe(sorted(names))}); "
                             f"{self.command} does not write {KIND_NAMES.get(self.kind, 'its output')} "
                             f"into it: choose another {flag}")

    def refuse_collisions(self, names: Iterable[str], flag: str = "--out") -> None:
        """Refuse if any of ``names`` exists in the folder without being owned."""
        owned = set(self.owned())
        clash = [n for n in names if n not in owned and (self.path / n).exists()]
        if clash:
            more = f" and {len(clash) - 1} more" if len(clash) > 1 else ""
            raise SavosError(f"{flag} {self.path}: {clash[0]}{more} exists and was not written by savos; "
                             f"savos will not replace it: move it or choose another {flag}")

    def claim(self, names: Iterable[str]) -> None:
        """Add ``names`` to the manifest (atomically), before writing them."""
        owned = self.owned()
        new = {n: self.command for n in names if n not in owned}
        if new or not self.manifest.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.manifest, {"about": "files written by savos commands; savos deletes or "
                                              "replaces only these", "files": {**owned, **new}},
                              sort_keys=True)

    def remove(self, names: Iterable[str], trees: bool = False) -> int:
        """Delete those of ``names`` that a command of this kind claimed (and their stale temporary
        files), and with ``trees`` claimed folders with all they hold; -> entries deleted. Files of other
        commands' kinds stay."""
        names = set(names) & self.mine()
        n = 0
        for entry in self.entries():
            if entry in names or _is_temp_of(entry, names):
                target = self.path / entry
                if target.is_file() or target.is_symlink():
                    target.unlink()
                    n += 1
                elif trees and target.is_dir():
                    shutil.rmtree(target)
                    n += 1
        return n

    def remove_stale_temps(self) -> None:
        """Delete temporary files of this kind's names left by killed runs (exact temporary names only:
        a look-alike of the user's stays)."""
        owned = self.mine()
        for entry in self.entries():
            if entry not in owned and _is_temp_of(entry, owned):
                (self.path / entry).unlink(missing_ok=True)


@contextlib.contextmanager
def open_output(path: str | Path, command: str, flag: str = "--out",
                slice: tuple[int, int] | None = None) -> Iterator[OwnedDir]:
    """The output folder of ``command``, for the duration of the block: checked writable, locked
    (``savos.locks.hold``; ``slice`` for a dataset slice), and refused if it holds another kind of
    output. -> the folder as an OwnedDir."""
    path = check_writable(path, flag)
    with hold(path, command, flag, slice):
        folder = OwnedDir(path, command)
        folder.check_kind(flag)
        yield folder


def check_output_file(path: str | Path, command: str, overwrite: bool = False, flag: str = "--out") -> Path:
    """Refuse a single output file (a preview) that may not be written: a folder, a name too long, a
    file of the user's (not in its folder's manifest), or one of savos's without ``overwrite``."""
    path = check_writable_file(path, flag)
    temp_path(path)  # a name too long for its temporary file is refused now, naming it
    folder = OwnedDir(path.parent if str(path.parent) else Path("."), command)
    if path.exists() or path.is_symlink():
        owned = folder.owned()
        if path.name not in owned:
            raise SavosError(f"{flag} {path}: exists and was not written by savos; savos will not replace "
                             f"it: move it or choose another {flag}")
        if not overwrite:
            raise SavosError(f"{flag} {path}: exists (written by {owned[path.name]}); pass --overwrite to "
                             f"replace it or choose another {flag}")
    return path


@contextlib.contextmanager
def open_output_file(path: str | Path, command: str, overwrite: bool = False, flag: str = "--out"
                     ) -> Iterator[Path]:
    """A single output file (a preview), for the duration of the block: checked (``check_output_file``),
    its folder locked, and the file claimed in the folder's manifest. -> the path."""
    path = check_output_file(path, command, overwrite, flag)
    with open_output(path.parent if str(path.parent) else Path("."), command, flag) as folder:
        check_output_file(path, command, overwrite, flag)  # again, now that the folder is ours
        folder.claim([path.name])
        yield path


def describe(names: list[str], limit: int = 3) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
