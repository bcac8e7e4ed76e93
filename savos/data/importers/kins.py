"""KINS-Video-Car (``savos-gen import kins-video-car``): KITTI raw drives with a tracker's car masks
and KINS amodal truth on the frames KINS annotates.

- Raw videos: ``RAW_ROOT/<date>/<date>_drive_XXXX_sync/image_02/data/NNNNNNNNNN.png``.
- Tracks: ``MOTS_DIR/<drive>.txt`` in KITTI-MOTS text (``<date>_drive_XXXX_sync`` or without
  ``_sync``); class 1 (car) only; the track id is ``source_id``.
- KINS: ``KINS_DIR/{training,testing}/image_2/*.png`` and the annotation JSONs (in KINS_DIR or
  ``KINS_DIR/annotations``): ``instances_{train,val}.json`` (``segmentation`` amodal polygons,
  ``inmodal_seg`` visible RLE) and/or ``update_{train,test}_2020.json`` (``a_segm``/``i_segm`` polygons).
  A KINS image is matched to a raw frame by the MD5 of the PNG bytes, as the original did.
- Truth (the savos-kins protocol's matching): on a matched frame, a tracked car gets the amodal mask of
  the KINS car whose visible mask overlaps its own with IoU >= 0.5 (the best one); ``amodal_known`` is
  True only for those pairs.
- Splits: drives in name order; drive i goes to test if i % 5 == 4, val if i % 5 == 3, else train
  (the paper re-split the training videos; its exact split is not public).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from savos.data.importers.assemble import ImportOptions, SourceVideo
from savos.data.importers.masks import MotsText, decode_rle, rasterize_polygons
from savos.data.importers.media import frame_files, read_image
from savos.data.importers.plan import run_import
from savos.errors import SavosError
from savos.outputs import check_writable
from savos.readers import read_json

CAR_MOTS = 1  # KITTI-MOTS class id of cars
CAR_KINS = 4  # KINS category id of cars (used when the JSON lists no categories)
MATCH_IOU = 0.5
JSON_NAMES = ("instances_train.json", "instances_val.json", "update_train_2020.json", "update_test_2020.json")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def load_kins(kins: Path) -> dict[str, list[dict]]:
    """{MD5 of the image's PNG bytes: [car annotations as {"amodal": polygons, "visible": RLE or
    polygons, "size": (H, W), "where": for errors}]} over every KINS JSON found."""
    jsons = [p for d in (kins, kins / "annotations") for n in JSON_NAMES if (p := d / n).is_file()]
    if not jsons:
        raise SavosError(f"{kins}: no KINS annotation file ({', '.join(JSON_NAMES)}) here or in annotations/")
    out: dict[str, list[dict]] = {}
    for path in jsons:
        doc = read_json(path, "KINS annotation file")
        try:
            cats = {c["name"]: int(c["id"]) for c in doc.get("categories", [])}
            car = cats.get("car", CAR_KINS)
            images = {int(im["id"]): im for im in doc["images"]}
            anns = doc["annotations"]
        except (ValueError, KeyError, TypeError) as e:
            raise SavosError(f"{path}: not a KINS annotation file ({type(e).__name__}: {e})") from None
        digests: dict[int, str] = {}
        for j, a in enumerate(anns):
            where = f"{path}: annotation {j}"
            if int(a.get("category_id", -1)) != car:
                continue
            im = images.get(int(a.get("image_id", -1)))
            if im is None:
                raise SavosError(f"{where}: image_id {a.get('image_id')} is not in 'images'")
            if im["id"] not in digests:
                img = _kins_image(kins, im["file_name"], where)
                digests[im["id"]] = md5(img)
            if "a_segm" in a:
                ann = {"amodal": a["a_segm"], "visible": a.get("i_segm", [])}
            elif "segmentation" in a and "inmodal_seg" in a:
                ann = {"amodal": a["segmentation"], "visible": a["inmodal_seg"]}
            else:
                raise SavosError(f"{where}: has neither a_segm/i_segm nor segmentation/inmodal_seg")
            ann.update(size=(int(im["height"]), int(im["width"])), where=where)
            out.setdefault(digests[im["id"]], []).append(ann)
    return out


def _kins_image(kins: Path, name: str, where: str) -> Path:
    for sub in ("training", "testing"):
        p = kins / sub / "image_2" / name
        if p.is_file():
            return p
    raise SavosError(f"{where}: image {name} is in neither {kins}/training/image_2 nor testing/image_2")


def _ann_masks(ann: dict) -> tuple[np.ndarray, np.ndarray]:
    size, where = tuple(ann["size"]), ann["where"]
    amodal = rasterize_polygons(ann["amodal"], size, where)
    if isinstance(ann["visible"], dict):  # instances_*.json: inmodal_seg is one RLE
        visible = decode_rle(ann["visible"], size, where)
    else:  # polygons (update_*_2020.json's i_segm)
        visible = rasterize_polygons(ann["visible"], size, where)
    return amodal, visible


@dataclass
class KinsLoader:
    """KITTI raw drives: frames read per window (PNG files), tracks parsed once per drive."""

    raw: Path
    tracks: Path
    drives: dict[str, Path]  # "<date>/<drive>" -> its MOTS file
    truth: dict[str, dict[int, list[dict]]]  # "<date>/<drive>" -> frame -> KINS car annotations
    splits_of: dict[str, str]
    dataset: str = "kins-video-car"
    _frames: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    _mots: tuple[str, MotsText] | None = field(default=None, repr=False)

    def videos(self, split: str) -> list[str]:
        return [d for d in sorted(self.drives) if self.splits_of[d] == split]

    def frames(self, name: str) -> list[Path]:
        if name not in self._frames:
            date, drive = name.split("/")
            self._frames[name] = frame_files(self.raw / date / drive / "image_02" / "data")
        return self._frames[name]

    def num_frames(self, name: str) -> int:
        return len(self.frames(name))

    def mots(self, name: str, size: tuple[int, int]) -> MotsText:
        if self._mots is None or self._mots[0] != name:
            mots = MotsText(self.drives[name], size)
            T = self.num_frames(name)
            beyond = [f for f in mots.by_frame if not 0 <= f < T]
            if beyond:
                raise SavosError(f"{self.drives[name]}: frame {beyond[0]} is beyond the drive's {T} frames")
            self._mots = (name, mots)
        return self._mots[1]

    def load(self, name: str, start: int = 0, stop: int | None = None) -> SourceVideo:
        files = self.frames(name)[start:stop]
        frames = [read_image(p) for p in files]
        for p, f in zip(files, frames, strict=True):
            if f.shape != frames[0].shape:
                raise SavosError(f"{p}: frame size {f.shape[1]}x{f.shape[0]} differs from {files[0]}'s")
        rgb = np.stack(frames)
        T, H, W = rgb.shape[:3]
        mots = self.mots(name, (H, W))
        tracks = [obj for obj, _ in mots.tracks(start, start + T, {CAR_MOTS})]
        index = {obj: k for k, obj in enumerate(tracks)}
        vis = np.zeros((T, len(tracks), H, W), bool)
        for t in range(T):
            for obj, cls, m in mots.masks(start + t):
                if cls == CAR_MOTS:
                    vis[t, index[obj]] = m
        amodal, known = vis.copy(), np.zeros((T, len(tracks)), bool)
        for f, anns in self.truth.get(name, {}).items():
            if not start <= f < start + T:
                continue
            gt = [_ann_masks(a) for a in anns]
            for k in range(len(tracks)):
                v = vis[f - start, k]
                if not v.any():
                    continue
                ious = [(v & gv).sum() / max((v | gv).sum(), 1) for _, gv in gt]
                best = int(np.argmax(ious)) if ious else -1
                if best >= 0 and ious[best] >= MATCH_IOU:
                    amodal[f - start, k], known[f - start, k] = gt[best][0], True
        objects = [{"source_id": int(obj), "category": "car"} for obj in tracks]
        return SourceVideo(rgb, vis, amodal, known, objects, None, {}, name, start)

    def __getstate__(self):  # workers parse their own tracks
        state = dict(self.__dict__)
        state["_mots"] = None
        return state


def _mots_file(tracks: Path, drive: str) -> Path | None:
    for name in (drive, drive.removesuffix("_sync")):
        if (p := tracks / f"{name}.txt").is_file():
            return p
    return None


def import_kins_video_car(kins: str | Path, raw: str | Path, tracks: str | Path, out: str | Path,
                          options: ImportOptions, *, workers: int | None = None, shard_size: int = 20,
                          progress: bool = True) -> dict | None:
    """Match KINS to KITTI raw by MD5, attach the tracker's car masks and KINS amodal truth, import."""

    kins, raw, tracks = Path(kins), Path(raw), Path(tracks)
    check_writable(out)  # before minutes of matching or planning
    for p, what in ((kins, "KINS folder"), (raw, "KITTI raw root"), (tracks, "tracks folder")):
        if not p.is_dir():
            raise SavosError(f"{p}: {what} is missing")
    drives = {}
    for d in sorted(raw.glob("*/*_drive_*_sync")):
        if (mots := _mots_file(tracks, d.name)) is not None:
            drives[f"{d.parent.name}/{d.name}"] = mots
    if not drives:
        raise SavosError(f"{tracks}: no <drive>.txt tracks for any drive under {raw}/<date>/")
    by_md5 = load_kins(kins)
    truth: dict[str, dict[int, list[dict]]] = {}
    loader = KinsLoader(raw, tracks, drives, truth, {})
    for name in tqdm(list(drives), desc="match KINS by MD5", unit="drive", disable=not progress):
        for t, p in enumerate(loader.frames(name)):
            anns = by_md5.get(md5(p))
            if anns:
                truth.setdefault(name, {})[t] = anns
    names = sorted(drives)
    loader.splits_of.update({d: "test" if i % 5 == 4 else "val" if i % 5 == 3 else "train"
                             for i, d in enumerate(names)})
    splits = [s for s in ("train", "val", "test") if s in loader.splits_of.values()]
    config = {"match_iou": MATCH_IOU, "split_rule": "drive i in name order: i%5==4 test, i%5==3 val",
              "matched_frames": sum(len(v) for v in truth.values())}
    inputs = {"kins": str(kins.resolve()), "kitti_raw": str(raw.resolve()), "tracks": str(tracks.resolve())}
    return run_import(out, loader, splits, options, config, inputs, workers=workers, shard_size=shard_size,
                      progress=progress)
