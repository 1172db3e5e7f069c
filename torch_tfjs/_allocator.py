"""Keep freed C-heap memory in the process between model calls (glibc only).

torch's CPU allocator is plain ``malloc``. With glibc's defaults, a model that allocates and frees
the same activations on every call gets fresh pages on every call: glibc gives the top of the heap
back to the OS once more than ``M_TRIM_THRESHOLD`` of it is free, and serves big blocks with
``mmap`` / ``munmap``. Each fresh page is a page fault (and a zeroed page). Measured by
scripts/bench_allocator.py (eager, one thread): BlazeFace 62 → 26 ms per call (8,963 minor faults
per call → 0), FaceRes batch 8 263 → 189 ms, MoveNet 45 → 33 ms; peak RSS unchanged. ONNX
Runtime avoids the same cost with its own memory arena.

:func:`tune_allocator` raises the two thresholds so freed blocks stay in the heap for the next
call. Blocks above :data:`MMAP_THRESHOLD` still come from ``mmap`` and go back at once, and at
most :data:`TRIM_THRESHOLD` of free memory is kept at the heap's top: the cost is that much RSS
the process may keep after its peak. torch_tfjs calls it once per process, on the first call of a
model or compiled package (not at load: a load's freed buffers would stay in the heap and raise
its peak); ``TORCH_TFJS_MALLOC_TUNING=0`` in the environment turns that off. It does nothing on
other C libraries (musl, macOS, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import Optional

import torch

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "ENV", "tune_allocator", "tune_allocator_once",
           "before_first_call"]

#: glibc's own ceiling for its dynamic mmap threshold (64-bit): bigger blocks keep using mmap.
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory kept at the top of the heap (glibc's default: 128 KiB, raised dynamically).
TRIM_THRESHOLD = 128 * 1024 * 1024
#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` stop torch_tfjs from tuning malloc.
ENV = "TORCH_TFJS_MALLOC_TUNING"

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
# glibc's static defaults (what mallopt restores; its dynamic adjustment cannot be switched back on)
_DEFAULT_THRESHOLD = 128 * 1024

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
    """Keep freed heap memory for reuse (``enabled``), or go back to glibc's static thresholds.
    Returns whether glibc took the setting (False on other C libraries)."""
    libc = _glibc()
    if libc is None:
        return False
    mmap, trim = (MMAP_THRESHOLD, TRIM_THRESHOLD) if enabled else (_DEFAULT_THRESHOLD, _DEFAULT_THRESHOLD)
    ok_mmap: bool = libc.mallopt(_M_MMAP_THRESHOLD, mmap) == 1
    ok_trim: bool = libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1
    return ok_mmap and ok_trim


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
