"""Spectral ops (tfjs op list ``spectral``): FFT, IFFT, RFFT, IRFFT over the innermost axis."""

from __future__ import annotations

import torch

from ..node import OpNode, Value
from ..registry import register_op


def fft(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.fft(x, dim=-1).to(torch.complex64)


def ifft(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifft(x, dim=-1).to(torch.complex64)


def rfft(x: torch.Tensor, length: int) -> torch.Tensor:
    """TF RFFT: the input is cropped or zero-padded to ``fft_length`` first."""
    return torch.fft.rfft(x.float(), n=length, dim=-1).to(torch.complex64)


def irfft(x: torch.Tensor, length: int) -> torch.Tensor:
    return torch.fft.irfft(x, n=length, dim=-1).to(torch.float32)


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
    return node.call(irfft, node.input(0), _length(node))
