"""Keep freed C-heap memory in the process between model calls (glibc only).

torch's CPU allocator is plain ``malloc``. With glibc's defaults, a model that allocates and frees
the same activations on every call gets fresh pages on every call: glibc gives the top of the heap
back to the OS once more than ``M_TRIM_THRESHOLD`` of it is free, and serves big blocks with
``mmap`` / ``munmap``. Each fresh page is a page fault (and a zeroed page). Measured by
scripts/bench_allocator.py (eager, one thread, 2026-12-04): BlazeFace 35.8 → 13.2 ms per call
(8,966 minor faults per call → 1), FaceRes batch 8 227 → 175 ms, nsfwjs batch 8 269 → 147 ms
(49,364 → 0); peak RSS unchanged. ONNX Runtime avoids the same cost with its own memory arena.

The first call of a model or compiled package (:func:`enter_call`; not a load, whose freed buffers
would stay in the heap and raise its peak) runs :func:`tune_allocator` once per process: blocks
up to 32 MiB (glibc's ceiling for its mmap threshold) come from the heap and up to
:data:`TRIM_THRESHOLD` of free memory is kept at its top. While a call runs (:func:`enter_call`
.. :func:`leave_call`), bigger blocks come from the heap too (``M_MMAP_MAX`` 0): a 38 MiB
activation, nsfwjs's at batch 8, mapped and unmapped on every call cost its 1×1 conv 35 ms
instead of 8. Only during calls: outside them (loading, the caller's own code) big blocks are
mapped as glibc does by default, so the weights of a model the process drops go back to the OS.
The cost: RSS the process may keep after its peak, at most :data:`TRIM_THRESHOLD` at the top
plus freed blocks below it, reused by later allocations but not given back (a call that once
needs gigabytes keeps them: a real-world suite run grew past 12 GB this way while non-max
suppression still built a full IoU matrix, since fixed). ``TORCH_TFJS_MALLOC_TUNING=0`` in the
environment turns all of it off. Nothing changes on other C libraries (musl, macOS, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading
from typing import Optional

import torch

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "ENV", "tune_allocator", "tune_allocator_once",
           "enter_call", "leave_call"]

#: Blocks up to this size come from the heap at all times: glibc's own ceiling for its mmap
#: threshold (64-bit). Bigger ones do only during a model call (:func:`enter_call`).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory kept at the top of the heap (glibc's default: 128 KiB, raised dynamically up to
#: 64 MiB). The activations one call frees at once can exceed 128 MiB (nsfwjs batch 8, by hand:
#: 15,000 faults per call with 128 MiB kept, none with this).
TRIM_THRESHOLD = 1024 * 1024 * 1024
#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` stop torch_tfjs from tuning malloc.
ENV = "TORCH_TFJS_MALLOC_TUNING"

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
# glibc's static defaults (what mallopt restores; its dynamic adjustment cannot be switched back on)
_DEFAULT_THRESHOLD = 128 * 1024
_DEFAULT_MMAP_MAX = 65536

_lock = threading.Lock()
_tried = False
_libc: Optional[ctypes.CDLL] = None  # glibc, once the tuning took
_calls = 0  # model calls running (enter_call .. leave_call)


@functools.lru_cache(maxsize=None)
def _glibc() -> Optional[ctypes.CDLL]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # absent from musl and other C libraries
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(enabled: bool = True) -> bool:
    """Keep freed heap memory for reuse (``enabled``: blocks up to 32 MiB from the heap, up to
    :data:`TRIM_THRESHOLD` of free memory kept at its top), or go back to glibc's static
    defaults. Returns whether glibc took the settings (False on other C libraries)."""
    libc = _glibc()
    if libc is None:
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) if enabled \
        else ((_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD), (_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD))
    return all([libc.mallopt(option, value) == 1 for option, value in settings])


def tune_allocator_once() -> None:
    """:func:`tune_allocator` the first time it is called in a process, unless
    ``$TORCH_TFJS_MALLOC_TUNING`` turns it off."""
    global _tried, _libc
    if _tried:
        return
    with _lock:
        if _tried:
            return
        if os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off") \
                and tune_allocator(True):
            _libc = _glibc()  # (found by tune_allocator: a cached lookup)
        _tried = True


def enter_call() -> bool:
    """What a model's ``forward`` calls first: :func:`tune_allocator_once` (once), then, unless
    torch.compile / torch.export trace the call, blocks of any size come from the heap until the
    matching :func:`leave_call` (calls may nest and run in several threads). Returns whether the
    caller must call :func:`leave_call`."""
    global _calls
    if torch.compiler.is_compiling():
        return False
    if not _tried:
        tune_allocator_once()
    if _libc is None:
        return False
    with _lock:
        if _calls == 0:
            _libc.mallopt(_M_MMAP_MAX, 0)
        _calls += 1
    return True


def leave_call(entered: bool) -> None:
    """The end of a call that :func:`enter_call` began (``entered``: what it returned); the last
    call to end lets big blocks come from ``mmap`` again."""
    global _calls
    if not entered or _libc is None:  # (entered implies _libc; the check narrows its type)
        return
    with _lock:
        _calls -= 1
        if _calls == 0:
            _libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
