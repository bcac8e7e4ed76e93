"""Instance masks in the formats real data comes in: COCO RLE (compressed strings or count lists),
COCO polygons, KITTI-MOTS text (``MotsText``), and their composition into a savos ``visible`` label map;
and the exact inverses the exporters write with (``encode_rle``, ``mask_polygons``).

RLE decoding is our own (numpy), so a malformed mask is an error naming the file instead of a crash or
a silently wrong mask; the tests check it against pycocotools' encoder. COCO RLE runs alternate
background/foreground starting with background, over the pixels in column-major (Fortran) order.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from savos.errors import SavosError, brief
from savos.readers import read_text

MAX_ID = 2**31 - 1  # ids and frame numbers read from annotation files (KITTI-MOTS ids are class * 1000 + n)


def source_id(value, where: str, what: str = "id") -> int:
    """``value`` (an id or frame number read from an annotation file) if it is an integer in
    [0, MAX_ID], else a SavosError naming ``where``: an id becomes a number in meta (JSON, 64-bit at most)
    and part of file names, so nothing else may pass."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise SavosError(f"{where}: {what} must be an integer in [0, {MAX_ID}], got {brief(value)}; fix the "
                         "annotation file")
    return value


def rle_counts(counts: str | bytes | list, where: str) -> np.ndarray:
    """Run lengths int64 (N,) of a COCO RLE ``counts`` (compressed string, as pycocotools writes it, or
    a plain list)."""
    if isinstance(counts, list):
        out = np.asarray(counts, dtype=np.int64)
        if out.ndim != 1 or (out < 0).any():
            raise SavosError(f"{where}: RLE counts must be a list of non-negative integers")
        return out
    s = counts.encode() if isinstance(counts, str) else bytes(counts)
    runs: list[int] = []
    p = 0
    while p < len(s):
        x = k = 0
        more = True
        while more:
            if p >= len(s):
                raise SavosError(f"{where}: RLE counts string ends inside a number (corrupt)")
            c = s[p] - 48
            if not 0 <= c < 64:
                raise SavosError(f"{where}: RLE counts string has a byte {s[p]!r} outside the COCO alphabet")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]  # counts after the second are stored as differences
        runs.append(x)
    out = np.asarray(runs, dtype=np.int64)
    if (out < 0).any():
        raise SavosError(f"{where}: RLE counts decode to a negative run (corrupt)")
    return out


def encode_rle(mask: np.ndarray) -> dict:
    """bool (H, W) -> COCO RLE ``{"size": [h, w], "counts": compressed string}``, the bytes pycocotools
    writes; ``decode_rle`` is its exact inverse."""
    H, W = mask.shape
    flat = np.ascontiguousarray(mask.T).reshape(-1).astype(bool)  # column-major
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    if flat.size and flat[0]:
        runs.insert(0, 0)  # runs start with background
    out = bytearray()
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run  # counts after the second are stored as differences
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append((c | 0x20 if more else c) + 48)
    return {"size": [int(H), int(W)], "counts": out.decode()}


def mask_polygons(mask: np.ndarray) -> list[list[int]]:
    """bool (H, W) -> COCO polygons whose union ``rasterize_polygons`` (pycocotools) gives back exactly:
    rectangles on pixel corners, each a maximal run of equal column spans over consecutive rows,
    in (top row, left column) order."""
    H, W = mask.shape
    done: list[tuple[int, int, int, int]] = []
    started: dict[tuple[int, int], int] = {}  # (c0, c1) -> first row of the rectangle open on it
    for r in range(H + 1):
        row = np.concatenate([[False], mask[r] if r < H else np.zeros(W, bool), [False]])
        edges = np.flatnonzero(row[1:] != row[:-1]).tolist()
        spans = set(zip(edges[::2], edges[1::2], strict=True))
        for span in [s for s in started if s not in spans]:
            done.append((started.pop(span), r, *span))
        for span in sorted(spans):
            started.setdefault(span, r)
    return [[c0, r0, c1, r0, c1, r1, c0, r1] for r0, r1, c0, c1 in sorted(done)]


def check_size(hw: tuple[int, int], size: tuple[int, int], where: str, what: str) -> None:
    """A mask's (height, width) must be the video's."""
    h, w = hw
    if (h, w) != tuple(size):
        swapped = " (height and width swapped?)" if (w, h) == tuple(size) else ""
        raise SavosError(f"{where}: {what} size {h}x{w} (HxW) does not match the video's "
                         f"{size[0]}x{size[1]}{swapped}")


def rle_runs(rle: dict, size: tuple[int, int], where: str) -> np.ndarray:
    """The checked run lengths of a COCO RLE ``{"size": [h, w], "counts": ...}``; its size must be
    ``size``."""
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise SavosError(f"{where}: expected an RLE object with 'size' and 'counts'")
    try:
        h, w = (int(x) for x in rle["size"])
    except (TypeError, ValueError):
        raise SavosError(f"{where}: RLE size {rle['size']!r} is not [height, width]") from None
    check_size((h, w), size, where, "RLE")
    runs = rle_counts(rle["counts"], where)
    total = int(runs.sum())
    if total != h * w:
        raise SavosError(f"{where}: RLE runs cover {total} pixels, but {h}x{w} has {h * w} (corrupt counts)")
    return runs


def runs_mask(runs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) of checked run lengths (``rle_runs``)."""
    values = np.arange(len(runs)) % 2 == 1  # background first
    return np.repeat(values, runs).reshape(size[1], size[0]).T  # column-major


def decode_rle(rle: dict, size: tuple[int, int], where: str) -> np.ndarray:
    """bool (H, W) of a COCO RLE ``{"size": [h, w], "counts": ...}``; its size must be ``size``."""
    return runs_mask(rle_runs(rle, size, where), size)


class RleMasks:
    """bool (T, K, H, W) masks held as run lengths ``runs[t][k]`` (``rle_runs``), decoded a frame at a
    time: ``masks[t]`` is bool (K, H, W), ``masks[a:b]`` a window, ``np.asarray`` all of them, and
    ``counts`` the pixels of each mask without decoding any."""

    def __init__(self, runs: list[list[np.ndarray]], K: int, size: tuple[int, int]):
        self.runs, self.size = runs, tuple(size)
        self.shape = (len(runs), K, *self.size)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return RleMasks(self.runs[t], self.shape[1], self.size)
        out = np.empty(self.shape[1:], bool)
        for k, r in enumerate(self.runs[t]):
            out[k] = runs_mask(r, self.size)
        return out

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self):
        return (self[t] for t in range(len(self)))

    def select(self, objects) -> RleMasks:
        """The masks of the listed objects, in that order."""
        return RleMasks([[row[k] for k in objects] for row in self.runs], len(objects), self.size)

    def counts(self) -> np.ndarray:
        """int64 (T, K): pixels of each mask (the sum of its odd runs)."""
        return np.array([[int(r[1::2].sum()) for r in row] for row in self.runs], np.int64).reshape(
            self.shape[:2])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.empty(self.shape, bool)
        for t in range(len(self)):
            out[t] = self[t]
        return out


def rasterize_polygons(polygons: list, size: tuple[int, int], where: str) -> np.ndarray:
    """bool (H, W): the union of COCO polygons ([x0, y0, x1, y1, ...] lists), rasterised the way
    pycocotools does (the tool KINS' own scripts used)."""
    from pycocotools import mask as cocomask  # lazy: only KINS' polygons need pycocotools

    H, W = size
    polys = [list(map(float, p)) for p in polygons if len(p) >= 6]
    if not polys:
        return np.zeros(size, bool)
    try:
        with warnings.catch_warnings():  # pycocotools' own numpy-2 DeprecationWarning
            warnings.simplefilter("ignore", DeprecationWarning)
            rles = cocomask.frPyObjects(polys, H, W)
            return cocomask.decode(cocomask.merge(rles)).astype(bool)
    except (TypeError, ValueError) as e:
        raise SavosError(f"{where}: bad polygon ({e})") from None


class MotsText:
    """KITTI-MOTS text: ``frame obj_id class_id img_height img_width rle`` per line.

    Parsed at once (fields, ints, every line's size against ``size``), decoded lazily frame by frame
    (``masks(frame)``), so a long sequence never holds all its masks in memory."""

    def __init__(self, path: str | Path, size: tuple[int, int]):
        self.path = path = Path(path)
        lines = read_text(path, "MOTS text file").splitlines()
        self.size = tuple(size)
        self.by_frame: dict[int, list[tuple[int, int, str, str]]] = {}  # (obj, cls, counts, where)
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            parts = line.split(" ")
            where = f"{path}:{n}"
            if len(parts) != 6:
                raise SavosError(f"{where}: expected 'frame obj_id class_id height width rle', "
                                 f"got {len(parts)} fields")
            try:
                frame, obj, cls, h, w = (int(x) for x in parts[:5])
            except ValueError:
                raise SavosError(f"{where}: frame, ids, height and width must be integers") from None
            for value, what in ((frame, "the frame"), (obj, "obj_id"), (cls, "class_id")):
                source_id(value, where, what)
            check_size((h, w), self.size, where, "MOTS")
            self.by_frame.setdefault(frame, []).append((obj, cls, parts[5], where))
        if not self.by_frame:
            raise SavosError(f"{path}: MOTS file holds no masks")

    def tracks(self, start: int, stop: int, classes: set[int] | None = None) -> list[tuple[int, int]]:
        """Sorted (obj_id, class_id) of the tracks with a mask in frames [start, stop)."""
        return sorted({(o, c) for f, per in self.by_frame.items() if start <= f < stop
                       for o, c, _, _ in per if classes is None or c in classes})

    def masks(self, frame: int) -> list[tuple[int, int, np.ndarray]]:
        """[(obj_id, class_id, bool (H, W))] of one frame; masks of a frame must not overlap."""
        out: list[tuple[int, int, np.ndarray]] = []
        for obj, cls, counts, where in self.by_frame.get(frame, []):
            mask = decode_rle({"size": list(self.size), "counts": counts}, self.size, where)
            for other, _, m in out:
                if (m & mask).any():
                    raise SavosError(f"{where}: mask of object {obj} overlaps object {other} in frame "
                                     f"{frame} (MOTS masks of one frame must be disjoint)")
            out.append((obj, cls, mask))
        return out


def compose_visible(masks: np.ndarray, objects=None) -> tuple[np.ndarray, int]:
    """Visible masks bool (T, K, H, W) of the listed ``objects`` (default all) -> (label map
    uint8/uint16 (T, H, W), label j + 1 = objects[j]; pixels claimed by more than one object). Overlaps
    should not happen in visible masks; where they do, the later object wins (the count says how often)."""
    T, _, H, W = masks.shape
    objects = range(masks.shape[1]) if objects is None else objects
    dtype = np.uint8 if len(objects) < 256 else np.uint16
    visible = np.zeros((T, H, W), dtype)
    count = np.zeros((T, H, W), np.uint16)
    for j, k in enumerate(objects):
        visible[masks[:, k]] = j + 1
        count += masks[:, k]
    return visible, int((count > 1).sum())
