"""Any savos dataset -> KINS-style amodal annotations with frame PNGs (``savos-gen export kins``), in the
layout ``savos.data.importers.kins`` (KINS-Video-Car) reads, and image amodal methods read as KINS::

    OUT/kins/training/image_2/<vid>_<t:04d>.png      every frame of the train split's clips
    OUT/kins/update_train_2020.json                  its annotations, KINS' 2020 keys
    OUT/kins/testing/image_2/..., update_test_2020.json   the same for the test split
    OUT/raw/<split>/<split>_drive_<vid>_sync/image_02/data/NNNNNNNNNN.png   each clip as a KITTI raw drive
                                                     (the same PNG bytes: KINS images match by MD5)
    OUT/tracks/<split>_drive_<vid>_sync.txt          its visible masks as KITTI-MOTS text (the tracks)
    OUT/export.json                                  provenance (exporters.common)

KINS has annotation files for train and test only, so those are the splits exported. An annotation
(one object in one frame) has ``a_segm``/``i_segm`` (polygons: rectangles on pixel corners whose union
pycocotools rasterises back to the exact mask, ``masks.mask_polygons``), ``a_bbox`` (= ``bbox``) and
``i_bbox`` as [x, y, w, h], ``a_area``/``i_area`` (pixels), ``category_id`` and ``track_id`` (the MOTS
object id, null for other categories); one is written where the object is visible and its amodal mask
is known. Categories: an object's type (meta ``type``, else ``category``), else ``category`` of the
call ("car"); "car" has KINS' id 4, other names the free ids from 1 in name order. Tracks hold the cars
(MOTS class 1) and pedestrians (class 2), ids class * 1000 + the object's position in the clip. Each
PNG records its clip and frame in a text chunk, so no two exported PNGs have the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from savos.atomic import write_bytes_atomic
from savos.data.clip import Clip
from savos.data.exporters import common
from savos.data.importers.kins import CAR_KINS
from savos.data.importers.masks import encode_rle, mask_polygons
from savos.data.importers.media import encode_png
from savos.errors import SavosError

COMMAND = "savos-gen export kins"
KINS_SPLITS = {"train": ("training", "update_train_2020.json"), "test": ("testing", "update_test_2020.json")}
MOTS_CLASSES = {"car": 1, "pedestrian": 2}


def kins_category(name: str) -> str:
    """The KINS category of a type: a class itself ("car"), or a type of one ("car-hatchback" -> "car"),
    else the type's own name."""
    head = name.split("-", 1)[0]
    return name if name in MOTS_CLASSES or head not in MOTS_CLASSES else head
MAX_OBJECTS = 999  # MOTS ids are class * 1000 + object


def bbox(mask: np.ndarray) -> list[int]:
    """COCO box [x, y, w, h] of a non-empty bool (H, W) mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def drive_name(split: str, clip: Clip) -> str:
    return f"{split}_drive_{common.video_name(clip)}_sync"


class KinsWriter:
    """Accumulates one KINS annotation file while its clips' frames and tracks are written."""

    def __init__(self, out: Path, split: str, categories: dict[str, int], category: str):
        self.out, self.split, self.categories, self.category = out, split, categories, category
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add(self, clip: Clip) -> None:
        if clip.num_objects > MAX_OBJECTS:
            raise SavosError(f"{clip.key}: {clip.num_objects} objects; KITTI-MOTS ids hold {MAX_OBJECTS} "
                             "per class")
        T, (H, W) = clip.num_frames, clip.size
        vid, drive = common.video_name(clip), drive_name(self.split, clip)
        images = self.out / "kins" / KINS_SPLITS[self.split][0] / "image_2"
        frames = self.out / "raw" / self.split / drive / "image_02" / "data"
        names = [kins_category(common.object_type(o, self.category)) for o in common.objects_of(clip)]
        lines = []
        for t in range(T):
            name = f"{vid}_{t:04d}.png"
            png = encode_png(clip.rgb[t], {"savos": f"{self.split}/{clip.key}/{t}"})
            write_bytes_atomic(frames / f"{t:010d}.png", png)
            write_bytes_atomic(images / name, png)
            image_id = len(self.images) + 1
            self.images.append({"id": image_id, "file_name": name, "height": H, "width": W})
            for k, cat in enumerate(names):
                own, full = clip.visible[t] == k + 1, clip.amodal[t, k]
                track = MOTS_CLASSES[cat] * 1000 + k if cat in MOTS_CLASSES else None
                if own.any() and track is not None:
                    lines.append(f"{t} {track} {MOTS_CLASSES[cat]} {H} {W} {encode_rle(own)['counts']}")
                if own.any() and clip.amodal_known[t, k]:
                    self.annotations.append({
                        "id": len(self.annotations) + 1, "image_id": image_id,
                        "category_id": self.categories[cat], "track_id": track, "iscrowd": 0,
                        "a_segm": mask_polygons(full), "i_segm": mask_polygons(own),
                        "a_bbox": bbox(full), "bbox": bbox(full), "i_bbox": bbox(own),
                        "a_area": int(full.sum()), "i_area": int(own.sum())})
        if lines:  # a drive without cars or pedestrians has no tracks file (MOTS text is never empty)
            text = "".join(f"{line}\n" for line in lines)
            write_bytes_atomic(self.out / "tracks" / f"{drive}.txt", text.encode())

    def finish(self) -> None:
        doc = {"images": self.images, "annotations": self.annotations,
               "categories": [{"id": i, "name": n} for n, i in self.categories.items()]}
        write_bytes_atomic(self.out / "kins" / KINS_SPLITS[self.split][1], json.dumps(doc).encode())


def export_kins(data: str | Path, out: str | Path, splits: list[str] | None = None, category: str = "car",
                progress: bool = True) -> dict[str, Any]:
    """Write the train and test splits (or ``splits``, each train or test) of dataset ``data`` into
    ``out`` as KINS annotations, KITTI raw drives and MOTS tracks; -> the manifest ``export.json``."""
    for s in splits or []:
        if s not in KINS_SPLITS:
            raise SavosError(f"--splits {s}: KINS has annotation files for train and test only; export "
                             f"{' or '.join(KINS_SPLITS)}")
    source = common.open_source(data, splits, default=tuple(KINS_SPLITS))
    out = Path(out)
    with common.export_folder(out, COMMAND, ["kins", "raw", "tracks"]):
        types = common.type_ids(source, start=1, fixed={"car": CAR_KINS}, untyped=category)
        categories: dict[str, int] = {}  # a class takes the id of its first type; "car" keeps KINS' id
        for name, i in sorted(types.items(), key=lambda kv: kv[1]):
            categories.setdefault(kins_category(name), CAR_KINS if kins_category(name) == "car" else i)
        for split, ds in source.splits.items():
            writer = KinsWriter(out, split, categories, category)
            for clip in common.clips(ds, progress):
                writer.add(clip)
            writer.finish()
        options = {"splits": list(source.splits), "category": category}
        return common.write_manifest(out, "kins", source, options,
                                     {"categories": categories, "mots_classes": MOTS_CLASSES})
