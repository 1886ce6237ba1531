"""Giving freed heap back to the system (glibc's ``malloc_trim``).

glibc keeps what a process freed for its next allocations: after a large body
(a feed of a few MB, its parsed form, a worker's answer) the memory stays the
process's. ``release`` hands the whole free pages back, wherever they lie in the
heap: the daemon calls it at each tick (at 50,000 feeds, after 70 s, its heap
went from 103 to 82 MB at one call, which took ~5 ms); each worker process
after each task (worker.py). Elsewhere than glibc (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _libc_mallopt() -> Callable[[int, int], int] | None:
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


_M_ARENA_MAX = -8  # glibc's malloc.h
DAEMON_ARENAS = 2


def limit_arenas(arenas: int = DAEMON_ARENAS) -> None:
    """Let the threads started from now on share ``arenas`` malloc arenas.

    glibc gives threads up to 8 arenas per core, and each one keeps what was
    freed in it: the daemon's threads (the event loop, the database's, the
    resolver's, the page reader's) would each hold their own. Two arenas cost the
    daemon 4-5 MB less at 50,000 feeds (bench/perf.py's scenario, MALLOC_ARENA_MAX=2,
    2 runs each); the GIL leaves little for the threads to contend on."""
    mallopt = _libc_mallopt()
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)


def _libc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to call
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _libc_trim()


def release() -> None:
    """Give the free pages of every malloc arena back to the system."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
