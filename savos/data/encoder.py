"""A clip encoded frame by frame: ``ClipEncoder`` gives the members ``codec.encode_clip`` gives for the
same clip, byte for byte, without the clip's arrays ever being whole in memory.

zstd's one-shot output (what the codec stores) differs from its streaming output, so each member is
still compressed at once from its whole raw bytes; until then the pieces wait in a ``Spool``, held
compressed by a fast zstd level, and the members are expanded one at a time at the end. A clip then costs
its compressed members plus one raw member, instead of every array of the clip and its copies.
"""

from __future__ import annotations

import numpy as np
import zstandard

from savos.data.codec import BitPacker, FlowDeltas, clip_members, flow_layout

SPOOL_LEVEL = -1  # zstd's fast levels: the spool is read back once, in this process


class Spool:
    """Pieces of one array written in order, held compressed; ``read`` returns them as one array."""

    def __init__(self, dtype="uint8"):
        self.dtype = np.dtype(dtype)
        self.parts: list[tuple[bytes, np.dtype, int]] = []
        self.size = 0  # elements
        self._zc = zstandard.ZstdCompressor(level=SPOOL_LEVEL, write_content_size=True)

    def write(self, piece: np.ndarray) -> None:
        piece = np.ascontiguousarray(piece)
        if piece.size:
            self.parts.append((self._zc.compress(piece), piece.dtype, piece.size))
            self.size += piece.size

    def read(self, dtype=None, out: np.ndarray | None = None) -> np.ndarray:
        """All pieces as one (size,) array of ``dtype`` (default the spool's), into ``out`` if given;
        the spool is empty afterwards."""
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        out = np.empty(self.size, dtype) if out is None else out
        zd, at = zstandard.ZstdDecompressor(), 0
        for data, kind, n in self.parts:
            out[at:at + n] = np.frombuffer(zd.decompress(data), kind)
            at += n
        self.parts, self.size = [], 0
        return out


class _FlowSpool:
    """One flow member (``codec.quantize_flow``'s bytes) made pair by pair."""

    def __init__(self):
        self.coder, self.bits, self.map, self.deltas = FlowDeltas(), BitPacker(), Spool(), Spool("int16")
        self.pixels = 0

    def add(self, flow: np.ndarray) -> None:
        moving, d = self.coder(flow)
        self.pixels += moving.size
        self.map.write(self.bits.add(moving))
        fits = d.size == 0 or (-32768 <= d.min() and d.max() <= 32767)
        self.deltas.write(d.reshape(-1).astype(np.int16 if fits else np.int32))

    def member(self) -> np.ndarray:
        self.map.write(self.bits.finish())
        dtype = self.coder.dtype
        nbits, total = flow_layout(self.pixels, self.deltas.size // 2, dtype)
        out = np.empty(total, np.uint8)
        self.map.read(out=out[:nbits])
        self.deltas.read(dtype, out=out[nbits:].view(dtype))
        return out


class ClipEncoder:
    """``encode_clip`` of a clip of T frames, K objects, H x W pixels, given frame by frame (``frame``,
    T calls) and frame pair by frame pair (``flow``, T - 1 calls, after frame t + 1 or later), then
    ``finish``. ``rgb_delta``: store frame differences (imported videos: ``meta["source"]`` is set)."""

    def __init__(self, T: int, K: int, H: int, W: int, visible_dtype, rgb_delta: bool):
        self.shape, self.visible_dtype, self.rgb_delta = (T, K, H, W), np.dtype(visible_dtype), rgb_delta
        self.rgb, self.visible, self.amodal = Spool(), Spool(self.visible_dtype), Spool()
        self.amodal_bits = BitPacker()
        self.flows = {"flow_fwd": _FlowSpool(), "flow_bwd": _FlowSpool()}
        self.prev = np.zeros((H, W, 3), np.uint8)
        self.frames = self.pairs = 0

    def frame(self, rgb: np.ndarray, visible: np.ndarray, amodal: np.ndarray) -> None:
        """rgb uint8 (H, W, 3), visible (H, W) label map, amodal bool (K, H, W) of the next frame."""
        self.rgb.write(np.subtract(rgb, self.prev, dtype=np.uint8) if self.rgb_delta else rgb)  # mod 256
        self.prev = rgb
        self.visible.write(visible.astype(self.visible_dtype, copy=False))
        self.amodal.write(self.amodal_bits.add(amodal))
        self.frames += 1

    def flow(self, fwd: np.ndarray, bwd: np.ndarray) -> None:
        """float32 (H, W, 2) each: the Clip's flow_fwd[t] and flow_bwd[t] of the next pair."""
        self.flows["flow_fwd"].add(fwd)
        self.flows["flow_bwd"].add(bwd)
        self.pairs += 1

    def finish(self, meta: dict, known: np.ndarray | None) -> list[tuple[str, bytes]]:
        T = self.shape[0]
        if (self.frames, self.pairs) != (T, T - 1):
            raise ValueError(f"ClipEncoder: got {self.frames} frames and {self.pairs} flow pairs, expected "
                             f"{T} and {T - 1}")
        self.amodal.write(self.amodal_bits.finish())
        flows = {name: (f.member, f.coder.dtype) for name, f in self.flows.items()}
        return clip_members(self.shape, self.visible_dtype, meta, self.rgb.read, self.visible.read,
                            self.amodal.read, flows, known, rgb_delta=self.rgb_delta)
