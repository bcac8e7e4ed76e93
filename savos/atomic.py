"""Atomic file writes: a temporary file in the same folder, fsync, then os.replace, so a reader or a
crash never sees half a file. Used for every small output (dataset.json, predictions, metrics)."""

from __future__ import annotations

import errno
import json
import math
import os
import re
from pathlib import Path
from typing import Any

NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, tmpfs)


def temp_path(path: str | Path) -> Path:
    """The temporary name a write of ``path`` uses: ``.<name>.tmp-<pid>`` in the same folder. A name too
    long to get one is refused naming ``path`` itself, not the temporary file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if len(tmp.name.encode()) > NAME_MAX:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))
    return tmp


def is_temp_of(entry: str, name: str) -> bool:
    """Whether file name ``entry`` is exactly a temporary file of a write of ``name`` (``temp_path``):
    a look-alike such as ``.last.pt.tmp-old`` or ``last.pt.tmp-1`` is not."""
    return re.fullmatch(rf"\.{re.escape(name)}\.tmp-[0-9]+", entry) is not None


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    tmp = temp_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # name the file the user knows, not the temporary one
        raise OSError(e.errno, e.strerror, str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def json_safe(x: Any) -> Any:
    """NaN and infinities are not JSON: they become null (recursively through dicts and lists)."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return None if isinstance(x, float) and not math.isfinite(x) else x


def write_json_atomic(path: str | Path, obj: Any, sort_keys: bool = False) -> Path:
    text = json.dumps(json_safe(obj), indent=1, sort_keys=sort_keys) + "\n"
    return write_bytes_atomic(path, text.encode())
