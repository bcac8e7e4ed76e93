"""What both exporters share: the source dataset opened and checked, the export folder owned, object
types and their integer ids, the clips with a progress bar, and the provenance manifest ``export.json``.

The export folder is an output of kind "export" (``savos.outputs``): it must be empty or hold only what
an export wrote; it is locked while written; a new export first deletes what an export wrote there, so
nothing of an earlier one is left beside it. ``export.json`` is written last: a folder without it is
unfinished (re-run the command).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from savos import __version__
from savos.atomic import write_json_atomic
from savos.data.clip import Clip
from savos.data.dataset import ClipDataset, fingerprint, open_dataset, read_info
from savos.errors import SavosError
from savos.outputs import OwnedDir, describe, open_output

MANIFEST_NAME = "export.json"


@dataclass
class Source:
    """The dataset an export reads: its folder, ``dataset.json``, fingerprint and the chosen splits."""

    root: Path
    info: dict[str, Any]
    fingerprint: str
    splits: dict[str, ClipDataset]


def open_source(data: str | Path, splits: list[str] | None = None,
                default: tuple[str, ...] | None = None) -> Source:
    """Open the splits of dataset ``data`` (all of them, or those of ``default`` it has, if ``splits``
    is None); a missing folder, a folder that is not a dataset or an unknown split is a one-line error."""
    root = Path(data)
    info = read_info(root)
    available = list(info["splits"])
    if splits is None:
        splits = [s for s in available if default is None or s in default]
        if not splits:
            raise SavosError(f"{root}: has none of the splits {', '.join(default or ())} (it has "
                             f"{', '.join(available)}); choose splits with --splits")
    for s in splits:
        if s not in available:
            raise SavosError(f"{root}: no split {s!r}; it has {', '.join(available)}")
    if len(set(splits)) != len(splits):
        raise SavosError(f"--splits {','.join(splits)}: a split is named twice")
    return Source(root, info, fingerprint(root), {s: open_dataset(root, s) for s in splits})


def object_type(obj: dict[str, Any], untyped: str | None = None) -> str | None:
    """An object's type name: meta ``type`` (scene objects drawn from a type), else ``category``
    (imported data: a fish type, "car"), else ``untyped``."""
    name = obj.get("type") or obj.get("category")
    return untyped if name is None else str(name)


def type_ids(source: Source, start: int, fixed: dict[str, int] | None = None,
             untyped: str | None = None, own_ids: bool = False) -> dict[str, int]:
    """{type name: integer id} over every object of the exported splits (clip meta only, no arrays;
    ``untyped``, if given, names the objects without a type and is always listed). Names in ``fixed``
    keep their id; with ``own_ids``, so do the ids the data records (meta ``type_id``, as FISHBOWL's
    importer keeps them) when they name the types one to one; the others take the smallest free ids
    from ``start`` in name order. The same data gives the same ids."""
    names: set[str] = set() if untyped is None else {untyped}
    recorded: set[tuple[str, Any]] = set()
    for ds in source.splits.values():
        for i in range(len(ds)):
            for o in ds.meta(i).get("objects") or []:
                if (name := object_type(o, untyped)) is not None:
                    names.add(name)
                    recorded.add((name, o.get("type_id")))
    ids = {n: i for n, i in (fixed or {}).items() if n in names}
    own = dict(recorded)
    if own_ids and len(own) == len(recorded) == len(set(own.values())) \
            and all(type(i) is int and i >= 0 for i in own.values()):
        ids.update(own)
    taken = set(ids.values())
    free = (i for i in range(start, start + len(names) + len(taken) + 1) if i not in taken)
    for name in sorted(names - set(ids)):
        ids[name] = next(free)
    return dict(sorted(ids.items(), key=lambda kv: kv[1]))


def objects_of(clip: Clip) -> list[dict[str, Any]]:
    """The clip's K object records (empty dicts where its meta lists none)."""
    objects = list(clip.meta.get("objects") or [])
    return objects + [{} for _ in range(clip.num_objects - len(objects))]


def video_name(clip: Clip) -> str:
    """The exported video's name: the clip's index, as in its key (``clip_000123`` -> ``000123``)."""
    return clip.key.removeprefix("clip_")


def clips(ds: ClipDataset, progress: bool) -> Iterator[Clip]:
    """The clips of one split, with a progress bar on stderr."""
    yield from tqdm(ds, total=len(ds), desc=f"export {ds.split}", unit="clip", file=sys.stderr,
                    disable=not progress)


@contextlib.contextmanager
def export_folder(out: str | Path, command: str, names: list[str]) -> Iterator[OwnedDir]:
    """The export folder ``out``, locked and owned, emptied of what an earlier export wrote, with
    ``names`` (its top-level entries) and the manifest claimed."""
    with open_output(out, command) as folder:
        foreign = folder.foreign()
        if foreign:
            raise SavosError(f"--out {out}: holds {describe(foreign)}, not written by savos-gen export; an "
                             "export goes into an empty folder or one an export wrote: choose another --out")
        folder.remove(folder.mine(), trees=True)
        folder.claim([*names, MANIFEST_NAME])
        yield folder


def write_manifest(out: str | Path, fmt: str, source: Source, options: dict[str, Any],
                   extra: dict[str, Any]) -> dict[str, Any]:
    """Write ``export.json`` (provenance: the source's path and fingerprint, splits, savos version, the
    command's options) last; -> its content."""
    manifest = {"format": fmt, "savos_version": __version__, "command": f"savos-gen export {fmt}",
                "options": options,
                "source": {"path": str(source.root.resolve()), "fingerprint": source.fingerprint,
                           "generator": source.info.get("generator"), "version": source.info.get("version")},
                "splits": {s: len(ds) for s, ds in source.splits.items()}, **extra}
    write_json_atomic(Path(out) / MANIFEST_NAME, manifest, sort_keys=True)
    return manifest
