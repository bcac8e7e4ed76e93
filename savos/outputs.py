"""Output folders: checked before work starts, and owned file by file.

Every savos command that writes into a folder lists the names it writes in the folder's manifest
``.savos-files.json`` *before* writing them (``OwnedDir.claim``). A command deletes or replaces only
names in the manifest; anything else in the folder is the user's and is left alone. A name that a
command would write but that exists without being in the manifest is refused, naming the file.

``check_writable`` runs before any work: the output's name must be UTF-8 text, and the output (or its
nearest existing ancestor) a folder we can write into, not a file; so a typo costs one line, not an hour
of training.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from savos.atomic import write_json_atomic
from savos.errors import SavosError
from savos.readers import need, read_json

MANIFEST = ".savos-files.json"


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


def _is_temp_of(name: str, owned: set[str]) -> bool:
    """Temporary files of atomic writes of owned names: ``.<name>.tmp-<pid>`` or ``<name>.tmp-<pid>``."""
    base = name.split(".tmp-", 1)[0] if ".tmp-" in name else None
    return base is not None and (base in owned or base.lstrip(".") in owned)


class OwnedDir:
    """A folder whose savos-written files are listed in its manifest."""

    def __init__(self, path: str | Path, command: str):
        self.path = Path(path)
        self.command = command  # e.g. "savos predict", recorded with each claim

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

    def foreign(self) -> list[str]:
        """Names in the folder that no savos command claimed (the manifest itself excluded)."""
        owned = set(self.owned())
        return [n for n in self.entries() if n != MANIFEST and n not in owned and not _is_temp_of(n, owned)]

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

    def remove(self, names: Iterable[str]) -> int:
        """Delete those of ``names`` that are owned (and their stale temporary files); -> files deleted."""
        owned = set(self.owned())
        names = set(names) & owned
        n = 0
        for entry in self.entries():
            if entry in names or _is_temp_of(entry, names):
                target = self.path / entry
                if target.is_file() or target.is_symlink():
                    target.unlink()
                    n += 1
        return n

    def remove_stale_temps(self) -> None:
        """Delete temporary files of owned names left by killed runs."""
        owned = set(self.owned())
        for entry in self.entries():
            if entry not in owned and _is_temp_of(entry, owned):
                (self.path / entry).unlink(missing_ok=True)


def describe(names: list[str], limit: int = 3) -> str:
    """``a, b, c and 4 more``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
