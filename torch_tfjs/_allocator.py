"""Keep freed C-heap memory in the process between model calls (glibc only).

torch's CPU allocator is plain ``malloc``. With glibc's defaults, a model that allocates and frees
the same activations on every call gets fresh pages on every call: glibc gives the top of the heap
back to the OS once more than ``M_TRIM_THRESHOLD`` of it is free, and serves big blocks with
``mmap`` / ``munmap``. Each fresh page is a page fault (and a zeroed page). Measured by
scripts/bench_allocator.py (eager, one thread, 2026-12-04): BlazeFace 41.7 → 14.9 ms per call
(8,193 minor faults per call → 20), FaceRes batch 8 215 → 168 ms, nsfwjs batch 8 386 → 151 ms
(82,724 → 26); peak RSS unchanged. ONNX
Runtime avoids the same cost with its own memory arena.

:func:`tune_allocator` has every block served from the heap (``M_MMAP_MAX`` 0: glibc cannot
raise its mmap threshold above 32 MiB, and a 38 MiB activation, nsfwjs's at batch 8, mapped and
unmapped on every call cost its 1×1 conv 35 ms instead of 8) and keeps up to
:data:`TRIM_THRESHOLD` of free memory at the heap's top, so freed blocks stay for the next call.
The cost: RSS the process may keep after its peak, at most that much at the top, plus freed blocks
below the top (they are reused by later allocations). torch_tfjs calls it once per process, on
the first call of a model or compiled package (not at load: a load's freed buffers would stay in
the heap and raise its peak); ``TORCH_TFJS_MALLOC_TUNING=0`` in the environment turns that off.
It does nothing on other C libraries (musl, macOS, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import Optional

import torch

__all__ = ["TRIM_THRESHOLD", "ENV", "tune_allocator", "tune_allocator_once",
           "before_first_call"]

#: Free memory kept at the top of the heap (glibc's default: 128 KiB, raised dynamically up to
#: 64 MiB). The activations one call frees at once can exceed 128 MiB (nsfwjs batch 8: 15,000
#: faults per call with 128 MiB kept, none with this).
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
    """Serve every block from the heap and keep freed memory for reuse (``enabled``), or go back
    to glibc's static defaults. Returns whether glibc took the settings (False on other C
    libraries)."""
    libc = _glibc()
    if libc is None:
        return False
    settings = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) if enabled else \
        ((_M_MMAP_MAX, _DEFAULT_MMAP_MAX), (_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD),
         (_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD))
    return all([libc.mallopt(option, value) == 1 for option, value in settings])


def tune_allocator_once() -> None:
    """:func:`tune_allocator` the first time it is called in a process, unless
    ``$TORCH_TFJS_MALLOC_TUNING`` turns it off."""
    global _tried
    if _tried:
        return
    with _lock:
        if _tried:
            return
        _tried = True
        if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
            return
        tune_allocator(True)


def before_first_call() -> None:
    """What a model's ``forward`` calls: :func:`tune_allocator_once`, skipped (at no cost) once
    done and while torch.compile / torch.export trace the call."""
    if not _tried and not torch.compiler.is_compiling():
        tune_allocator_once()
