"""Counting set pixels fast: ``np.count_nonzero(mask, axis=-1)`` casts every bool to an int64 in a
buffered reduction, 10-50x slower than packing the bits and counting the set bits of each word."""

from __future__ import annotations

import numpy as np

_POPCOUNT = getattr(np, "bitwise_count", None)  # numpy >= 2.0


def count_true(mask: np.ndarray) -> np.ndarray:
    """int64 (...): the number of True values along the last axis of a bool (..., L) array."""
    if _POPCOUNT is None:
        return np.count_nonzero(mask, axis=-1).astype(np.int64)
    packed = np.packbits(mask, axis=-1)  # (..., ceil(L / 8)), zero-padded
    if packed.shape[-1] % 8 == 0 and packed.flags.c_contiguous:
        packed = packed.view(np.uint64)  # 64 pixels per popcount
    return _POPCOUNT(packed).sum(axis=-1, dtype=np.int64)
