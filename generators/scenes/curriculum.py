"""Curricula: ordered levels of rising difficulty, each a scene config (``savos-gen curriculum``).

A curriculum YAML names a ``base`` scene file (relative to the curriculum file) and a list of
``levels``, each ``{name: str, set: {overrides}}``; a level's scene is the base with its overrides
merged in key by key (nested sections merge, other values replace). Every level is validated as a
SceneConfig; an error names the curriculum file and the level.

``write_curriculum`` makes one scene dataset per level in ``DIR/<name>/`` (level i with seed
``seed + i``) and then ``DIR/curriculum.json``: the manifest, with the levels in order (name, folder,
resolved scene config, split counts, seed) and the file it came from. Every level resumes like any
dataset; the manifest is written last, atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.scenes.config import SceneConfig
from generators.scenes.dataset import split_counts, write_scene_dataset
from savos.atomic import write_json_atomic
from savos.errors import SavosError, brief
from savos.outputs import open_output
from savos.readers import merge, read_yaml

MANIFEST = "curriculum.json"


@dataclass(frozen=True)
class Level:
    name: str
    config: Any  # SceneConfig


def _read_yaml(path: Path) -> Any:

    return read_yaml(path, "curriculum or scene file")


def load_curriculum(path: str | Path) -> list[Level]:
    """The levels of a curriculum YAML, in order (module docstring). SavosError on any bad key."""

    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or set(raw) - {"base", "levels"} or "levels" not in raw:
        raise SavosError(f"{path}: a curriculum is a mapping with keys base (a scene file) and levels "
                         "(a list of {name, set})")
    base: dict = {}
    if raw.get("base") is not None:
        base_path = path.parent / str(raw["base"])
        base = _read_yaml(base_path) or {}
        if not isinstance(base, dict):
            raise SavosError(f"{base_path}: a scene file is a mapping of sections")
    levels = raw["levels"]
    if not isinstance(levels, list) or not levels:
        raise SavosError(f"{path}: levels: expected a non-empty list of {{name, set}}")
    out, names = [], set()
    for i, level in enumerate(levels):
        where = f"{path}: levels[{i}]"
        if (not isinstance(level, dict) or set(level) - {"name", "set"}
                or not isinstance(level.get("name"), str)):
            raise SavosError(f"{where}: expected {{name: str, set: {{scene overrides}}}}")
        name = level["name"]
        if name in names or not name or "/" in name or name.startswith("."):
            raise SavosError(f"{where}: name {brief(name)} must be unique and a plain folder name")
        names.add(name)
        overrides = level.get("set") or {}
        if not isinstance(overrides, dict):
            raise SavosError(f"{where}.set: expected a mapping of scene overrides")
        out.append(Level(name, SceneConfig.from_dict(merge(base, overrides), f"{where} ({name})")))
    return out


def write_curriculum(path: str | Path, out: str | Path, *, n: int, seed: int = 0, val: int | None = None,
                     test: int | None = None, workers: int | None = None, shard_size: int = 100,
                     progress: bool = True) -> dict[str, Any]:
    """Write every level of the curriculum at ``path`` into ``out`` and the manifest; returns it."""

    levels = load_curriculum(path)
    counts = split_counts(n, val, test)
    entries = []
    with open_output(out, "savos-gen curriculum") as folder:
        folder.refuse_collisions([MANIFEST, *(level.name for level in levels)])
        folder.claim([MANIFEST, *(level.name for level in levels)])
        for i, level in enumerate(levels):
            info = write_scene_dataset(level.config, folder.path / level.name, n=n, seed=seed + i,
                                       splits=counts, workers=workers, shard_size=shard_size,
                                       progress=progress)
            assert info is not None  # every shard was made by this call
            entries.append({"level": i, "name": level.name, "root": level.name, "seed": seed + i,
                            "splits": counts, "config": level.config.to_dict()})
        manifest = {"kind": "curriculum", "source": str(path), "seed": int(seed), "levels": entries}
        write_json_atomic(folder.path / MANIFEST, manifest)
    return manifest


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a curriculum folder (level roots made absolute)."""

    root = Path(root)
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except OSError:
        raise SavosError(f"{root}: no {MANIFEST}; make the curriculum with `savos-gen curriculum FILE "
                         f"--out {root}`") from None
    except ValueError:
        raise SavosError(f"{root / MANIFEST}: not valid JSON; remake the curriculum") from None
    for level in manifest["levels"]:
        level["root"] = str(root / level["root"])
    return manifest
