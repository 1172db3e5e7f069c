"""Spectral ops (tfjs op list ``spectral``): FFT, IFFT, RFFT, IRFFT over the innermost axis."""

from __future__ import annotations

from typing import Optional

import torch

from ..node import OpNode, Static, Value
from ..registry import register_op


# complex64, or complex128 in a float64 model (torch has no half-precision FFT on CPU: a float16 /
# bfloat16 model computes its FFTs in complex64 and IRFFT casts back to the model's float dtype).
def _complex(x: torch.Tensor) -> torch.dtype:
    return torch.complex128 if x.dtype in (torch.float64, torch.complex128) else torch.complex64


def fft(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.fft(x.to(_complex(x)), dim=-1)


def ifft(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifft(x.to(_complex(x)), dim=-1)


def rfft(x: torch.Tensor, length: int) -> torch.Tensor:
    """TF RFFT: the input is cropped or zero-padded to ``fft_length`` first."""
    real = torch.float64 if x.dtype == torch.float64 else torch.float32
    return torch.fft.rfft(x.to(real), n=length, dim=-1)


def irfft(x: torch.Tensor, length: int, anchor: Optional[torch.Tensor] = None) -> torch.Tensor:
    out = torch.fft.irfft(x.to(_complex(x)), n=length, dim=-1)
    return out.to(torch.float32 if anchor is None else anchor.dtype)


@register_op("FFT")
def fft_op(node: OpNode) -> Value:
    return node.call(fft, node.input(0))


@register_op("IFFT")
def ifft_op(node: OpNode) -> Value:
    return node.call(ifft, node.input(0))


def _length(node: OpNode) -> int:
    value = node.static_list(1)
    if value is None:
        raise node.error("fft_length must be a constant")
    return int(value[0])


@register_op("RFFT")
def rfft_op(node: OpNode) -> Value:
    return node.call(rfft, node.input(0), _length(node))


@register_op("IRFFT")
def irfft_op(node: OpNode) -> Value:
    if isinstance(node.input(0), Static):
        return node.call(irfft, node.input(0), _length(node))
    return node.call(irfft, node.input(0), _length(node), node.float_anchor())
