"""Image resizing with TensorFlow's exact sampling rules, on channels-last (NHWC) tensors.

``torch.nn.functional.interpolate`` only matches TF for some flag combinations, so the source
coordinates are computed here as TF's ``resize_bilinear_op`` / ``resize_nearest_neighbor_op``
(and tfjs's CPU kernels) do.
"""

from __future__ import annotations

from typing import Tuple

import torch


def _scale(in_size: int, out_size: int, align_corners: bool) -> float:
    if align_corners and out_size > 1:
        return (in_size - 1) / (out_size - 1)
    return in_size / out_size


def _bilinear_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool,
                   device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    scale = _scale(in_size, out_size, align_corners)
    dst = torch.arange(out_size, dtype=torch.float64, device=device)
    src = (dst + 0.5) * scale - 0.5 if half_pixel else dst * scale
    if half_pixel:
        src = src.clamp(min=0.0)  # TF's legacy-compatible lower clamp
    low = torch.floor(src).clamp(max=in_size - 1)
    high = torch.clamp(low + 1, max=in_size - 1)
    frac = (src - low).to(torch.float32)
    return low.long(), high.long(), frac


def resize_bilinear(x: torch.Tensor, height: int, width: int, align_corners: bool = False,
                    half_pixel_centers: bool = False) -> torch.Tensor:
    """TF ``ResizeBilinear`` of an NHWC (or HWC) tensor; the result is float32."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(0)
    x = x.to(torch.float32)
    y0, y1, fy = _bilinear_axis(x.shape[1], height, align_corners, half_pixel_centers, x.device)
    x0, x1, fx = _bilinear_axis(x.shape[2], width, align_corners, half_pixel_centers, x.device)
    top = x[:, y0]
    bottom = x[:, y1]
    fy = fy.view(1, -1, 1, 1)
    fx = fx.view(1, 1, -1, 1)
    top = top[:, :, x0] + (top[:, :, x1] - top[:, :, x0]) * fx
    bottom = bottom[:, :, x0] + (bottom[:, :, x1] - bottom[:, :, x0]) * fx
    out = top + (bottom - top) * fy
    return out.squeeze(0) if squeeze else out


def _nearest_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool,
                  device: torch.device) -> torch.Tensor:
    scale = _scale(in_size, out_size, align_corners)
    dst = torch.arange(out_size, dtype=torch.float64, device=device)
    if half_pixel:
        src = torch.floor((dst + 0.5) * scale)
    elif align_corners:
        src = torch.floor(dst * scale + 0.5)  # JS Math.round / C roundf on non-negatives
    else:
        src = torch.floor(dst * scale)
    return src.clamp(max=in_size - 1).long()


def resize_nearest(x: torch.Tensor, height: int, width: int, align_corners: bool = False,
                   half_pixel_centers: bool = False) -> torch.Tensor:
    """TF ``ResizeNearestNeighbor`` of an NHWC (or HWC) tensor; keeps the dtype."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(0)
    ys = _nearest_axis(x.shape[1], height, align_corners, half_pixel_centers, x.device)
    xs = _nearest_axis(x.shape[2], width, align_corners, half_pixel_centers, x.device)
    out = x[:, ys][:, :, xs]
    return out.squeeze(0) if squeeze else out
