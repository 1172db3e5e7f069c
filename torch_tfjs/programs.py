"""Programs for deployment without torch_tfjs: TorchScript traces, ``torch.export`` programs
with the signature's free dimensions dynamic, and ONNX files made from those programs.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .errors import ExportError, ModelInputError
from .signature import Signature

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------------------------
# TorchScript / torch.export
# --------------------------------------------------------------------------------------------

def example_inputs(model: nn.Module, batch: int = 1, free: int = 1) -> Tuple[torch.Tensor, ...]:
    """Zero inputs matching ``model.signature``: batch ``batch`` (1), other free dimensions
    ``free`` (1); int32 tensors for integer inputs, bool for bool, float32 otherwise."""
    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature):
        raise ExportError(f"cannot build example inputs for {type(model).__name__}")
    try:
        return signature.example_inputs(batch=batch, free=free)
    except ModelInputError as exc:
        raise ExportError(str(exc)) from None


def save_torchscript(model: nn.Module, path: PathLike,
                     inputs: Optional[Sequence[torch.Tensor]] = None) -> None:
    """``torch.jit.trace`` the model (eval mode) on ``inputs`` (default :func:`example_inputs`)
    and save it. Tracing records one path: shapes that change control flow are fixed."""
    model.eval()
    args = tuple(inputs) if inputs is not None else example_inputs(model)
    with torch.no_grad():
        # strict=False: structured-output graph models return a dict with fixed keys
        traced = torch.jit.trace(model, args, check_trace=False, strict=False)
    traced.save(os.fspath(path))


#: Example sizes for ``torch.export``: torch specialises sizes 0 and 1, so a free batch axis is
#: traced at 2 and other free axes at 32 (a 1×1 image would pin the program to 1×1).
EXPORT_BATCH = 2
EXPORT_FREE = 32

#: ``{input name: dynamic axes}``, or per input (in order) its dynamic axes.
DynamicAxes = Union[Mapping[str, Sequence[int]], Sequence[Sequence[int]]]


def _signature(model: nn.Module) -> Signature:
    signature = getattr(model, "signature", None)
    if not isinstance(signature, Signature):
        raise ExportError(f"cannot export {type(model).__name__}: it has no model.signature")
    return signature


def _free_axes(signature: Signature) -> List[List[int]]:
    return [sorted(axes) for axes in signature.free_dims()]


def _dynamic_axes(signature: Signature, args: Sequence[torch.Tensor],
                  dynamic_shapes: Optional[DynamicAxes]) -> List[List[int]]:
    """Per input, the axes to export dynamic (``None``: every free axis of the signature)."""
    if dynamic_shapes is None:
        return _free_axes(signature)
    names = signature.input_names
    if isinstance(dynamic_shapes, Mapping):
        unknown = [k for k in dynamic_shapes if k not in names]
        if unknown:
            raise ExportError(f"dynamic_shapes names unknown input(s) {unknown}; inputs: {names}")
        per_input = [list(dynamic_shapes.get(n, ())) for n in names]
    else:
        per_input = [list(axes or ()) for axes in dynamic_shapes]
        if len(per_input) != len(names):
            raise ExportError(f"dynamic_shapes gives {len(per_input)} entries, the model takes "
                              f"{len(names)} input(s) {names}")
    out = []
    for name, axes, arg in zip(names, per_input, args):
        bad = [a for a in axes if not isinstance(a, int) or not 0 <= a < arg.dim()]
        if bad:
            raise ExportError(f"dynamic axes {bad} of input '{name}' are not axes of its "
                              f"{arg.dim()}-D example (shape {list(arg.shape)})")
        out.append(sorted(set(axes)))
    return out


def _widen(arg: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """``arg`` with each dynamic axis of size 0 or 1 made 2 (torch would specialise it)."""
    for axis in axes:
        if arg.shape[axis] < 2:
            arg = (torch.zeros_like(arg.narrow(axis, 0, 0)).expand(
                *[2 if i == axis else s for i, s in enumerate(arg.shape)]).clone()
                if arg.shape[axis] == 0 else torch.cat([arg, arg], dim=axis))
    return arg


def _pinned(program: Any, wanted: Sequence[Sequence[int]], names: Sequence[str]) -> List[str]:
    """``name[axis]=size`` for each axis asked dynamic that the program holds static."""
    from torch.fx.experimental.symbolic_shapes import is_concrete_int

    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"
                    and n.name in set(program.graph_signature.user_inputs)]
    out = []
    for name, axes, node in zip(names, wanted, placeholders):
        shape = getattr(node.meta.get("val"), "shape", None)
        for axis in axes:
            # a symbol torch specialised while tracing (int() on a size) stays a SymInt here
            if shape is not None and is_concrete_int(shape[axis]):
                out.append(f"{name}[{axis}]={int(shape[axis])}")
    return out


def export_program(model: nn.Module, inputs: Optional[Sequence[torch.Tensor]] = None,
                   dynamic_shapes: Optional[DynamicAxes] = None) -> Any:
    """``torch.export.export`` the model (eval mode) with dynamic axes; returns the program.

    ``inputs``: example tensors (default zeros: batch 2, other free axes 32). ``dynamic_shapes``:
    ``{input name: [axes]}`` or per input its axes (default: every axis the signature leaves
    free; unnamed inputs static). Dynamic axes are ``Dim.AUTO``, so torch infers the
    constraints the graph needs. When that export fails it retries with only the batch axis
    dynamic, then static, and warns which axes were pinned (also when torch pinned one)."""
    from torch.export import Dim

    model.eval()
    signature = _signature(model)
    names = signature.input_names
    args = tuple(inputs) if inputs is not None else example_inputs(model, EXPORT_BATCH, EXPORT_FREE)
    if len(args) != len(names):
        raise ExportError(f"{len(args)} example input(s) given, the model takes {len(names)} {names}")
    wanted = _dynamic_axes(signature, args, dynamic_shapes)
    args = tuple(_widen(a, axes) for a, axes in zip(args, wanted))
    attempts = [wanted]
    batch_only = [[a for a in axes if a == 0] for axes in wanted]
    if batch_only != wanted:
        attempts.append(batch_only)
    if any(batch_only):
        attempts.append([[] for _ in wanted])
    failures: List[str] = []
    for axes in attempts:
        spec = tuple({a: Dim.AUTO for a in ax} or None for ax in axes)
        try:
            program = torch.export.export(model, args, dynamic_shapes=(spec,))  # forward(*args)
        except Exception as exc:  # torch raises many kinds; reported below if all attempts fail
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            failures.append(f"dynamic axes {dict(zip(names, axes))}: {type(exc).__name__}: {first[:300]}")
            continue
        pinned = _pinned(program, wanted, names)
        if pinned:
            warnings.warn("torch.export: exported with static size(s) " + ", ".join(pinned)
                          + " (these axes could not stay dynamic; the program accepts only that size)",
                          stacklevel=2)
        return program
    raise ExportError(f"torch.export.export of {type(model).__name__} failed: " + "; ".join(failures))


def save_exported(model: nn.Module, path: PathLike, inputs: Optional[Sequence[torch.Tensor]] = None,
                  dynamic_shapes: Optional[DynamicAxes] = None) -> Any:
    """:func:`export_program` and ``torch.export.save`` it to ``path``; returns the program."""
    program = export_program(model, inputs, dynamic_shapes)
    with warnings.catch_warnings():
        if all(t.device.type == "cpu" for t in program.state_dict.values()):
            # weights sharing storage (Keras views): harmless for CPU tensors, torch says so itself
            warnings.filterwarnings("ignore", message="No complete tensor found in the group")
        torch.export.save(program, os.fspath(path))
    return program


# --------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------

#: Messages torch prints while converting to ONNX for its own reasons (not about the model).
_ONNX_NOISE = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)
#: torch loggers that report optional back-ends (torchvision ops) missing during ONNX export.
_ONNX_QUIET_LOGGERS = ("torch.onnx._internal.exporter._registration",)


def _require_onnx() -> None:
    missing = []
    for module in ("onnx", "onnxscript"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ExportError(f"ONNX export needs {' and '.join(missing)} (the onnx extra): "
                          "pip install torch_tfjs[onnx]")


def _output_names(model: nn.Module, program: Any) -> Optional[List[str]]:
    """The signature's output names when they match the program's outputs one to one."""
    names = list(getattr(_signature(model), "output_names", []) or [])
    outputs = list(program.graph_signature.user_outputs)
    return names if names and len(names) == len(outputs) and len(set(names)) == len(names) else None


def _onnx_failure(exc: Exception) -> str:
    """``Type: first line`` of torch's error, plus the cause it lists in its report (e.g.
    ``DispatchError: No ONNX function found for aten.sort.stable``): the first line alone only
    says that conversion failed."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch colours its report
    first = text.splitlines()[0] if text else ""
    causes = re.findall(r"^<class '[\w.]+\.(\w+)'>: (.*)$", text, flags=re.M)
    cause = f" ({causes[0][0]}: {causes[0][1][:300]})" if causes else ""
    return f"{type(exc).__name__}: {first[:300]}{cause}"


def export_onnx(model: nn.Module, path: PathLike, inputs: Optional[Sequence[torch.Tensor]] = None,
                dynamic_shapes: Optional[DynamicAxes] = None, opset: Optional[int] = None) -> Any:
    """Save the model as ONNX at ``path`` through ``torch.onnx.export(..., dynamo=True)``.

    The model is first exported with :func:`export_program` (same ``inputs`` / ``dynamic_shapes``
    and fallbacks: free axes dynamic, batch-only or static where torch cannot keep them), then
    converted at ``opset`` (default: torch's). ONNX inputs / outputs take the signature's names.
    Weights go in the .onnx file, or in ``<path>.data`` beside it when over protobuf's 2 GB
    limit. Needs the ``onnx`` extra (``pip install torch_tfjs[onnx]``); raises
    :class:`~torch_tfjs.errors.ExportError` naming what failed. Returns the ``ONNXProgram``."""
    import logging

    _require_onnx()
    program = export_program(model, inputs, dynamic_shapes)
    names = _signature(model).input_names
    loggers = [logging.getLogger(n) for n in _ONNX_QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            for message in _ONNX_NOISE:
                warnings.filterwarnings("ignore", message=message)
            try:
                onnx_program = torch.onnx.export(
                    program, (), None, dynamo=True, opset_version=opset, verbose=False,
                    input_names=list(names), output_names=_output_names(model, program))
            except Exception as exc:  # torch's converter raises many kinds
                raise ExportError(f"torch.onnx.export of {type(model).__name__} failed: "
                                  f"{_onnx_failure(exc)}") from exc
            if onnx_program is None:
                raise ExportError("torch.onnx.export returned no ONNX program")
            try:
                onnx_program.save(os.fspath(path))
            except Exception as exc:
                raise ExportError(f"writing the ONNX model to {os.fspath(path)} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    return onnx_program
