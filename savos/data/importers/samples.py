"""Small sources in the real datasets' formats, made from arrays: mp4 through imageio-ffmpeg (H.264,
yuv420p, as FISHBOWL's), COCO RLE through pycocotools, bit-packed npy.gz, KITTI-MOTS text, KINS JSON and
Middlebury .flo. The tests and benchmarks make their real-format inputs here; they are also a way to try
the importers without the real data."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from savos.data.importers.flow import FLO_MAGIC
from savos.data.importers.media import write_h264


def write_mp4(path: Path, rgb: np.ndarray) -> None:
    """uint8 (T, H, W, 3) -> an H.264 mp4 (media.write_h264)."""
    write_h264(path, rgb)


def rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as cocomask  # lazy: only KINS' polygons need pycocotools

    r = cocomask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(x) for x in r["size"]], "counts": r["counts"].decode()}


def fish_scene(rng: np.random.Generator, T: int, H: int, W: int, K: int, tiny: int | None = None):
    """K rectangles ("fish") swimming across each other, back to front; object ``tiny`` (if given) is
    only 3x3 px, so it has <= 100 visible pixels over the video. Returns rgb, amodal (T, K, H, W),
    visible (T, K, H, W)."""
    amodal = np.zeros((T, K, H, W), bool)
    for k in range(K):
        h, w = (3, 3) if k == tiny else (int(rng.integers(5, H // 2)), int(rng.integers(6, W // 2)))
        r, c = int(rng.integers(0, H - h)), int(rng.integers(0, W - w))
        vr, vc = int(rng.integers(-1, 2)), int(rng.integers(-2, 3))
        for t in range(T):
            r0, c0 = int(np.clip(r + vr * t, 0, H - h)), int(np.clip(c + vc * t, 0, W - w))
            amodal[t, k, r0:r0 + h, c0:c0 + w] = True
    visible = np.zeros_like(amodal)
    taken = np.zeros((T, H, W), bool)
    for k in reversed(range(K)):  # later objects are in front
        visible[:, k] = amodal[:, k] & ~taken
        taken |= amodal[:, k]
    rgb = np.full((T, H, W, 3), 40, np.uint8)
    ys, xs = np.mgrid[0:H, 0:W]
    for k in range(K):
        colour = rng.integers(60, 255, 3)
        for t in range(T):
            rgb[t][visible[t, k]] = colour
    rgb[..., 2] = np.maximum(rgb[..., 2], ((xs + ys) * 3 % 50).astype(np.uint8))  # some texture
    return rgb, amodal, visible


TYPES = ["SmallFishA", "MediumFishA", "MediumFishB", "BigFishA", "BigFishB"]


def make_fishbowl_raw(root: Path, split: str = "train", videos: int = 2, T: int = 4, H: int = 24, W: int = 32,
                      K: int = 3, seed: int = 0) -> dict:
    """The raw layout; returns {vid: (amodal, visible, ids, types)} of the fixture (before dropping)."""
    rng = np.random.default_rng(seed)
    truth = {}
    for v in range(videos):
        vid = f"{v:05d}"
        rgb, amodal, visible = fish_scene(rng, T, H, W, K, tiny=K - 1)
        folder = root / f"{split}_data" / split / vid
        folder.mkdir(parents=True)
        write_mp4(folder / "video.mp4", rgb)
        ids = [int(i) for i in rng.permutation(20)[:K]]
        types = [TYPES[int(rng.integers(0, 5))] for _ in range(K)]
        objects = [{"id": ids[k], "type_id": TYPES.index(types[k]), "type_name": types[k], "speed": 1.0,
                    "scale": 0.5, "masks": [rle(visible[t, k]) for t in range(T)]} for k in range(K)]
        (folder / "objects.json").write_text(json.dumps(objects))
        for k in range(K):
            af = root / f"{split}_data" / f"{split}_objects" / f"{vid}_object{ids[k]}"
            af.mkdir(parents=True)
            full = [{**objects[k], "masks": [rle(amodal[t, k]) for t in range(T)]}]
            (af / "objects.json").write_text(json.dumps(full))
        truth[vid] = (amodal, visible, ids, types)
    return truth


def pack_bits(masks: np.ndarray, dtype) -> np.ndarray:
    """bool (T, K, H, W) -> (T, H, W) of dtype with bit k + 1 = object k (channel 0 unused)."""
    out = np.zeros(masks.shape[:1] + masks.shape[2:], dtype)
    for k in range(masks.shape[1]):
        out |= masks[:, k].astype(dtype) << dtype(k + 1)
    return out


def npy_gz(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return gzip.compress(buf.getvalue(), compresslevel=5)


def make_fishbowl_wds(root: Path, split: str = "train", Ks=(3, 9), T: int = 4, H: int = 24, W: int = 32,
                      seed: int = 1, vm_dtype=None) -> dict:
    """The WebDataset layout: one shard, one sample per entry of Ks (9 objects need uint16)."""
    rng = np.random.default_rng(seed)
    (root / split).mkdir(parents=True)
    truth = {}
    with tarfile.open(root / split / "shard-000000.tar", "w") as tar:
        for v, K in enumerate(Ks):
            key = f"{v:05d}"
            rgb, amodal, visible = fish_scene(rng, T, H, W, K)
            dtype = np.uint8 if K < 8 else np.uint16 if K < 16 else np.uint32
            mp4 = root / "tmp.mp4"
            write_mp4(mp4, rgb)
            members = {"fm_mask.npy.gz": npy_gz(pack_bits(amodal, dtype)),
                       "video.mp4": mp4.read_bytes(),
                       "vm_mask.npy.gz": npy_gz(pack_bits(visible, vm_dtype or dtype))}
            mp4.unlink()
            for name, data in sorted(members.items()):
                info = tarfile.TarInfo(f"{key}.{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            truth[key] = (amodal, visible)
    return truth


def rect_polygon(r0: int, r1: int, c0: int, c1: int) -> list[float]:
    return [c0, r0, c1, r0, c1, r1, c0, r1]


def make_kins_video_car(root: Path, T: int = 5, H: int = 24, W: int = 32, seed: int = 5) -> dict:
    """KITTI raw (one drive), its MOTS tracks (cars and a pedestrian), and KINS annotating frame 1
    (instances_train.json, RLE visible) and frame 3 (update_test_2020.json, polygons). Returns the
    fixture's truth."""

    rng = np.random.default_rng(seed)
    rgb, amodal, visible = fish_scene(rng, T, H, W, 3)
    drive = root / "raw" / "2011_09_26" / "2011_09_26_drive_0001_sync" / "image_02" / "data"
    drive.mkdir(parents=True)
    for t in range(T):
        Image.fromarray(rgb[t]).save(drive / f"{t:010d}.png")
    (root / "tracks").mkdir()
    lines = []
    for t in range(T):
        for k in range(3):
            if visible[t, k].any():
                cls = 2 if k == 2 else 1  # object 2 is a pedestrian: dropped
                lines.append(f"{t} {cls * 1000 + k} {cls} {H} {W} {rle(visible[t, k])['counts']}")
    (root / "tracks" / "2011_09_26_drive_0001_sync.txt").write_text("\n".join(lines) + "\n")
    kins = root / "kins"
    polys = {}
    for split, frame, name in (("training", 1, "000007.png"), ("testing", 3, "000002.png")):
        (kins / split / "image_2").mkdir(parents=True)
        (kins / split / "image_2" / name).write_bytes((drive / f"{frame:010d}.png").read_bytes())
    boxes = {}
    for t in (1, 3):
        for k in range(2):
            rows, cols = np.flatnonzero(amodal[t, k].any(1)), np.flatnonzero(amodal[t, k].any(0))
            boxes[t, k] = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
            polys[t, k] = rect_polygon(*(int(x) for x in boxes[t, k]))
    cats = [{"id": 4, "name": "car"}, {"id": 2, "name": "pedestrian"}]
    inst = {"images": [{"id": 7, "file_name": "000007.png", "height": H, "width": W}], "categories": cats,
            "annotations": [{"image_id": 7, "category_id": 4, "segmentation": [polys[1, k]],
                             "inmodal_seg": rle(visible[1, k])} for k in range(2)]}
    upd = {"images": [{"id": 2, "file_name": "000002.png", "height": H, "width": W}], "categories": cats,
           "annotations": [{"image_id": 2, "category_id": 4, "a_segm": [polys[3, k]],
                            "i_segm": [rect_polygon(*(int(x) for x in boxes[3, k]))]} for k in range(2)]}
    (kins / "instances_train.json").write_text(json.dumps(inst))
    (kins / "update_test_2020.json").write_text(json.dumps(upd))
    return {"visible": visible, "polys": polys, "size": (H, W)}

def write_flo(path: str | Path, flow: np.ndarray) -> None:
    """float32 (H, W, 2) -> Middlebury ``.flo`` (for tests and tools)."""
    H, W = flow.shape[:2]
    Path(path).write_bytes(FLO_MAGIC.tobytes() + np.array([W, H], np.int32).tobytes()
                           + np.ascontiguousarray(flow, np.float32).tobytes())
