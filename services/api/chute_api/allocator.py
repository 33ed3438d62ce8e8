"""Give freed upload buffers back to the kernel at once.

glibc serves a large allocation with its own mmap and unmaps it on free, but only below
a threshold that it raises to the size of every such block freed (up to 32 MiB). After
the first part, every 8 MiB part buffer comes from the heap instead, freed memory stays
in the process, and RSS after a burst of uploads stays near its peak (seen here: about
1 GiB after 60 concurrent uploads). Fixing the threshold keeps large buffers on mmap."""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["MMAP_THRESHOLD", "keep_large_buffers_on_mmap"]

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1024 * 1024


def keep_large_buffers_on_mmap() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
