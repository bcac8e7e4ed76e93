"""Elementary functions that give the same bits on every CPU.

numpy chooses its kernels for exp, log, arcsin, arctan2 and power by the CPU it runs on, and its AVX-512
kernels differ from the others in the last bit. A generator that called them would write different bytes
on a laptop and on a server from the same seed. These functions evaluate the C library's function on
each element, which is what numpy's other kernels give, so the bytes of a dataset depend on its seed and
config only. sin, cos, sqrt, hypot and the arithmetic operators are the same on every CPU already.

The arrays they see are small (vertices, frames), so the per-element call costs nothing measurable.
"""

from __future__ import annotations

import math

import numpy as np

_exp = np.frompyfunc(math.exp, 1, 1)
_asin = np.frompyfunc(math.asin, 1, 1)
_atan2 = np.frompyfunc(math.atan2, 2, 1)
_pow = np.frompyfunc(math.pow, 2, 1)


def _float(a) -> np.ndarray | float:
    return a.astype(np.float64) if isinstance(a, np.ndarray) else float(a)


def exp(x) -> np.ndarray | float:
    """e ** x, elementwise."""
    return _float(_exp(np.asarray(x, dtype=np.float64)))


def arcsin(x) -> np.ndarray | float:
    """asin(x), elementwise; x in [-1, 1]."""
    return _float(_asin(np.asarray(x, dtype=np.float64)))


def arctan2(y, x) -> np.ndarray | float:
    """atan2(y, x), elementwise, broadcast."""
    return _float(_atan2(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)))


def power(x, p) -> np.ndarray | float:
    """x ** p, elementwise, broadcast; x >= 0 where p is not an integer."""
    return _float(_pow(np.asarray(x, dtype=np.float64), np.asarray(p, dtype=np.float64)))
