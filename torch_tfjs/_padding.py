"""TensorFlow "SAME" / "VALID" / explicit padding, solved once for layers and graph ops.

TF pads SAME so that ``out = ceil(in / stride)``; when the total padding is odd the extra cell
goes *after* (bottom/right). torch convolutions only pad symmetrically, so an odd split becomes
an explicit ``F.pad`` before the op.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> Tuple[int, int]:
    """(before, after) padding of one spatial axis for TF SAME."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def same_pads_nd(sizes: Sequence[int], kernels: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int]) -> List[Tuple[int, int]]:
    return [same_pads(s, k, st, d) for s, k, st, d in zip(sizes, kernels, strides, dilations)]


def split_symmetric(pads: Sequence[Tuple[int, int]]) -> Tuple[List[int], List[int]]:
    """Split per-axis (before, after) pads into a symmetric part torch ops take as ``padding``
    and the remainder for ``F.pad`` (in F.pad order: last axis first).

    Returns ``(symmetric, f_pad)``; ``f_pad`` is all zeros when no explicit pad is needed.
    """
    symmetric = [min(b, a) for b, a in pads]
    f_pad: List[int] = []
    for (b, a), s in reversed(list(zip(pads, symmetric))):
        f_pad.extend([b - s, a - s])
    return symmetric, f_pad


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return -(-size // stride)
    return max(math.floor((size - effective) / stride) + 1, 0)
