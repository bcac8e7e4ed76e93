"""Verify any dataset folder with the checks of the generator or importer that wrote it.

``savos.data.verify`` checks what every dataset shares (checksums, layout, the Clip contract); the
guarantees of each generator (its meta, its exact masks and flow) are checked by that generator's own
checker, picked here by the ``generator`` name that dataset.json records.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from generators import verify_gum
from generators.config import ChewingGumConfig
from generators.scenes import verify_scene
from generators.scenes.config import SceneConfig
from savos.data.dataset import read_info
from savos.data.importers.verify_imported import check_imported
from savos.data.verify import Check, verify_dataset
from savos.errors import SavosError

CHECKS: dict[str, Check] = {  # generator name (dataset.json) -> its clip checker
    "chewing-gum": verify_gum.check_clip,
    "scene": verify_scene.check_clip,
    **{f"import-{source}": check_imported for source in ("fishbowl", "kins-video-car", "video")},
}

CONFIGS: dict[str, Any] = {"chewing-gum": ChewingGumConfig, "scene": SceneConfig}  # name -> its config


def check_stored_config(cls: Any, stored: dict) -> None:
    """Raise SavosError unless the config stored in dataset.json is valid and already resolved (a value
    edited by hand in dataset.json shows up here)."""
    resolved = cls.from_dict(stored).to_dict()
    for key in sorted(set(stored) | set(resolved)):
        if stored.get(key) != resolved.get(key):
            raise SavosError(f"config.{key} is {stored.get(key)!r}, which resolves to {resolved.get(key)!r}")


def verify(root: str | Path, workers: int | None = None, progress: bool = True) -> dict[str, Any]:
    """``savos.data.verify.verify_dataset`` with the checks of the dataset's own generator."""
    generator = read_info(root).get("generator")
    cls = CONFIGS.get(generator)
    check_config = partial(check_stored_config, cls) if cls is not None else None
    return verify_dataset(root, check=CHECKS.get(generator), workers=workers, progress=progress,
                          check_config=check_config)
