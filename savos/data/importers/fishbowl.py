"""FISHBOWL (Tangemann et al. 2021) in either public layout -> Clips (``savos-gen import fishbowl``).

Raw layout (the generator's output)::

    SRC/<split>_data/<split>/<vid>/video.mp4, objects.json     visible masks, one COCO RLE per frame
    SRC/<split>_data/<split>_objects/<vid>_object<id>/objects.json   amodal masks (one-element list)
    SRC/<split>_flow/inference/run.epoch-0-flow-field/<vid>/*.flo    optional FlowNet2 flow (and
    SRC/<split>_flow_reverse/...                                     backward), as the original read it

WebDataset layout (the object-centric-learning-framework conversion)::

    SRC/<split>/shard-*.tar   members <vid>.video.mp4, <vid>.vm_mask.npy.gz, <vid>.fm_mask.npy.gz
                              (and flow.mp4, not read: its encoding is lossy); masks bit-packed, bit c of
                              a pixel = object channel c, channel 0 unused, dtype uint8..uint64

Objects with <= 100 visible pixels over the whole video are dropped, as the original did. Fish ids and
types are kept (``source_id``, ``category``) where the layout has them; the WebDataset layout lost them,
so ``source_id`` is the mask channel and ``category`` "fish".
"""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from savos.data.importers.assemble import CachedVideo, ImportOptions, SourceVideo
from savos.data.importers.flow import read_flo_folder
from savos.data.importers.masks import RleMasks, rle_runs, source_id
from savos.data.importers.media import VideoFrames, read_video
from savos.data.importers.plan import run_import
from savos.errors import SavosError
from savos.outputs import check_writable
from savos.readers import read_json

DROP_MAX_PIXELS = 100  # the original drops objects with <= 100 visible pixels over the video
FISH_TYPES = ("SmallFishA", "MediumFishA", "MediumFishB", "BigFishA", "BigFishB")
FLOW_RUN = "inference/run.epoch-0-flow-field"


def detect_layout(src: Path) -> str:
    """"raw" or "webdataset"."""
    if not src.is_dir():
        raise SavosError(f"{src}: FISHBOWL folder is missing")
    if any(p.is_dir() for p in src.glob("*_data")):
        return "raw"
    if any(src.glob("*/shard-*.tar")):
        return "webdataset"
    raise SavosError(f"{src}: neither FISHBOWL layout found (expected <split>_data/<split>/<vid>/ folders "
                     "or <split>/shard-*.tar files)")


def _read_json(path: Path):
    return read_json(path, "FISHBOWL annotation file")


def _runs(obj: dict, T: int, size: tuple[int, int], path: Path, what: str) -> list[np.ndarray]:
    """The checked run lengths of an object's per-frame RLE masks (``masks.rle_runs``)."""
    masks = obj.get("masks") if isinstance(obj, dict) else None
    if not isinstance(masks, list):
        raise SavosError(f"{path}: {what} has no list of 'masks'")
    if len(masks) != T:
        raise SavosError(f"{path}: {what} has {len(masks)} masks but the video has {T} frames "
                         "(frame-count mismatch)")
    return [rle_runs(m, size, f"{path}: {what}, frame {t}") for t, m in enumerate(masks)]


def keep_objects(visible: np.ndarray) -> np.ndarray:
    """Indices of the objects kept by the original's rule: more than 100 visible pixels in the video."""
    return np.flatnonzero(visible.sum(axis=(0, 2, 3)) > DROP_MAX_PIXELS)


@dataclass
class FishbowlLoader(CachedVideo):
    """Lists and loads FISHBOWL videos; names are ``<split>/<vid>``. A video is decoded whole (mp4,
    per-video RLE lists) and kept for its next windows."""

    src: Path
    layout: str
    unseen_type: str | None = None  # Table 2: train on the other types, test on this one
    dataset: str = "fishbowl"
    _shards: dict[str, Path] = field(default_factory=dict, repr=False)

    def splits(self) -> list[str]:
        if self.layout == "raw":
            return sorted(p.name.removesuffix("_data") for p in self.src.glob("*_data") if p.is_dir())
        return sorted({p.parent.name for p in self.src.glob("*/shard-*.tar")})

    def videos(self, split: str) -> list[str]:
        if self.layout == "raw":
            root = self.src / f"{split}_data" / split
            if not root.is_dir():
                raise SavosError(f"{root}: split folder is missing")
            return [f"{split}/{p.name}" for p in sorted(root.iterdir()) if p.is_dir()]
        names = []
        for shard in sorted((self.src / split).glob("shard-*.tar")):
            try:
                with tarfile.open(shard, "r:") as tar:
                    keys = sorted({m.name.split(".", 1)[0] for m in tar.getmembers() if m.isfile()})
            except tarfile.TarError as e:
                raise SavosError(f"{shard}: not a readable tar file ({e})") from None
            for key in keys:
                self._shards[f"{split}/{key}"] = shard
                names.append(f"{split}/{key}")
        return names

    def num_frames(self, name: str) -> int:
        split, vid = name.split("/", 1)
        if self.layout == "raw":  # one mask per frame (load() checks it against the video)
            folder = self.src / f"{split}_data" / split / vid
            objects = _read_json(folder / "objects.json")
            if isinstance(objects, list) and objects and isinstance(objects[0], dict) \
                    and isinstance(objects[0].get("masks"), list):
                return len(objects[0]["masks"])
            return int(read_video(folder / "video.mp4").shape[0])  # no fish: count the frames
        shard = self._shards.get(name) or self._find_shard(split, vid)
        with tarfile.open(shard, "r:") as tar:
            m = tar.getmember(f"{vid}.vm_mask.npy.gz")
            with gzip.open(tar.extractfile(m)) as f:  # the .npy header only: no full decompression
                fmt = np.lib.format
                major, _ = fmt.read_magic(f)
                header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
                shape = header(f)[0]
        return int(shape[0])

    def load(self, name: str, start: int = 0, stop: int | None = None) -> SourceVideo:
        return self.cached(name, self._load_whole).slice(start, stop)

    def _load_whole(self, name: str) -> SourceVideo:
        src = self._load_raw(name) if self.layout == "raw" else self._load_wds(name)
        if self.unseen_type is not None:
            held_out = name.split("/", 1)[0] != "train"  # val/test score only the unseen type
            for o in src.objects:
                if o.get("role", "target") == "target":
                    o["role"] = "target" if (o["category"] == self.unseen_type) == held_out else "occluder"
        return src

    def _load_raw(self, name: str) -> SourceVideo:
        split, vid = name.split("/", 1)
        folder = self.src / f"{split}_data" / split / vid
        rgb = VideoFrames.open(folder / "video.mp4")  # decoded again frame by frame when used
        T, H, W = rgb.shape[:3]
        path = folder / "objects.json"
        objects = _read_json(path)
        if not isinstance(objects, list):
            raise SavosError(f"{path}: expected a list of objects")
        vis, amo = [], []  # per object, per frame: run lengths
        meta = []
        for j, obj in enumerate(objects):
            if not isinstance(obj, dict) or "id" not in obj:
                raise SavosError(f"{path}: object {j} has no 'id'")
            source_id(obj["id"], f"{path}: object {j}")  # it names the object's amodal folder too
            vis.append(_runs(obj, T, (H, W), path, f"object id {obj['id']}"))
            apath = (self.src / f"{split}_data" / f"{split}_objects" / f"{vid}_object{obj['id']}"
                     / "objects.json")
            full = _read_json(apath)
            if not isinstance(full, list) or len(full) != 1:
                raise SavosError(f"{apath}: expected a one-element list (the fish rendered alone)")
            amo.append(_runs(full[0], T, (H, W), apath, "amodal render"))
            meta.append({"source_id": obj["id"], "category": str(obj.get("type_name", "fish")),
                         "type_id": obj.get("type_id"), "speed": obj.get("speed"), "scale": obj.get("scale"),
                         # a role other than target: an exported scene's prop (FISHBOWL has none)
                         **({"role": str(obj["role"])} if obj.get("role") not in (None, "target") else {})})
        vis = RleMasks([list(r) for r in zip(*vis, strict=True)] if vis else [[]] * T, len(objects), (H, W))
        amo = RleMasks([list(r) for r in zip(*amo, strict=True)] if amo else [[]] * T, len(objects), (H, W))
        keep = np.flatnonzero(vis.counts().sum(axis=0) > DROP_MAX_PIXELS)  # keep_objects' rule
        if len(keep) < len(objects):
            vis, amo = vis.select(keep), amo.select(keep)
        flow, info = self._raw_flow(split, vid, T, (H, W))
        return SourceVideo(rgb, vis, amo, np.ones((T, len(keep)), bool), [meta[k] for k in keep], flow,
                           info, name)

    def _raw_flow(self, split: str, vid: str, T: int, size: tuple[int, int]):
        fwd_dir = self.src / f"{split}_flow" / FLOW_RUN / vid
        bwd_dir = self.src / f"{split}_flow_reverse" / FLOW_RUN / vid
        if not fwd_dir.is_dir():
            return None, {}
        # Forward file t: frame t -> t+1. Backward file t: frame t+1 -> t (FlowNet2 run on the reversed
        # pairs), living on frame t+1 as the Clip's flow_bwd[t].
        fwd = read_flo_folder(fwd_dir, T - 1, size)
        bwd = read_flo_folder(bwd_dir, T - 1, size)
        return (fwd, bwd), {"method": "flownet2 (.flo files of the source)", "exact": False}

    def _load_wds(self, name: str) -> SourceVideo:
        split, vid = name.split("/", 1)
        shard = self._shards.get(name) or self._find_shard(split, vid)
        try:
            with tarfile.open(shard, "r:") as tar:
                members = {m.name: m for m in tar.getmembers() if m.name.startswith(f"{vid}.")}

                def member(suffix: str) -> bytes:
                    m = members.get(f"{vid}.{suffix}")
                    if m is None:
                        raise SavosError(f"{shard}: sample {vid} has no member {vid}.{suffix}")
                    return tar.extractfile(m).read()

                video, vm, fm = member("video.mp4"), member("vm_mask.npy.gz"), member("fm_mask.npy.gz")
        except tarfile.TarError as e:
            raise SavosError(f"{shard}: not a readable tar file ({e})") from None
        with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
            tmp.write(video)
            tmp.flush()
            try:
                rgb = read_video(tmp.name)
            except SavosError as e:
                raise SavosError(f"{shard}: {vid}.video.mp4: {str(e).split(': ', 1)[1]}") from None
        T, H, W = rgb.shape[:3]
        vis_bits = load_packed(vm, f"{shard}: {vid}.vm_mask.npy.gz", (T, H, W))
        amo_bits = load_packed(fm, f"{shard}: {vid}.fm_mask.npy.gz", (T, H, W))
        channels = used_channels(vis_bits)
        width = amo_bits.dtype.itemsize * 8
        if channels and channels[-1] >= width:
            raise SavosError(f"{shard}: {vid}.vm_mask.npy.gz: object channel {channels[-1]} is beyond the "
                             f"{width}-bit width of {vid}.fm_mask.npy.gz ({amo_bits.dtype})")
        vis = unpack_channels(vis_bits, channels)
        amo = unpack_channels(amo_bits, channels)
        keep = keep_objects(vis)
        objects = [{"source_id": int(channels[k]), "category": "fish"} for k in keep]
        return SourceVideo(rgb, vis[:, keep], amo[:, keep], np.ones((T, len(keep)), bool), objects,
                           None, {}, name)

    def _find_shard(self, split: str, vid: str) -> Path:
        self.videos(split)
        if f"{split}/{vid}" not in self._shards:
            raise SavosError(f"{self.src / split}: no sample {vid} in its shards")
        return self._shards[f"{split}/{vid}"]


def load_packed(data: bytes, where: str, shape: tuple[int, int, int]) -> np.ndarray:
    """A gzip of ``np.save`` of a bit-packed (T, H, W) unsigned integer array."""
    try:
        arr = np.load(io.BytesIO(gzip.decompress(data)), allow_pickle=False)
    except (OSError, EOFError, ValueError) as e:
        raise SavosError(f"{where}: not a gzipped .npy array ({e})") from None
    if arr.dtype.kind != "u" or arr.dtype.itemsize not in (1, 2, 4, 8):
        raise SavosError(f"{where}: dtype {arr.dtype} is not a bit-packed mask (uint8/16/32/64)")
    if arr.shape != shape:
        what = "frame-count mismatch" if arr.shape[1:] == shape[1:] else "size mismatch"
        raise SavosError(f"{where}: shape {arr.shape} but the video is {shape} (T, H, W) ({what})")
    return arr


def used_channels(bits: np.ndarray) -> list[int]:
    """Object channels (bit positions >= 1) set anywhere in a bit-packed mask."""
    union = np.bitwise_or.reduce(bits.reshape(-1)) if bits.size else 0
    return [c for c in range(1, bits.dtype.itemsize * 8) if (int(union) >> c) & 1]


def unpack_channels(bits: np.ndarray, channels: list[int]) -> np.ndarray:
    """bit-packed (T, H, W) -> bool (T, len(channels), H, W)."""
    T, H, W = bits.shape
    out = np.empty((T, len(channels), H, W), bool)
    for j, c in enumerate(channels):
        out[:, j] = (bits >> bits.dtype.type(c)) & bits.dtype.type(1)
    return out


def exported_types(src: Path) -> dict[str, int]:
    """{type name: id} of ``src/types.json`` (written by ``savos-gen export fishbowl``), {} without one."""
    path = src / "types.json"
    if not path.is_file():
        return {}
    doc = _read_json(path)
    ids = doc.get("type_ids") if isinstance(doc, dict) else None
    if not isinstance(ids, dict):
        raise SavosError(f"{path}: expected {{\"type_ids\": {{name: id}}}}")
    return {str(k): v for k, v in ids.items()}


def import_fishbowl(src: str | Path, out: str | Path, options: ImportOptions, *,
                    splits: list[str] | None = None, unseen_type: str | None = None,
                    workers: int | None = None, shard_size: int = 20,
                    progress: bool = True) -> dict | None:
    """Import FISHBOWL from ``src`` (either layout, detected) into the dataset folder ``out``."""
    src = Path(src)
    layout = detect_layout(src)
    check_writable(out)  # before minutes of matching or planning
    if unseen_type is not None:
        unseen_type = unseen_type.replace("MediaFish", "MediumFish")  # the paper's spelling
        # FISHBOWL's types, or those an export names (savos-gen export fishbowl writes types.json)
        names = list(FISH_TYPES) + sorted(exported_types(src))
        if unseen_type not in names:
            raise SavosError(f"--unseen-type {unseen_type!r}: expected one of {', '.join(names)}")
        if layout != "raw":
            raise SavosError(f"{src}: --unseen-type needs fish types, which only the raw layout has")
    loader = FishbowlLoader(src, layout, unseen_type)
    available = loader.splits()
    splits = splits or available
    for s in splits:
        if s not in available:
            raise SavosError(f"{src}: no split {s!r} ({layout} layout; it has "
                             f"{', '.join(available) or 'none'})")
    config = {"layout": layout, "splits": splits, "unseen_type": unseen_type,
              "drop_max_pixels": DROP_MAX_PIXELS}
    return run_import(out, loader, splits, options, config, {"src": str(src.resolve())}, workers=workers,
                      shard_size=shard_size, progress=progress)
