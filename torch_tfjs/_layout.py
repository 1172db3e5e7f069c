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


# --- weight layouts -----------------------------------------------------------------------------
# A graph Const weight consumed by torch kernels in another layout (a conv filter stored HWIO,
# wanted OIHW) is stored once in the wanted layout; these pairs convert both ways so the
# original layout can be written back.

def hwio_to_oihw(w: torch.Tensor) -> torch.Tensor:
    """TF conv filter (H, W, in, out) → torch (out, in, H, W), channels_last memory."""
    return w.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)


def oihw_to_hwio(w: torch.Tensor) -> torch.Tensor:
    return w.permute(2, 3, 1, 0).contiguous()


def dhwio_to_oidhw(w: torch.Tensor) -> torch.Tensor:
    """TF 3-D conv filter (D, H, W, in, out) → torch (out, in, D, H, W), channels_last_3d."""
    return w.permute(4, 3, 0, 1, 2).contiguous(memory_format=torch.channels_last_3d)


def oidhw_to_dhwio(w: torch.Tensor) -> torch.Tensor:
    return w.permute(2, 3, 4, 1, 0).contiguous()


def hwcm_to_depthwise(w: torch.Tensor) -> torch.Tensor:
    """TF depthwise filter (H, W, C, M) → torch grouped-conv weight (C*M, 1, H, W)."""
    h, wd, c, m = w.shape
    return w.permute(2, 3, 0, 1).reshape(c * m, 1, h, wd).contiguous(memory_format=torch.channels_last)



def depthwise_to_hwcm(w: torch.Tensor, tf_shape) -> torch.Tensor:
    """Inverse of :func:`hwcm_to_depthwise` (needs the original (H, W, C, M) shape)."""
    h, wd, c, m = tf_shape
    return w.reshape(c, m, h, wd).permute(2, 3, 0, 1).contiguous()


#: name → (to torch layout, back to the TF layout given the TF shape).
WEIGHT_LAYOUTS = {
    "hwio_to_oihw": (hwio_to_oihw, lambda t, shape: oihw_to_hwio(t)),
    "dhwio_to_oidhw": (dhwio_to_oidhw, lambda t, shape: oidhw_to_dhwio(t)),
    "hwcm_to_depthwise": (hwcm_to_depthwise, depthwise_to_hwcm),
}
