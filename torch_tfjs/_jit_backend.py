"""``backend="onednn"`` of :func:`torch_tfjs.optimize_for_inference`: a TorchScript trace per
input shape, frozen, with oneDNN Graph fusion (``torch.jit.enable_onednn_fusion``).

oneDNN Graph fuses conv / matmul chains with their element-wise tails into oneDNN partitions
compiled for the traced shapes; on small CPU models that beats inductor's code. A trace records
one path, so models with data-dependent control flow (TF2 While/If, TF1 loops) cannot be
traced faithfully: they are refused before tracing. Everything else is checked once against
eager on the warm-up input; any failure raises :class:`JitBackendError` and the caller falls
back to AOTInductor.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, List, Sequence

import torch
from torch import nn

from ._padding import shape_specialized_trace
from .errors import ExportError

#: Profiling runs before oneDNN Graph has fused (the profiling executor specialises on the
#: second call and fuses on the next ones), plus one to check.
WARMUP_RUNS = 3

#: Graph ops whose result a trace cannot record faithfully (control flow, data-dependent shapes).
UNTRACEABLE_OPS = frozenset({
    "While", "StatelessWhile", "If", "StatelessIf", "Enter", "Exit", "LoopCond", "Merge", "Switch",
    "NextIteration", "TensorListReserve", "TensorArrayV3", "Where", "NonMaxSuppressionV3",
    "NonMaxSuppressionV4", "NonMaxSuppressionV5", "Unique", "SparseToDense",
})

# enable_onednn_fusion is process-global: a call sets it and restores it holding this lock (so
# calls on oneDNN programs from several threads run one at a time).
_FUSION_LOCK = threading.RLock()


class JitBackendError(ExportError):
    """The model cannot run on the oneDNN Graph backend (the message says why)."""


class _fusion:
    """``torch.jit.enable_onednn_fusion(on)`` for a block, restored after it."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.saved = False

    def __enter__(self) -> None:
        _FUSION_LOCK.acquire()
        self.saved = torch.jit.onednn_fusion_enabled()  # type: ignore[no-untyped-call]
        torch.jit.enable_onednn_fusion(self.on)

    def __exit__(self, *exc: Any) -> None:
        torch.jit.enable_onednn_fusion(self.saved)
        _FUSION_LOCK.release()


def untraceable_ops(model: nn.Module) -> List[str]:
    """The ops of a GraphModel's main graph that a trace would record wrongly (none for other
    models: a LayersModel's Python branches raise TracerWarnings, which count as failures)."""
    op_counts = getattr(model, "op_counts", None)
    if not callable(op_counts):
        return []
    return sorted(op for op in op_counts(include_functions=True) if op in UNTRACEABLE_OPS)


def _flatten(out: Any) -> List[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        return [v for value in out.values() for v in _flatten(value)]
    if isinstance(out, (list, tuple)):
        return [v for value in out for v in _flatten(value)]
    raise JitBackendError(f"output of type {type(out).__name__} cannot be traced")


def _check_close(got: Any, want: Any) -> None:
    """Outputs within 1e-4 * max(1, max|eager|) of eager (exact for integer / bool outputs)."""
    got_list, want_list = _flatten(got), _flatten(want)
    if len(got_list) != len(want_list):
        raise JitBackendError(f"the trace returns {len(got_list)} outputs, eager {len(want_list)}")
    for i, (g, w) in enumerate(zip(got_list, want_list)):
        if g.shape != w.shape or g.dtype != w.dtype:
            raise JitBackendError(f"output {i}: trace gives {g.dtype} {list(g.shape)}, eager "
                                  f"{w.dtype} {list(w.shape)}")
        if not w.is_floating_point():
            if not torch.equal(g, w):
                raise JitBackendError(f"output {i} differs from eager")
            continue
        finite = torch.isfinite(w)
        if not torch.equal(finite, torch.isfinite(g)):
            raise JitBackendError(f"output {i}: NaN/inf positions differ from eager")
        if finite.any():
            w64, g64 = w[finite].double(), g[finite].double()
            err = float((g64 - w64).abs().max())
            scale = max(1.0, float(w64.abs().max()))
            if err > 1e-4 * scale:
                raise JitBackendError(f"output {i} differs from eager by {err:.3g} "
                                      f"(> 1e-4 * {scale:.3g})")


class _Positional(nn.Module):
    """The model called with one tensor per input in signature order (what a trace records)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *values: torch.Tensor) -> Any:
        return self.model(*values)


def compile_traced(model: nn.Module, inputs: Sequence[torch.Tensor]) -> Callable[..., Any]:
    """Trace ``model`` on ``inputs`` (tensors in signature order, SAME padding specialised to
    their sizes), freeze, and warm oneDNN Graph fusion up; returns a function of the same
    tensors. The eager model's outputs on ``inputs`` are the reference for one check. Raises
    :class:`JitBackendError` naming the step that failed.

    No ``torch.jit.optimize_for_inference``: it swaps convs for prepacked MKLDNN ops that
    oneDNN Graph does not fuse, and rewrites linear into matmul + add, on which torch 2.13's
    oneDNN Graph bridge fails (``vector::_M_range_check``). Measured on
    graph_keras3_residual (1 thread): frozen + fusion 0.8 ms, optimised + fusion 3 ms."""
    refused = untraceable_ops(model)
    if refused:
        raise JitBackendError(f"a trace cannot record its control flow / data-dependent ops "
                              f"({', '.join(refused)})")
    args = tuple(t.detach() for t in inputs)
    with torch.no_grad():
        expected = model(*args)
        try:
            with warnings.catch_warnings(), shape_specialized_trace():
                # a TracerWarning is a Python decision on a traced value, recorded as a constant
                warnings.simplefilter("error", torch.jit.TracerWarning)  # type: ignore[attr-defined]
                traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                    _Positional(model), args, check_trace=False, strict=False)
        except Exception as exc:
            raise JitBackendError(f"torch.jit.trace failed: {_first_line(exc)}") from exc
        try:
            frozen = torch.jit.freeze(traced.eval())
        except Exception as exc:
            raise JitBackendError(f"torch.jit.freeze failed: {_first_line(exc)}") from exc
        try:
            return _warm_up(frozen, args, expected)
        except JitBackendError:
            raise
        except Exception as exc:
            raise JitBackendError(f"oneDNN Graph fusion failed: {_first_line(exc)}") from exc


def _warm_up(program: Any, args: Sequence[torch.Tensor], expected: Any) -> Callable[..., Any]:
    """Run the profiling calls with fusion on, check the last against eager."""
    with _fusion(True):
        for _ in range(WARMUP_RUNS):
            out = program(*args)
    _check_close(out, expected)

    def run(*values: torch.Tensor) -> Any:
        with _fusion(True):
            return program(*values)
    return run


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
