"""Keep freed memory in the process instead of handing it back to the OS (glibc only).

Making a clip allocates and frees a few MB of numpy temporaries. glibc's malloc serves each block of
128 kB or more by a fresh ``mmap`` and unmaps it on free, so every clip touches ~2 MB of new pages:
~480 page faults per clip, which cost about 10 % of the generation time on our 2-core VM. Raising the
mmap and trim thresholds lets freed blocks be reused: the heap settles at the working set of one batch
(about 100 MB) and stays flat. Generation workers call this; elsewhere (other C libraries,
macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
_MMAP_MAX_THRESHOLD = 32 << 20  # the largest glibc accepts on 64-bit machines
_TRIM_THRESHOLD = 64 << 20


def retain_freed_memory() -> bool:
    """Tune glibc malloc for many short-lived large arrays; True if it was applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_MAX_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD,
                                                                                  _TRIM_THRESHOLD))
