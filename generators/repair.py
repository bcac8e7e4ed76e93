"""``savos-gen verify --repair``: make again the shards of a finished dataset that are missing or fail
their checksum, from what its dataset.json records (generator, config, seed), bit for bit.

The clip makers are those the generators write with (``savos.data.writer.repair_shards`` does the
work, as a re-run of the same savos-gen command does). An imported dataset cannot be repaired from
dataset.json alone: its clips come from the source files, so its import command is named instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from generators import chewing_gum
from generators.config import ChewingGumConfig
from generators.scenes import engine
from generators.scenes.config import SceneConfig
from savos.data.dataset import INFO_NAME, read_info
from savos.data.writer import MakeClip, repair_shards
from savos.errors import SavosError
from savos.outputs import open_output

MAKERS: dict[str, Callable[[dict[str, Any]], MakeClip]] = {  # generator name -> clip maker of its info
    "chewing-gum": lambda info: chewing_gum.ClipMaker(ChewingGumConfig.from_dict(info["config"]),
                                                      int(info["seed"])),
    "scene": lambda info: engine.ClipMaker(SceneConfig.from_dict(info["config"]), int(info["seed"])),
}


def repair(root: str | Path, workers: int | None = None, progress: bool = True) -> list[str]:
    """Make again every missing or corrupt shard of the dataset at ``root``; -> their paths."""
    info = read_info(root)
    generator = info.get("generator")
    if generator not in MAKERS:
        how = (f"re-run the `savos-gen import {str(generator)[len('import-'):].split('-')[0]}` command that "
               "made it (it repairs the same way)" if str(generator).startswith("import-")
               else "make the dataset again")
        raise SavosError(f"{Path(root) / INFO_NAME}: generator {generator!r}: its shards cannot be made "
                         f"again from dataset.json alone; {how}")
    if not isinstance(info.get("config"), dict) or isinstance(info.get("seed"), bool) \
            or not isinstance(info.get("seed"), int):
        raise SavosError(f"{Path(root) / INFO_NAME}: no generator config and seed recorded; make the "
                         "dataset again")
    make_clip = MAKERS[generator](info)
    with open_output(root, f"savos-gen verify --repair ({generator})", flag="ROOT"):
        return repair_shards(root, make_clip, info, workers=workers, progress=progress)
