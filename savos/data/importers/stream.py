"""One imported clip made and encoded frame by frame: ``encode_window`` gives the members that
``codec.encode_clip(assemble.build_clip(...))`` gives, byte for byte, while holding one source frame,
its flow pair and the clip's compressed members (``savos.data.encoder``), never the clip's arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from savos.data.encoder import ClipEncoder
from savos.data.importers.assemble import (
    ImportMaker,
    ImportOptions,
    SourceVideo,
    clip_meta,
    clip_size,
    resize_nearest,
    resize_rgb,
    source_flow_meta,
)
from savos.data.importers.flow import FlowEstimator, resize_flow, round_flow, stored_meta
from savos.data.importers.masks import compose_visible


def _seen(src: SourceVideo, size: tuple[int, int]) -> np.ndarray:
    """Indices of the objects visible in some frame at ``size`` (masks counted, not decoded, when the
    source can and the size is the source's)."""
    counts = getattr(src.visible, "counts", None)
    if counts is not None and tuple(size) == tuple(src.visible.shape[2:]):
        return np.flatnonzero(counts().any(axis=0))
    seen = np.zeros(src.visible.shape[1], bool)
    for vis in src.visible:
        seen |= resize_nearest(np.asarray(vis), size).any(axis=(1, 2))
    return np.flatnonzero(seen)


def encode_window(src: SourceVideo, options: ImportOptions, meta: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The members of the clip of all of ``src`` (see ``assemble.build_clip``)."""
    size = clip_size(src, options)
    T = src.rgb.shape[0]
    keep = _seen(src, size)
    K = len(keep)
    amodal = np.empty((K, *size), bool)
    added = np.zeros((T, K), np.int64)
    known = np.zeros((T, K), bool)
    overlap = 0
    estimator = None if src.flow is not None else FlowEstimator(options.flow)
    masks = zip(src.visible, src.amodal if src.amodal is not None else (None,) * T, strict=True)
    encoder = None
    for t, (rgb, (vis, amo)) in enumerate(zip(src.rgb, masks, strict=True)):
        labels, n = compose_visible(resize_nearest(np.asarray(vis), size)[None], keep)
        labels, overlap = labels[0], overlap + n
        amo = None if amo is None else resize_nearest(np.asarray(amo), size)
        for j, k in enumerate(keep):
            own = labels == j + 1
            if amo is None:
                amodal[j] = own
                continue
            a = amo[k]
            added[t, j] = np.count_nonzero(own & ~a)
            np.logical_or(a, own, out=amodal[j])
            known[t, j] = src.known[t, k] and (a.any() or not own.any())
        rgb = resize_rgb(np.asarray(rgb)[None], size)[0]
        if encoder is None:
            encoder = ClipEncoder(T, K, *size, labels.dtype, rgb_delta=True)
        encoder.frame(rgb, labels, amodal)
        if estimator is not None:
            pair = estimator.push(rgb)
            if pair is not None:
                encoder.flow(*(round_flow(f, inplace=True) for f in pair))
        elif t:
            encoder.flow(*(round_flow(resize_flow(f[t - 1:t], size))[0] for f in src.flow))
    flow = source_flow_meta(src) if estimator is None else stored_meta(options.flow)
    meta = clip_meta(src, meta, keep, None if src.amodal is None else added, flow, overlap)
    return encoder.finish(meta, known)


@dataclass
class StreamedImport(ImportMaker):
    """``ImportMaker`` whose ``encode`` makes each clip's members frame by frame (``encode_window``):
    the bytes of ``codec.encode_clip(maker(index, split))``, in a fraction of its memory."""

    retain_freed_memory = False  # see writer._run: glibc keeps memory flat here by itself

    def encode(self, index: int, split: str) -> list[tuple[str, bytes]]:
        src, meta = self.source(index, split)
        return encode_window(src, self.options, meta)
