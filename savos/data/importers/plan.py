"""The clips an import makes, in a fixed order, and the call into the one dataset writer.

Clip order: splits in the order given, videos in name order within a split (at most ``max_videos``),
windows in time order within a video. Nothing depends on worker count or timing, so the same input
gives the same bytes, and an interrupted import resumes (``savos.data.writer``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from savos import __version__
from savos.data.importers.assemble import ImportOptions, windows
from savos.data.importers.stream import StreamedImport
from savos.data.writer import write_dataset
from savos.errors import SavosError
from savos.outputs import check_writable


def plan_items(loader: Any, splits: list[str], options: ImportOptions,
               progress: bool = True) -> list[tuple[str, str, int, int]]:
    """(split, video name, start, stop) of every clip (``loader.num_frames`` is cheap: a header, a
    file count or an annotation's length; videos shorter than a clip are skipped)."""

    items = []
    for split in splits:
        names = loader.videos(split)
        if not names:
            raise SavosError(f"{getattr(loader, 'src', '')}: split {split!r} holds no videos")
        names = names[: options.max_videos] if options.max_videos else names
        for name in tqdm(names, desc=f"plan {split}", unit="video", file=sys.stderr, disable=not progress):
            T = loader.num_frames(name)
            items.extend((split, name, a, b) for a, b in windows(T, options.window, options.stride))
    return items


def run_import(out: str | Path, loader: Any, splits: list[str], options: ImportOptions,
               config: dict[str, Any], inputs: dict[str, str], *, workers: int | None = None,
               shard_size: int = 20, progress: bool = True) -> dict[str, Any] | None:
    """Import ``splits`` of ``loader``'s source into the dataset folder ``out``; returns dataset.json."""
    check_writable(out)
    items = plan_items(loader, splits, options, progress)
    if not items:
        where = next(iter(inputs.values()), str(out))
        raise SavosError(f"{where}: no clips to import (every video is shorter than --window or than 2 "
                         "frames)")
    counts = {s: sum(1 for it in items if it[0] == s) for s in splits}
    config = {**options.to_dict(), **config}
    description = {"generator": f"import-{loader.dataset}", "version": __version__, "seed": None,
                   "config": config, "amodal_flow": False, "inputs": inputs}
    return write_dataset(out, StreamedImport(loader, items, options, config), counts, description,
                         shard_size=shard_size, workers=workers, progress=progress)
