"""Layout helpers shared by layers and graph ops.

tfjs tensors are channels-last. A contiguous channels-last tensor viewed with its channel axis
moved to position 1 *is* an NCHW tensor in torch's ``channels_last`` memory format, so torch's
NHWC kernels run on it with no data movement. These helpers are that view and its inverse:
stride changes, never copies.
"""

from __future__ import annotations

import torch


def to_channels_first(x: torch.Tensor) -> torch.Tensor:
    """View (N, *spatial, C) as (N, C, *spatial) without moving data."""
    return x.movedim(-1, 1)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """View (N, C, *spatial) as (N, *spatial, C) without moving data (contiguous when ``x`` is
    in channels_last / channels_last_3d memory format)."""
    return x.movedim(1, -1)
