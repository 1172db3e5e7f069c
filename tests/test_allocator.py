"""torch_tfjs._allocator: a model's first call keeps freed heap memory in the process from then on
(glibc), so a call that allocates and frees the same activations as the last one does not
page-fault again; loading alone leaves malloc as it is (a load's freed buffers would stay)."""

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

# Load a model and (argv[1] == "call") call it once (the hook under test), then allocate and free
# a 48 MiB tensor (a big activation, above the 32 MiB that glibc's mmap threshold can reach); print
# where glibc served it from and what it kept (mallinfo2, glibc >= 2.33).
_SCRIPT = f"""
import ctypes, json, sys, torch, torch_tfjs
model = torch_tfjs.load({str(FIXTURE)!r})
if sys.argv[1] == "call":
    model(torch.zeros([d or 1 for d in model.signature.inputs[0].shape]))
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
x = torch.empty(12 * 1024 * 1024)
during = libc.mallinfo2()
del x
after = libc.mallinfo2()
print(json.dumps({{"mmapped_during": during.hblkhd, "heap_free_after": after.fordblks}}))
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
    # glibc's defaults: the block is mmapped and unmapped on free (fresh pages on the next call)
    assert untuned["mmapped_during"] >= 48 * MIB, untuned
    # tuned: served from the heap, and still there for the next call after the free
    assert tuned["mmapped_during"] < 48 * MIB, tuned
    assert tuned["heap_free_after"] >= 48 * MIB, tuned
    assert loaded_only["mmapped_during"] >= 48 * MIB, loaded_only  # not tuned by a load


@glibc_only
def test_tune_allocator_takes_and_restores():
    try:
        assert _allocator.tune_allocator(False)
    finally:  # this process builds models: tuned is its state
        assert _allocator.tune_allocator(True)


def test_env_switch_is_read(monkeypatch):
    calls = []
    monkeypatch.setattr(_allocator, "_tried", False)
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
