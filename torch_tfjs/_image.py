"""Image sampling with TensorFlow's exact rules, on channels-last (NHWC) tensors: resizing,
pixel gathers and projective transforms, shared by the layers (Resizing, UpSampling2D, the
Random* augmentation layers) and the graph image ops.

``torch.nn.functional.interpolate`` only matches TF for some flag combinations, so the source
coordinates are computed here as TF's ``resize_bilinear_op`` / ``resize_nearest_neighbor_op``
(and tfjs's CPU kernels) do.
"""

from __future__ import annotations

from typing import Sequence, Tuple, Union

import torch


def _scale(in_size: int, out_size: int, align_corners: bool) -> float:
    if align_corners and out_size > 1:
        return (in_size - 1) / (out_size - 1)
    return in_size / out_size


def _bilinear_axis(in_size: int, out_size: int, align_corners: bool, half_pixel: bool,
                   device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source rows/columns and weights as tfjs's CPU kernel computes them, in doubles:
    ``src = ratio·(o + 0.5) − 0.5`` (or ``ratio·o``), ``low = max(0, floor(src))``,
    ``high = min(in − 1, ceil(src))``, ``frac = src − low`` (negative left of the first
    half-pixel centre, where low == high and the weight has no effect)."""
    scale = _scale(in_size, out_size, align_corners)
    dst = torch.arange(out_size, dtype=torch.float64, device=device)
    src = scale * (dst + 0.5) - 0.5 if half_pixel else scale * dst
    low = torch.floor(src).clamp(min=0.0)
    high = torch.ceil(src).clamp(max=in_size - 1)
    frac = src - low
    return low.long().clamp(max=in_size - 1), high.long().clamp(min=0), frac


def resize_bilinear(x: torch.Tensor, height: int, width: int, align_corners: bool = False,
                    half_pixel_centers: bool = False) -> torch.Tensor:
    """TF ``ResizeBilinear`` of an NHWC (or HWC) tensor; the result is float32 (a float16,
    bfloat16 or float64 input keeps its dtype: a model cast to it computes in it).

    Follows tfjs's CPU kernel to the bit: the source coordinates, the weights and both lerps
    (``top = tl + (tr − tl)·fx``, ``bottom`` likewise, ``top + (bottom − top)·fy``) are JS
    doubles there, rounded to float32 once at the end, so they are float64 here. (Float32 lerps
    differ by up to a few ulps, which a deep decoder behind the resize amplifies.) The column
    lerp runs once per input row, before the rows are gathered: the same values per element as
    tfjs's per-output loop, with less work than interpolating gathered output rows."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(0)
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    y0, y1, fy = _bilinear_axis(x.shape[1], height, align_corners, half_pixel_centers, x.device)
    x0, x1, fx = _bilinear_axis(x.shape[2], width, align_corners, half_pixel_centers, x.device)
    x = x.to(torch.float64)
    left = x.index_select(2, x0)
    rows = x.index_select(2, x1).sub_(left).mul_(fx.view(-1, 1)).add_(left)  # [n, in_h, width, c]
    top = rows.index_select(1, y0)
    out = rows.index_select(1, y1).sub_(top).mul_(fy.view(-1, 1, 1)).add_(top).to(out_dtype)
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


def gather_pixels(images: torch.Tensor, batch: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
                   valid: torch.Tensor, fill: Union[float, torch.Tensor]) -> torch.Tensor:
    """images[batch, y, x, :] for index grids of one shape, ``fill`` where not ``valid``."""
    h, w = images.shape[1], images.shape[2]
    ys, xs = ys.clamp(0, h - 1).long(), xs.clamp(0, w - 1).long()
    pixels = images[batch.long(), ys, xs]
    fill_t = torch.as_tensor(fill, dtype=images.dtype, device=images.device)
    return torch.where(valid.unsqueeze(-1), pixels, fill_t)


def _map_coord(c: torch.Tensor, length: int, mode: str) -> torch.Tensor:
    """TF's MapCoordinate: where an out-of-image source coordinate reads from."""
    if mode == "constant":
        return c  # out-of-range reads give fill_value
    if length <= 1:
        return torch.zeros_like(c)
    if mode == "nearest":
        return c.clamp(0, length - 1)
    if mode == "wrap":
        size = length - 1
        neg = c + length * (torch.trunc(-c / size) + 1)
        pos = c - length * torch.trunc(c / size)
        c = torch.where(c < 0, neg, torch.where(c > length - 1, pos, c))
    elif mode == "reflect":
        sz2 = 2 * length
        neg = sz2 * torch.trunc(-c / sz2) + c
        neg = torch.where(neg < -length, neg + sz2, -neg - 1)
        pos = c - sz2 * torch.trunc(c / sz2)
        pos = torch.where(pos >= length, sz2 - pos - 1, pos)
        c = torch.where(c < 0, neg, torch.where(c > length - 1, pos, c))
    else:
        raise ValueError(f"unsupported fill_mode '{mode}'")
    return c.clamp(0, length - 1)


def _round_half_away(v: torch.Tensor) -> torch.Tensor:
    return torch.sign(v) * torch.floor(v.abs() + 0.5)  # std::round, not torch's half-to-even


def projective_transform(images: torch.Tensor, transforms: torch.Tensor, output_shape: Union[Sequence[int], torch.Tensor],
                         fill_value: Union[float, torch.Tensor], interpolation: str,
                         fill_mode: str) -> torch.Tensor:
    """TF ImageProjectiveTransformV3: output (x, y) reads input at ((a0 x + a1 y + a2) / k,
    (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1; output float32 as tfjs."""
    x = images.to(torch.float32)
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    out_h, out_w = [int(v) for v in (output_shape.reshape(-1).tolist() if isinstance(output_shape, torch.Tensor) else output_shape)][:2]
    t = transforms.to(torch.float32).expand(n, 8)[:, :, None, None]  # [n, 8, 1, 1]
    oy = torch.arange(out_h, dtype=torch.float32, device=x.device)[:, None]
    ox = torch.arange(out_w, dtype=torch.float32, device=x.device)[None, :]
    k = t[:, 6] * ox + t[:, 7] * oy + 1
    ok = k != 0
    safe_k = torch.where(ok, k, torch.ones_like(k))
    src_x = _map_coord((t[:, 0] * ox + t[:, 1] * oy + t[:, 2]) / safe_k, w, fill_mode)
    src_y = _map_coord((t[:, 3] * ox + t[:, 4] * oy + t[:, 5]) / safe_k, h, fill_mode)
    fill = torch.as_tensor(fill_value, dtype=torch.float32, device=x.device).reshape(())
    b = torch.arange(n, device=x.device)[:, None, None]

    def read(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        valid = (ys >= 0) & (ys <= h - 1) & (xs >= 0) & (xs <= w - 1)
        return gather_pixels(x, b, ys, xs, valid, fill)

    if interpolation == "nearest":
        out = read(_round_half_away(src_y), _round_half_away(src_x))
    else:
        y0, x0 = torch.floor(src_y), torch.floor(src_x)
        y1, x1 = y0 + 1, x0 + 1
        wx0, wx1 = (x1 - src_x).unsqueeze(-1), (src_x - x0).unsqueeze(-1)
        top = wx0 * read(y0, x0) + wx1 * read(y0, x1)
        bottom = wx0 * read(y1, x0) + wx1 * read(y1, x1)
        out = (y1 - src_y).unsqueeze(-1) * top + (src_y - y0).unsqueeze(-1) * bottom
    return torch.where(ok.unsqueeze(-1), out, fill)
