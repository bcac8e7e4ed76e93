"""Atomic file writes: a temporary file in the same folder, fsync, then os.replace, so a reader or a
crash never sees half a file. Used for every small output (dataset.json, predictions, metrics)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
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
