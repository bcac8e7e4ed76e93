"""Reading the small files savos tools read, with every failure one line that names the file.

Every JSON or YAML file a command reads (dataset.json, predictions.json, metrics_*.json, a run's
metrics.json, .predict.json, .pending.json, recipes, generator configs) goes through ``read_json`` or
``read_yaml``, and its fields through ``need``: a missing file, a folder in its place, bytes that are not
UTF-8, broken JSON/YAML, a field of the wrong type or a negative count become a ``SavosError``
``<path>: <problem>; <what to do>``. YAML is parsed by ``savos.safe_yaml`` (no aliases, bounded size and
depth), and a message quotes at most a short prefix of a value (``savos.errors.brief``). Binary formats
have their own readers (shards: savos.data.shards, predictions: savos.evaluation.predictions,
checkpoints: savos.training.checkpoint).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from savos import safe_yaml
from savos.errors import SavosError, brief

# Names read from files that become path components (splits, shards, clip keys): one plain component.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


class FileFormatError(SavosError):
    """A file savos reads is missing, unreadable or malformed."""


def read_text(path: str | Path, what: str = "file", fix: str = "") -> str:
    """The UTF-8 text of ``path``. ``what`` names the kind of file; ``fix`` says what to do."""
    path = Path(path)
    hint = f"; {fix}" if fix else ""
    if path.is_dir():
        raise FileFormatError(f"{path}: is a folder, expected a {what}{hint}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such {what}{hint}") from None
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read the {what} ({e.strerror}){hint}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(f"{path}: the {what} is not UTF-8 text (byte {e.start}){hint}") from None


def read_json(path: str | Path, what: str = "JSON file", fix: str = "") -> Any:
    """Parse the JSON file ``path`` (UTF-8)."""
    text = read_text(path, what, fix)
    try:
        return json.loads(text)
    except ValueError as e:
        hint = f"; {fix}" if fix else ""
        raise FileFormatError(f"{path}: the {what} is not valid JSON ({e}){hint}") from None


def read_yaml(path: str | Path, what: str = "YAML file", fix: str = "") -> Any:
    """Parse the YAML file ``path`` (UTF-8) with ``savos.safe_yaml.load`` (no aliases, bounded size and
    depth); an empty file is None."""

    text = read_text(path, what, fix)
    try:
        return safe_yaml.load(text)
    except safe_yaml.YamlRefused as e:
        hint = f"; {fix}" if fix else ""
        raise FileFormatError(f"{path}: the {what} {e}{hint}") from None


def merge(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged in: nested mappings merge key by key, other values (lists too)
    replace. Neither input is changed. Recipes (``base:``) and curricula (levels over a scene file) use it."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


def need(doc: Any, key: str, kind: type | tuple[type, ...], path: str | Path, fix: str = "",
         minimum: int | None = None, optional: bool = False, maximum: int | None = None) -> Any:
    """``doc[key]`` checked to be of ``kind`` (ints also in [``minimum``, ``maximum``]), else a one-line
    FileFormatError naming ``path`` and the field. ``optional``: a missing key is None."""
    hint = f"; {fix}" if fix else ""
    if not isinstance(doc, dict):
        raise FileFormatError(f"{path}: expected a mapping of fields, got {type(doc).__name__}{hint}")
    if key not in doc:
        if optional:
            return None
        raise FileFormatError(f"{path}: field {key!r} is missing{hint}")
    value = doc[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise FileFormatError(f"{path}: field {key!r} must be {want}, got {brief(value)}{hint}")
    if minimum is not None and isinstance(value, int) and value < minimum:
        raise FileFormatError(f"{path}: field {key!r} must be >= {minimum}, got {brief(value)}{hint}")
    if maximum is not None and isinstance(value, int) and value > maximum:
        raise FileFormatError(f"{path}: field {key!r} must be at most {maximum:,}, got {brief(value)}{hint}")
    return value


def safe_name(name: Any, path: str | Path, what: str, fix: str = "") -> str:
    """``name`` (read from ``path``) if it is one plain path component (letters, digits, _ . -; not
    starting with a dot), else a FileFormatError: names read from files never leave their folder."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
        hint = f"; {fix}" if fix else ""
        raise FileFormatError(f"{path}: refusing {what} name {brief(name)} (one plain name: letters, digits, "
                              f"_ . - ){hint}")
    return name
