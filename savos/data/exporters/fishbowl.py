"""Any savos dataset -> FISHBOWL's raw layout (``savos-gen export fishbowl``), as the common-fate-fishbowl
generator writes it and ``savos.data.importers.fishbowl`` reads it::

    OUT/<split>_data/<split>/<vid>/video.mp4          H.264, yuv420p (media.H264, one encoder thread)
    OUT/<split>_data/<split>/<vid>/objects.json       [{id, type_id, type_name, speed, scale, [role,] masks}]:
                                                      one COCO RLE per frame, the visible masks
    OUT/<split>_data/<split>_objects/<vid>_object<id>/objects.json   a one-element list, amodal masks
    OUT/types.json                                    {"type_ids": {type name: type_id}}
    OUT/export.json                                   provenance (exporters.common)

``<vid>`` is the clip's index (``clip_000123`` -> ``000123``); ``id`` is the object's ``source_id`` where
the clip's objects all have distinct ones (imported data), else its position in the clip; objects keep
the clip's order. ``type_id``/``type_name`` are written for objects that have a type (meta ``type``, else
``category``), ``speed``/``scale`` where meta has them. JSON is written as the generator writes it
(``json.dumps``, no indent). Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from savos.atomic import write_bytes_atomic, write_json_atomic
from savos.data.clip import Clip
from savos.data.exporters import common
from savos.data.importers.masks import MAX_ID, encode_rle
from savos.data.importers.media import H264, encode_h264, ffmpeg_version
from savos.errors import SavosError

COMMAND = "savos-gen export fishbowl"
TYPES_NAME = "types.json"


def object_ids(objects: list[dict[str, Any]]) -> list[int]:
    """FISHBOWL ids: the objects' ``source_id`` if all are distinct integers in [0, MAX_ID], else 0..K-1."""
    ids = [o.get("source_id") for o in objects]
    if all(type(i) is int and 0 <= i <= MAX_ID for i in ids) and len(set(ids)) == len(ids):
        return ids
    return list(range(len(objects)))


def fish_objects(clip: Clip, ids: dict[str, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The clip's objects as FISHBOWL records: (with visible masks, with amodal masks)."""
    objects = common.objects_of(clip)
    visible, amodal = [], []
    for k, (fid, o) in enumerate(zip(object_ids(objects), objects, strict=True)):
        record: dict[str, Any] = {"id": fid}
        if (name := common.object_type(o)) is not None:
            record.update(type_id=ids[name], type_name=name)
        record.update({key: o[key] for key in ("speed", "scale") if o.get(key) is not None})
        if o.get("role", "target") != "target":  # FISHBOWL's objects are all fish: a prop says so
            record["role"] = str(o["role"])
        own = clip.visible == k + 1
        visible.append({**record, "masks": [encode_rle(m) for m in own]})
        amodal.append({**record, "masks": [encode_rle(m) for m in clip.amodal[:, k]]})
    return visible, amodal


def check_even(source_root: Path, clip: Clip) -> None:
    H, W = clip.size
    if H % 2 or W % 2:
        raise SavosError(f"{source_root}: {clip.key} is {H}x{W} (HxW); FISHBOWL's videos are H.264 in "
                         f"{H264['pix_fmt']}, which needs an even height and width: re-make the dataset at "
                         "an even size (savos-gen import ... --size HxW)")


def write_video_folder(out: Path, split: str, clip: Clip, ids: dict[str, int]) -> None:
    """One clip as ``<split>_data/<split>/<vid>/`` and its ``<vid>_object<id>/`` amodal folders."""
    vid = common.video_name(clip)
    base = out / f"{split}_data"
    visible, amodal = fish_objects(clip, ids)
    folder = base / split / vid
    write_bytes_atomic(folder / "video.mp4", encode_h264(clip.rgb))
    write_bytes_atomic(folder / "objects.json", json.dumps(visible).encode())
    for record in amodal:
        path = base / f"{split}_objects" / f"{vid}_object{record['id']}" / "objects.json"
        write_bytes_atomic(path, json.dumps([record]).encode())


def export_fishbowl(data: str | Path, out: str | Path, splits: list[str] | None = None,
                    progress: bool = True) -> dict[str, Any]:
    """Write the ``splits`` (default all) of dataset ``data`` into ``out`` in FISHBOWL's raw layout;
    -> the manifest ``export.json``."""
    source = common.open_source(data, splits)
    for ds in source.splits.values():
        if len(ds):
            check_even(source.root, ds[0])
    out = Path(out)
    names = [f"{s}_data" for s in source.splits] + [TYPES_NAME]
    with common.export_folder(out, COMMAND, names):
        ids = common.type_ids(source, start=0, own_ids=True)
        for split, ds in source.splits.items():
            for clip in common.clips(ds, progress):
                check_even(source.root, clip)
                write_video_folder(out, split, clip, ids)
        write_json_atomic(out / TYPES_NAME, {"type_ids": ids}, sort_keys=True)
        video = {**H264, "threads": 1, "ffmpeg": ffmpeg_version()}
        return common.write_manifest(out, "fishbowl", source, {"splits": list(source.splits)},
                                     {"types": ids, "video": video})
