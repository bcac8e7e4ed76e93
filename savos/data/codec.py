"""Clip <-> bytes: the members one clip occupies in a shard.

Members of clip ``<key>`` (WebDataset style, one group per clip):

| member                        | content                                                               |
|-------------------------------|-----------------------------------------------------------------------|
| ``<key>.header.json``         | schema, T, K, H, W, dtypes and encodings of the array members         |
| ``<key>.meta.json.zst``       | ``clip.meta`` exactly, as JSON (sorted keys, orjson), zstd            |
| ``<key>.rgb.zst``             | uint8 (T, H, W, 3), C order, zstd; header ``rgb_encoding`` "delta-t": |
|                               | frame t stored as rgb[t] - rgb[t-1] mod 256 (imported real videos)    |
| ``<key>.visible.zst``         | (T, H, W) in ``visible_dtype``, zstd                                  |
| ``<key>.amodal.zst``          | bool (T, K, H, W) bit-packed (np.packbits, big bit order), zstd       |
| ``<key>.flow_fwd.zst``        | sparse flow (below), zstd                                             |
| ``<key>.flow_bwd.zst``        | same                                                                  |
| ``<key>.amodal_flow_fwd.zst`` | same, (T-1, K, H, W, 2); absent when the dataset stores no amodal flow |
| ``<key>.amodal_known.zst``    | bool (T, K) bit-packed, zstd; absent when all True (synthetic data), so |
|                               | datasets written before it existed read as all known                  |

Sparse flow: the bit-packed map of pixels whose flow is not (0, 0) (``ceil(N / 8)`` bytes for N pixels),
followed by the flow of those pixels in C order, quantised ``q = round(flow * 64)`` and delta-coded
along that order, per channel, in ``flow_dtype`` (int16, or int32 when a delta needs it). Decoding
returns ``q / 64`` as float32, so the stored flow differs from the exact flow by at most 1/128 px
(< 0.01 px, the bound docs/design.md sets). Flow is zero on static background and outside amodal masks,
so only moving pixels cost anything, and the delta of the affine flow of rigid motion is nearly
constant, which zstd compresses to almost nothing.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import orjson
import zstandard

from savos.data.clip import Clip, ClipError, flow_problem

SCHEMA = 1
FLOW_QUANTUM = 64  # flow is stored in units of 1/64 px
ZSTD_LEVEL = 1  # level 3 costs 50% more time for <1% smaller clips (benchmarks/gen_throughput.py)

_ARRAYS = ("rgb", "visible", "amodal", "flow_fwd", "flow_bwd", "amodal_flow_fwd")
MEMBER_SUFFIXES = ("header.json", "meta.json.zst") + tuple(f"{a}.zst" for a in _ARRAYS)
REQUIRED_SUFFIXES = MEMBER_SUFFIXES[:-1]  # amodal_flow_fwd is optional
OPTIONAL_SUFFIXES = ("amodal_known.zst",)  # after the flows, so synthetic shards keep their bytes

# One compressor per process: zstandard objects are not thread-safe but are cheap to reuse.
_compressor: zstandard.ZstdCompressor | None = None
_decompressor: zstandard.ZstdDecompressor | None = None


def _zc() -> zstandard.ZstdCompressor:
    global _compressor
    if _compressor is None:
        _compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return _compressor


def _zd() -> zstandard.ZstdDecompressor:
    global _decompressor
    if _decompressor is None:
        _decompressor = zstandard.ZstdDecompressor()
    return _decompressor


class FlowDeltas:
    """The delta coding of ``quantize_flow``, piece by piece: consecutive pieces (in C order) of one flow
    array give the pieces of its moving map (bool, one per pixel) and of its deltas (int32 (n, 2)); the
    last moving pixel's value carries from one piece to the next."""

    def __init__(self):
        self.last = np.zeros(2, np.int32)  # q of the last moving pixel so far (0 before the first)
        self.lo, self.hi = 0, 0  # range of the deltas so far

    def __call__(self, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flow = np.ascontiguousarray(flow, dtype=np.float32)
        # One 64-bit word per pixel (both channels): a pixel moves iff its word is not 0 (-0.0 counts as
        # moving and stores 0). Selecting whole words is much faster than a boolean mask of (dx, dy) rows.
        words = flow.view(np.uint64).reshape(-1)
        moving = words != 0
        scaled = words[moving].view(np.float32).reshape(-1)  # (dx, dy) pairs; a copy: ours to edit
        problem = flow_problem(scaled)  # NaN would become INT32_MIN and corrupt the next pixel's delta
        if problem is not None:
            raise ClipError(f"cannot store the flow: {problem.split(', the first')[0]}")
        scaled *= np.float32(FLOW_QUANTUM)
        q = np.rint(scaled, out=scaled).astype(np.int32)  # exact
        d = np.empty_like(q)
        if q.size:
            np.subtract(q[:2], self.last, out=d[:2])
            np.subtract(q[2:], q[:-2], out=d[2:])  # per channel: each value minus the pixel's before it
            self.last = q[-2:].copy()
            self.lo, self.hi = min(self.lo, int(d.min())), max(self.hi, int(d.max()))
        return moving, d.reshape(-1, 2)

    @property
    def dtype(self) -> str:
        """The dtype every delta so far fits: int16, or int32 when one needs it."""
        return "int16" if -32768 <= self.lo and self.hi <= 32767 else "int32"


def flow_layout(pixels: int, moving: int, dtype: str) -> tuple[int, int]:
    """(bytes of the moving map, bytes of the member) of a sparse flow of ``pixels`` pixels."""
    nbits = (pixels + 7) // 8
    return nbits, nbits + moving * 2 * np.dtype(dtype).itemsize


def quantize_flow(flow: np.ndarray) -> tuple[bytes, str]:
    """float32 (..., 2) flow -> (sparse encoding, dtype name of its deltas). See the module docstring."""
    coder = FlowDeltas()
    moving, d = coder(flow)
    dtype = coder.dtype
    nbits, total = flow_layout(moving.size, len(d), dtype)
    out = np.empty(total, np.uint8)
    out[:nbits] = np.packbits(moving)
    out[nbits:].view(dtype)[:] = d.reshape(-1)
    return out.tobytes(), dtype


class BitPacker:
    """``np.packbits`` of a long bool array given in pieces: ``add`` returns the whole bytes so far,
    ``finish`` the last, zero-padded one (the same bytes as packing the whole array at once)."""

    def __init__(self):
        self.rest = np.zeros(0, bool)

    def add(self, bits: np.ndarray) -> np.ndarray:
        bits = bits.reshape(-1)
        if self.rest.size:
            bits = np.concatenate([self.rest, bits])
        whole = bits.size - bits.size % 8
        self.rest = bits[whole:].copy()
        return np.packbits(bits[:whole])

    def finish(self) -> np.ndarray:
        out, self.rest = np.packbits(self.rest), np.zeros(0, bool)
        return out


def dequantize_flow(data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of quantize_flow: float32 flow of ``shape`` (..., 2), exact multiples of 1/64 px."""
    pixels = int(np.prod(shape[:-1]))
    nbits = (pixels + 7) // 8
    if len(data) < nbits:
        raise ClipError(f"{len(data)} bytes is too short for a flow map of {pixels} pixels")
    moving = np.unpackbits(np.frombuffer(data, np.uint8, count=nbits), count=pixels).astype(bool)
    n = int(moving.sum())
    if len(data) - nbits != n * 2 * np.dtype(dtype).itemsize:
        raise ClipError(f"{len(data)} bytes do not match {n} moving pixels of {dtype} flow")
    d = np.frombuffer(data, dtype, offset=nbits).reshape(n, 2)
    out = np.zeros((pixels, 2), np.float32)
    out[moving] = np.cumsum(d, axis=0, dtype=np.int64).astype(np.float32) / np.float32(FLOW_QUANTUM)
    return out.reshape(shape)


def encode_clip(clip: Clip, *, validate: bool = True) -> list[tuple[str, bytes]]:
    """Encode a valid clip into (member suffix, bytes) pairs, deterministic byte for byte.

    ``validate=False`` skips ``clip.validate()``: only for clips valid by construction (a generator
    whose output the tests validate). ``decode_clip`` validates every clip it reads either way.
    """
    if validate:
        clip.validate()
    T, K, H, W = clip.amodal.shape
    flows = {"flow_fwd": clip.flow_fwd, "flow_bwd": clip.flow_bwd}
    if clip.amodal_flow_fwd is not None:
        flows["amodal_flow_fwd"] = clip.amodal_flow_fwd
    coded = {name: quantize_flow(f) for name, f in flows.items()}
    # Real videos (meta "source") have a static background full of sensor/codec noise that zstd cannot
    # compress; their frame differences compress ~7x better (benchmarks/import_throughput.py). Flat
    # generated frames gain nothing, so they keep the raw encoding (and their bytes).
    delta = clip.meta.get("source") is not None
    rgb = np.diff(clip.rgb, axis=0, prepend=np.zeros_like(clip.rgb[:1])) if delta else clip.rgb  # mod 256
    return clip_members((T, K, H, W), clip.visible.dtype, clip.meta, rgb, clip.visible,
                        np.packbits(clip.amodal, axis=None), coded, clip.amodal_known, rgb_delta=delta)


def clip_members(shape: tuple[int, int, int, int], visible_dtype: np.dtype, meta: dict, rgb, visible,
                 amodal_bits, flows: dict, known: np.ndarray | None,
                 rgb_delta: bool) -> list[tuple[str, bytes]]:
    """The members of one clip, in their order. ``rgb`` (uint8 (T, H, W, 3), frame differences when
    ``rgb_delta``), ``visible`` and ``amodal_bits`` (the bit-packed amodal masks) are arrays or buffers
    of those bytes, or functions returning them; ``flows`` maps a flow's name to (its quantize_flow
    bytes, or a function returning them, and the dtype of its deltas). Functions are called one at a
    time and their result dropped once compressed, so a caller can hold a single raw member at a time."""
    T, K, H, W = shape
    zc = _zc()

    def packed(raw) -> bytes:
        raw = raw() if callable(raw) else raw
        return zc.compress(np.ascontiguousarray(raw) if isinstance(raw, np.ndarray) else raw)  # no copy

    flow_dtypes = tuple((name, dt) for name, (_, dt) in flows.items())
    members = [
        ("header.json", _header(T, K, H, W, np.dtype(visible_dtype), flow_dtypes, rgb_delta)),
        ("meta.json.zst", zc.compress(_dump_meta(meta))),
        ("rgb.zst", packed(rgb)),
        ("visible.zst", packed(visible)),
        ("amodal.zst", packed(amodal_bits)),
    ]
    for name, (d, _) in flows.items():
        members.append((f"{name}.zst", packed(d)))
    if known is not None and not known.all():
        members.append(("amodal_known.zst", zc.compress(np.packbits(known, axis=None))))
    return members


@functools.lru_cache(maxsize=64)
def _header(T: int, K: int, H: int, W: int, visible_dtype: np.dtype, flow_dtypes: tuple,
            rgb_delta: bool = False) -> bytes:
    """The header member (the same few bytes for every clip of a dataset, so made once)."""
    header = {"schema": SCHEMA, "T": T, "K": K, "H": H, "W": W, "visible_dtype": visible_dtype.name,
              "flow_quantum": FLOW_QUANTUM, "flow_dtype": dict(flow_dtypes)}
    if rgb_delta:
        header["rgb_encoding"] = "delta-t"
    return json.dumps(header, sort_keys=True).encode()


def _dump_meta(meta: dict) -> bytes:
    try:
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as e:
        raise ClipError(f"meta is not JSON-able ({e})") from None


def _array(raw: bytes, dtype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        data = _zd().decompress(raw)
    except zstandard.ZstdError as e:
        raise ClipError(f"{what}: corrupt compressed data ({e})") from None
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if len(data) != expected:
        raise ClipError(f"{what}: {len(data)} bytes, expected {expected} for {dtype} {shape}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()  # writable for the caller


def decode_meta(members: dict[str, bytes]) -> dict:
    """A clip's ``meta`` from its ``meta.json.zst`` member alone. Raises ClipError."""
    if "meta.json.zst" not in members:
        raise ClipError("member 'meta.json.zst' is missing")
    try:
        return orjson.loads(_zd().decompress(members["meta.json.zst"]))
    except (zstandard.ZstdError, orjson.JSONDecodeError) as e:
        raise ClipError(f"bad meta ({e})") from None


def decode_clip(members: dict[str, bytes]) -> Clip:
    """Inverse of encode_clip; ``members`` maps member suffix -> bytes. Raises ClipError."""
    for need in REQUIRED_SUFFIXES:
        if need not in members:
            raise ClipError(f"member '{need}' is missing")
    try:
        header = json.loads(members["header.json"])
        meta = orjson.loads(_zd().decompress(members["meta.json.zst"]))
        T, K, H, W = (int(header[x]) for x in "TKHW")
        if header["schema"] != SCHEMA:
            raise ClipError(f"schema {header['schema']} is not supported (this savos reads {SCHEMA})")
        flow_dtype = header["flow_dtype"]
        visible_dtype = header["visible_dtype"]
        rgb_encoding = header.get("rgb_encoding", "raw")
        if rgb_encoding not in ("raw", "delta-t"):
            raise ClipError(f"rgb_encoding {rgb_encoding!r} is not supported (this savos reads raw, delta-t)")
    except (ValueError, KeyError, TypeError, zstandard.ZstdError, orjson.JSONDecodeError) as e:
        raise ClipError(f"bad header or meta ({e})") from None
    rgb = _array(members["rgb.zst"], "uint8", (T, H, W, 3), "rgb")
    if rgb_encoding == "delta-t":
        rgb = np.cumsum(rgb, axis=0, dtype=np.uint8)  # sums mod 256 undo the differences
    visible = _array(members["visible.zst"], visible_dtype, (T, H, W), "visible")
    packed = _array(members["amodal.zst"], "uint8", ((T * K * H * W + 7) // 8,), "amodal")
    amodal = np.unpackbits(packed, count=T * K * H * W).astype(bool).reshape(T, K, H, W)
    flows = {}
    for name, shape in (("flow_fwd", (T - 1, H, W, 2)), ("flow_bwd", (T - 1, H, W, 2)),
                        ("amodal_flow_fwd", (T - 1, K, H, W, 2))):
        if name in flow_dtype:
            if f"{name}.zst" not in members:
                raise ClipError(f"member '{name}.zst' is missing")
            try:
                raw = _zd().decompress(members[f"{name}.zst"])
            except zstandard.ZstdError as e:
                raise ClipError(f"{name}: corrupt compressed data ({e})") from None
            try:
                flows[name] = dequantize_flow(raw, flow_dtype[name], shape)
            except (ClipError, ValueError) as e:
                raise ClipError(f"{name}: {e}") from None
    known = None
    if "amodal_known.zst" in members:
        bits = _array(members["amodal_known.zst"], "uint8", ((T * K + 7) // 8,), "amodal_known")
        known = np.unpackbits(bits, count=T * K).astype(bool).reshape(T, K)
    clip = Clip(rgb=rgb, visible=visible, amodal=amodal, flow_fwd=flows.get("flow_fwd"),
                flow_bwd=flows.get("flow_bwd"), amodal_flow_fwd=flows.get("amodal_flow_fwd"), meta=meta,
                amodal_known=known)
    clip.validate()
    return clip
