"""Typed YAML: a mapping from YAML is checked against a frozen dataclass's annotations.

The machinery every config in the package shares (recipes, model sections, generator configs): an unknown
key or a wrong type is a ``FieldError`` naming the key path; the loader adds the file. No torch here, so
config classes anywhere can import it without pulling in models.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from savos.errors import BRIEF, SavosError, brief


class ConfigError(SavosError):
    """A recipe or override breaks the schema."""


class FieldError(ConfigError):
    """One field is invalid. ``key`` is relative to its section; the loader adds file and section."""

    def __init__(self, key: str, msg: str):
        super().__init__(f"{key}: {msg}")
        self.key, self.msg = key, msg


def check(cond: bool, key: str, msg: str) -> None:
    """For ``__post_init__``: raise FieldError(key, msg) unless ``cond``."""
    if not cond:
        raise FieldError(key, msg)


def check_range(value: float, key: str, low: float, high: float, note: str = "") -> None:
    """For ``__post_init__``: ``low <= value <= high`` (NaN fails), else FieldError naming the range."""
    check(low <= value <= high, key, f"must be in [{low:,}, {high:,}]{note}, got {value}")


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        if Ellipsis in args:
            return f"a list of {_type_name(args[0])}"
        return f"a list of {len(args)} {' and '.join(sorted({_type_name(a) for a in args}))}s"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` (from YAML) against the annotation ``tp``; return it converted (list -> tuple)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for alt in inner[:-1]:  # the first alternative the value fits (e.g. int | tuple[int, int])
            try:
                return _convert(value, alt, key)
            except FieldError:
                pass
        try:
            return _convert(value, inner[-1], key)
        except FieldError:
            if len(inner) == 1:
                raise
            names = " or ".join(_type_name(a) for a in inner)
            raise FieldError(key, f"expected {names}, got {brief(value)}") from None
    if dataclasses.is_dataclass(tp):  # a nested section: keys of its errors read key.sub.subsub
        return value if isinstance(value, tp) else section_from_dict(tp, value, key)
    if origin is Literal:
        check(value in args, key, f"expected {_type_name(tp)}, got {brief(value)}")
        return value
    if origin is tuple:
        fixed = Ellipsis not in args  # tuple[int, int]: exactly that many items
        want = f"a list of {len(args)}" if fixed else "a list"
        check(isinstance(value, list | tuple) and (not fixed or len(value) == len(args)), key,
              f"expected {want}, got {brief(value)}")
        return tuple(_convert(v, args[i if fixed else 0], f"{key}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        check(isinstance(value, bool), key, f"expected true or false, got {brief(value)}")
    elif tp is int:
        check(isinstance(value, int) and not isinstance(value, bool), key,
              f"expected int, got {brief(value)}")
    elif tp is float:
        if isinstance(value, str):  # YAML 1.1 reads `3e-4` (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        check(ok, key, f"expected float, got {brief(value)}")
        return float(value)
    elif tp is str:
        check(isinstance(value, str), key, f"expected str, got {brief(value)}")
    return value


def section_from_dict(cls: type, data: Any, section: str) -> Any:
    """Build the dataclass ``cls`` from a dict, nested dataclass sections too; FieldError keys are
    ``section.key`` (``key`` when ``section`` is empty)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FieldError(section, f"expected a mapping of keys, got {brief(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in names:
            name = str(key)[:BRIEF]  # a key is quoted like a value: a short prefix
            raise FieldError(f"{section}.{name}" if section else name,
                             f"unknown key (known: {', '.join(names)})")
    at = f"{section}." if section else ""
    kwargs = {k: _convert(v, hints[k], f"{at}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except FieldError as e:
        raise FieldError(f"{at}{e.key}", e.msg) from None
