"""torch_tfjs._allocator: a model's first call keeps freed heap memory in the process from then on
(glibc), and during calls blocks of any size come from the heap, so a call that allocates and
frees the same activations as the last one does not page-fault again; loading alone leaves malloc
as it is (a load's freed buffers would stay)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from torch_tfjs import _allocator

FIXTURE = Path(__file__).parent / "fixtures" / "models" / "graph_mobilenet_like"
glibc_only = pytest.mark.skipif(_allocator._glibc() is None, reason="glibc's mallopt only")

# Load a model and (argv[1] == "call") call it once (the hook under test); then allocate and free
# a 24 MiB block outside any call, and a 48 MiB block (above the 32 MiB that glibc's mmap
# threshold can reach) outside and inside a call's scope (enter_call .. leave_call); print where
# glibc served each from and what it kept (mallinfo2, glibc >= 2.33).
_SCRIPT = f"""
import ctypes, json, sys, torch, torch_tfjs
from torch_tfjs import _allocator
model = torch_tfjs.load({str(FIXTURE)!r})
if sys.argv[1] == "call":
    model(torch.zeros([d or 1 for d in model.signature.inputs[0].shape]))
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
def served(mib):
    x = torch.empty(mib * 1024 * 1024 // 4)
    during = libc.mallinfo2()
    del x
    return {{"mmapped": during.hblkhd, "heap_free_after": libc.mallinfo2().fordblks}}
out = {{"small": served(24), "big": served(48)}}
if sys.argv[1] == "call":
    entered = _allocator.enter_call()
    out["big_in_call"] = served(48)
    _allocator.leave_call(entered)
    out["big_after_call"] = served(48)
print(json.dumps(out))
"""
MIB = 1024 * 1024


def _heap(env_value: str, step: str = "call") -> dict:
    env = dict(os.environ, **{_allocator.ENV: env_value})
    done = subprocess.run([sys.executable, "-c", _SCRIPT, step], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc_only
@pytest.mark.skipif(not hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2") if _allocator._glibc() else True,
                    reason="mallinfo2: glibc >= 2.33")
def test_calling_a_model_keeps_freed_activations_in_the_heap():
    tuned, untuned, loaded_only = _heap("1"), _heap("0"), _heap("1", "load")
    # glibc's defaults: blocks this big are mmapped and unmapped on free (fresh pages next call)
    assert untuned["small"]["mmapped"] >= 24 * MIB, untuned
    assert untuned["big_in_call"]["mmapped"] >= 48 * MIB, untuned
    # tuned: up to 32 MiB served from the heap, and still there after the free
    assert tuned["small"]["mmapped"] < 24 * MIB, tuned
    assert tuned["small"]["heap_free_after"] >= 24 * MIB, tuned
    # bigger blocks come from the heap only inside a call; outside (loads, user code), mmap as
    # glibc does by default, so a dropped model's weights go back to the OS
    assert tuned["big_in_call"]["mmapped"] < 48 * MIB, tuned
    assert tuned["big_in_call"]["heap_free_after"] >= 48 * MIB, tuned
    assert tuned["big"]["mmapped"] >= 48 * MIB, tuned
    # (after the call, a free heap block of that size left by the call is reused first)
    assert tuned["big_after_call"]["mmapped"] < 48 * MIB, tuned
    assert loaded_only["small"]["mmapped"] >= 24 * MIB, loaded_only  # not tuned by a load


@glibc_only
def test_nested_calls_keep_heap_only_until_the_outer_one_ends():
    outer = _allocator.enter_call()
    inner = _allocator.enter_call()
    assert outer and inner and _allocator._calls == 2
    _allocator.leave_call(inner)
    assert _allocator._calls == 1
    _allocator.leave_call(outer)
    assert _allocator._calls == 0


@glibc_only
def test_tune_allocator_takes_and_restores():
    try:
        assert _allocator.tune_allocator(False)
    finally:  # this process builds models: tuned is its state
        assert _allocator.tune_allocator(True)


def test_env_switch_is_read(monkeypatch):
    calls = []
    monkeypatch.setattr(_allocator, "_tried", False)
    monkeypatch.setattr(_allocator, "_libc", _allocator._libc)
    monkeypatch.setattr(_allocator, "tune_allocator", lambda enabled=True: calls.append(enabled) or True)
    monkeypatch.setenv(_allocator.ENV, "off")
    _allocator.tune_allocator_once()
    _allocator.tune_allocator_once()
    assert calls == []
    monkeypatch.setattr(_allocator, "_tried", False)
    monkeypatch.setenv(_allocator.ENV, "1")
    _allocator.tune_allocator_once()
    _allocator.tune_allocator_once()  # once per process
    assert calls == [True]
