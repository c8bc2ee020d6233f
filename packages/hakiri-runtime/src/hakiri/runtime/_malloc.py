"""Keep glibc from returning every large buffer to the kernel.

A page of a REST response is a ~1 MB ``bytes`` object. glibc serves allocations above its
mmap threshold (128 KiB by default) with a fresh ``mmap`` and unmaps them on free, so every
page pays page faults on fresh memory: on small VMs that measured ~30% of ingest time.
Raising the thresholds lets the allocator reuse the same memory page after page; peak RSS
stays bounded by the largest pages in flight (it was unchanged in the ingest benchmark).

Done by the ``hakiri`` command for its own process, never on import of the library: a
notebook's process is its owner's to tune.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["tune_malloc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 128 << 20) -> bool:
    """Raise glibc's mmap and trim thresholds; False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, mmap_threshold) and mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )
