"""Small convolutions lowered to plain tensor ops for compiled CPU inference.

On the CPU each convolution that inductor leaves to oneDNN is one external call with a fixed
cost (argument checks, the primitive cache, layout bookkeeping) of tens of microseconds, several
times what oneDNN's kernel itself takes on a small tensor. A depthwise convolution is only a
few multiply-adds per output and a 1×1 convolution is a matrix product on the channels-last
view, so written as plain torch ops inductor fuses them with their neighbours (bias, ReLU6,
residual add, the next conv's padding) into one generated loop. That wins on small tensors and
loses on large ones (oneDNN's kernels are better), so :func:`should_lower` decides per call
from a cost model calibrated by ``scripts/calibrate_lowering.py``.

The mechanism is a decomposition of ``aten.convolution.default``
(:func:`conv_decompositions`): the same table serves ``ExportedProgram.run_decompositions``
(AOTInductor) and ``compile_fx(..., decompositions=...)`` (``torch.compile``), and eager
execution is untouched. A convolution the cost model keeps returns ``NotImplemented``, which
makes the tracer record the convolution unchanged.

This module is neutral: it imports nothing from the layers or graph importers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch

from .errors import ExportError

aten = torch.ops.aten

# --------------------------------------------------------------------------------------------
# Cost model
# --------------------------------------------------------------------------------------------
# Calibrated by scripts/calibrate_lowering.py (conv + bias + ReLU6 block, channels-last input,
# inductor with freezing and the C++ wrapper, lowered vs oneDNN, 7 interleaved rounds of 100
# calls, medians) on the 2-core AMD EPYC CI machine, torch 2.13.0+cpu, 2026-12-03, under heavy
# load from other jobs (load average 5-9). Work is counted in multiply-adds of the whole call,
# batch included: the fixed cost of a oneDNN call is what lowering saves, and the generated
# loop's cost grows with the work. With 1 thread the grid separates cleanly: depthwise (3×3
# stride 1 and 2, and 5×5) lowered is faster up to 1.81 M multiply-adds (ratios 0.43-0.79) and
# slower from 1.99 M (1.03-1.62); 1×1 faster up to 3.54 M (0.47-0.91), slower from 15.9 M
# (1.38, 1.81). With 2 threads (depthwise 3×3 only; noisier) the best depthwise threshold is
# 0.75-1.0 M. Table in docs/performance.md ("Small convolutions lowered").

#: Largest depthwise kernel side lowered (5×5 followed the same multiply-add budget as 3×3 on
#: the grid; larger kernels were not measured).
DEPTHWISE_MAX_KERNEL = 5
#: Depthwise calls up to this many multiply-adds (N·Ho·Wo·Cout·kh·kw) are lowered: the fit over
#: 1 and 2 threads together (995 k; 1 thread alone: 1.81 M).
DEPTHWISE_MAX_MACS = 1_000_000
#: 1×1 calls up to this many multiply-adds (N·Ho·Wo·Cout·Cin) are lowered to a matrix product
#: (the 1-thread fit: 3.54 M, the largest size measured faster).
POINTWISE_MAX_MACS = 3_600_000
#: Dtypes the cost model lowers: float32 only, the one calibrated. float16 / bfloat16 lower
#: correctly (depthwise taps summed in float32, rounded once; tests/test_lowering.py) when a
#: decider asks, but were not timed.
LOWERED_DTYPES = (torch.float32,)


@dataclass(frozen=True)
class ConvShape:
    """One 2-D convolution call as the cost model sees it (sizes of the input, NCHW order)."""

    batch: int
    in_channels: int
    out_channels: int
    height: int
    width: int
    kernel: Tuple[int, int]
    stride: Tuple[int, int] = (1, 1)
    padding: Tuple[int, int] = (0, 0)
    dilation: Tuple[int, int] = (1, 1)
    groups: int = 1
    dtype: torch.dtype = torch.float32

    @property
    def out_size(self) -> Tuple[int, int]:
        """(Ho, Wo) of the output."""
        return tuple(  # type: ignore[return-value]
            (size + 2 * pad - dil * (k - 1) - 1) // st + 1
            for size, pad, dil, k, st in zip((self.height, self.width), self.padding,
                                             self.dilation, self.kernel, self.stride))

    @property
    def kind(self) -> Optional[str]:
        """``"depthwise"`` (groups = in channels, any multiplier), ``"pointwise"`` (1×1,
        ungrouped) or ``None`` (neither; never lowered)."""
        if self.groups == self.in_channels and self.out_channels % self.in_channels == 0:
            return "depthwise"
        if self.groups == 1 and self.kernel == (1, 1):
            return "pointwise"
        return None

    @property
    def macs(self) -> int:
        """Multiply-adds of the call."""
        ho, wo = self.out_size
        per_output = self.kernel[0] * self.kernel[1] * (self.in_channels // self.groups)
        return self.batch * ho * wo * self.out_channels * per_output


def should_lower(shape: ConvShape) -> bool:
    """The cost model: is ``shape`` faster as plain ops fused by inductor than as a oneDNN call?"""
    if shape.dtype not in LOWERED_DTYPES or min(shape.out_size) < 1:
        return False
    if shape.kind == "depthwise":
        return max(shape.kernel) <= DEPTHWISE_MAX_KERNEL and shape.macs <= DEPTHWISE_MAX_MACS
    if shape.kind == "pointwise":
        return shape.macs <= POINTWISE_MAX_MACS
    return False


# --------------------------------------------------------------------------------------------
# The lowered computations (channels-last view, so outputs stay channels-last)
# --------------------------------------------------------------------------------------------

def _taps_span(stride: int, out: Any) -> Any:
    """Length of the input window one tap reads along an axis: stride·(out-1)+1."""
    return stride * (out - 1) + 1


def depthwise_nhwc(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                   stride: Sequence[int], padding: Sequence[int],
                   dilation: Sequence[int]) -> torch.Tensor:
    """A depthwise conv (``groups`` = input channels, out = in·multiplier) as shifted
    multiply-adds on the NHWC view of ``x``; returns NCHW with channels-last strides."""
    n, c, _, _ = x.shape
    out_c, _, kh, kw = weight.shape
    mult = out_c // c
    # float16 / bfloat16: sum the taps in float32 and round once, as oneDNN accumulates
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    xh = x.permute(0, 2, 3, 1).to(acc)
    if padding[0] or padding[1]:
        xh = aten.constant_pad_nd(xh, [0, 0, padding[1], padding[1], padding[0], padding[0]])
    ho = (xh.shape[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xh.shape[2] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    # one contiguous (C, M) vector per tap: frozen, each is a constant loaded with vector loads
    # (a strided view of the (Cout, 1, kh, kw) weight would be gathered element by element)
    taps = weight.to(acc).reshape(c, mult, kh * kw).permute(2, 0, 1).contiguous()
    out: Optional[torch.Tensor] = None
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            window = xh[:, top:top + _taps_span(stride[0], ho):stride[0],
                        left:left + _taps_span(stride[1], wo):stride[1], :]
            term = window.unsqueeze(-1) * taps[i * kw + j]  # (N, Ho, Wo, C, M)
            out = term if out is None else out + term
    assert out is not None  # kh, kw >= 1
    result = out.reshape(n, ho, wo, out_c)
    if bias is not None:
        result = result + bias.to(acc)
    return result.to(x.dtype).permute(0, 3, 1, 2)


def pointwise_nhwc(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                   stride: Sequence[int], padding: Sequence[int]) -> torch.Tensor:
    """A 1×1 ungrouped conv as one matrix product (``addmm``) on the NHWC view of ``x``;
    returns NCHW with channels-last strides."""
    xh = x.permute(0, 2, 3, 1)
    if padding[0] or padding[1]:
        xh = aten.constant_pad_nd(xh, [0, 0, padding[1], padding[1], padding[0], padding[0]])
    if stride[0] > 1 or stride[1] > 1:
        xh = xh[:, ::stride[0], ::stride[1], :]
    n, ho, wo, c = xh.shape
    out_c = weight.shape[0]
    rows = xh.reshape(n * ho * wo, c)
    cols = weight.reshape(out_c, c).t()
    flat = torch.mm(rows, cols) if bias is None else torch.addmm(bias, rows, cols)
    return flat.reshape(n, ho, wo, out_c).permute(0, 3, 1, 2)


# --------------------------------------------------------------------------------------------
# The decomposition
# --------------------------------------------------------------------------------------------

def _hint(size: Any) -> int:
    """A concrete size for the cost model: ints as they are; for a symbolic size its hint (the
    example size it was traced with), read without adding a guard, so the program stays
    dynamic (the decision is taken once, for the hint)."""
    if isinstance(size, int):
        return size
    node = getattr(size, "node", None)
    if node is not None and node.has_hint():
        return int(node.hint)
    return int(size)  # unbacked: torch raises a data-dependent error naming the size


Decider = Callable[[ConvShape], bool]


def conv_shape(x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int],
               padding: Sequence[int], dilation: Sequence[int], groups: int,
               batch: Optional[int] = None) -> ConvShape:
    """The :class:`ConvShape` of a 2-D convolution call (symbolic sizes read by their hints;
    ``batch`` overrides the batch size the cost model assumes)."""
    n, c, h, w = (_hint(s) for s in x.shape)
    return ConvShape(batch=n if batch is None else batch, in_channels=c,
                     out_channels=_hint(weight.shape[0]), height=h, width=w,
                     kernel=(_hint(weight.shape[2]), _hint(weight.shape[3])),
                     stride=(int(stride[0]), int(stride[1])),
                     padding=(int(padding[0]), int(padding[1])),
                     dilation=(int(dilation[0]), int(dilation[1])),
                     groups=int(groups), dtype=x.dtype)


def _pair(values: Sequence[int]) -> Sequence[int]:
    """A one-element hyper-parameter list (as ``conv2d`` may record it) for both axes."""
    return [values[0], values[0]] if len(values) == 1 else values


def _lowerable(x: torch.Tensor, weight: torch.Tensor, stride: Sequence[int],
               padding: Sequence[int], dilation: Sequence[int], transposed: bool,
               groups: int) -> bool:
    """Plain 2-D forward convolutions with ``int`` hyper-parameters only."""
    return (not transposed and x.dim() == 4 and weight.dim() == 4 and len(stride) == 2
            and len(padding) == 2 and len(dilation) == 2 and x.dtype == weight.dtype
            and all(isinstance(v, int) for v in (*stride, *padding, *dilation, groups)))


def lower_always(shape: ConvShape) -> bool:
    """A decider lowering every depthwise and 1×1 convolution (tests, calibration)."""
    return True


def _thresholds() -> Tuple[Any, ...]:
    return (DEPTHWISE_MAX_KERNEL, DEPTHWISE_MAX_MACS, POINTWISE_MAX_MACS, LOWERED_DTYPES)


@dataclass(frozen=True)
class ConvolutionDecomposition:
    """The decomposition of ``aten.convolution.default``: the lowered computation where
    ``decide`` says so, else ``NotImplemented`` (the tracer keeps the convolution).

    A picklable value (when ``decide`` is a module-level function), so inductor's compile
    caches can key on it; ``thresholds`` puts the cost model's constants into that key."""

    decide: Decider = should_lower
    batch: Optional[int] = None
    thresholds: Tuple[Any, ...] = ()

    def __call__(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                 stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
                 transposed: bool, output_padding: Sequence[int], groups: int) -> Any:
        stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
        if not _lowerable(x, weight, stride, padding, dilation, transposed, groups):
            return NotImplemented
        shape = conv_shape(x, weight, stride, padding, dilation, groups, self.batch)
        if shape.kind is None or not self.decide(shape):
            return NotImplemented
        if shape.kind == "depthwise":
            return depthwise_nhwc(x, weight, bias, stride, padding, dilation)
        return pointwise_nhwc(x, weight, bias, stride, padding)


def _conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
            stride: Sequence[int] = (1, 1), padding: Sequence[int] = (0, 0),
            dilation: Sequence[int] = (1, 1), groups: int = 1) -> Any:
    """``aten.conv2d`` as ``aten.convolution``, which the table then decides on (an exported
    program keeps composite ops such as ``conv2d`` unless the table names them)."""
    return aten.convolution.default(x, weight, bias, _pair(stride), _pair(padding),
                                    _pair(dilation), False, [0, 0], groups)


def conv_decompositions(decide: Decider = should_lower,
                        batch: Optional[int] = None) -> Dict[Any, Callable[..., Any]]:
    """``{aten.convolution.default: decomposition, aten.conv2d.default: to convolution}``
    lowering the convolutions ``decide`` (default :func:`should_lower`) picks.

    Use it as ``program.run_decompositions(table)`` (merged into
    ``torch.export.default_decompositions()`` for a core-ATen program, or alone) or as extra
    ``decompositions=`` of ``torch._inductor.compile_fx.compile_fx``. Symbolic sizes are read
    by their hints (the sizes the program was traced or compiled with); ``batch`` makes the cost
    model assume that batch size instead (an exported program is traced at batch 2 and serves
    every batch: pass the batch it will mostly run at)."""
    if not callable(decide):
        raise ExportError("conv_decompositions: decide must be callable, got "
                          f"{type(decide).__name__}")
    if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool) or batch < 1):
        raise ExportError(f"conv_decompositions: batch must be a positive int, got {batch!r}")
    decomposition = ConvolutionDecomposition(decide, batch, _thresholds())
    return {aten.convolution.default: decomposition,
            aten.conv2d.default: _conv2d}


def count_convolutions(program: Any) -> int:
    """Convolution nodes (``aten.convolution`` / ``aten.conv2d``) in an ExportedProgram or
    GraphModule's graph."""
    graph = program.graph
    targets = (aten.convolution.default, aten.conv2d.default)
    return sum(1 for node in graph.nodes if node.op == "call_function" and node.target in targets)


def lower_small_convs(program: Any, decide: Decider = should_lower,
                      batch: Optional[int] = None) -> Any:
    """``program`` (a ``torch.export`` ExportedProgram) with the convolutions ``decide`` picks
    lowered to plain ops; nothing else is decomposed beyond ATen (composite ops such as
    ``conv2d`` become ``convolution``)."""
    if not isinstance(program, torch.export.ExportedProgram):
        raise ExportError(f"lower_small_convs: expected a torch.export.ExportedProgram, got "
                          f"{type(program).__name__}")
    return program.run_decompositions(conv_decompositions(decide, batch))
