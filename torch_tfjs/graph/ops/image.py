"""Image ops (tfjs op list ``image``): ResizeBilinear, ResizeNearestNeighbor, CropAndResize,
ImageProjectiveTransformV3. Images are NHWC; index arithmetic follows TF's kernels (resizing
is shared with the layers in :mod:`torch_tfjs._image`)."""

from __future__ import annotations

from typing import List, Sequence, Union

import torch

from ... import _image
from ..node import OpNode, Value
from ..registry import register_op

Ints = Union[Sequence[int], torch.Tensor]


def _ints(v: Ints) -> List[int]:
    return [int(a) for a in (v.reshape(-1).tolist() if isinstance(v, torch.Tensor) else v)]


def resize_bilinear(images: torch.Tensor, size: Ints, align_corners: bool, half_pixel: bool) -> torch.Tensor:
    out_h, out_w = _ints(size)[:2]
    return _image.resize_bilinear(images, out_h, out_w, align_corners, half_pixel)


def resize_nearest(images: torch.Tensor, size: Ints, align_corners: bool, half_pixel: bool) -> torch.Tensor:
    out_h, out_w = _ints(size)[:2]
    return _image.resize_nearest(images, out_h, out_w, align_corners, half_pixel)


@register_op("ResizeBilinear", "ResizeNearestNeighbor")
def resize_op(node: OpNode) -> Value:
    size = node.static_list(1)
    fn = resize_bilinear if node.op == "ResizeBilinear" else resize_nearest
    return node.call(fn, node.input(0), node.input(1) if size is None else [int(s) for s in size],
                     node.attr_bool("align_corners"), node.attr_bool("half_pixel_centers"))


def _gather_pixels(images: torch.Tensor, batch: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor,
                   valid: torch.Tensor, fill: Union[float, torch.Tensor]) -> torch.Tensor:
    """images[batch, y, x, :] for index grids of one shape, ``fill`` where not ``valid``."""
    h, w = images.shape[1], images.shape[2]
    ys, xs = ys.clamp(0, h - 1).long(), xs.clamp(0, w - 1).long()
    pixels = images[batch.long(), ys, xs]
    fill_t = torch.as_tensor(fill, dtype=images.dtype, device=images.device)
    return torch.where(valid.unsqueeze(-1), pixels, fill_t)


def crop_and_resize(images: torch.Tensor, boxes: torch.Tensor, box_ind: torch.Tensor, crop_size: Ints,
                    method: str, extrapolation_value: float) -> torch.Tensor:
    """TF CropAndResize: boxes (y1, x1, y2, x2) in normalized coordinates, output float32."""
    x = images.to(torch.float32)
    h, w = x.shape[1], x.shape[2]
    crop_h, crop_w = _ints(crop_size)[:2]
    boxes = boxes.to(torch.float32)

    def coords(lo: torch.Tensor, hi: torch.Tensor, size: int, crop: int) -> torch.Tensor:
        steps = torch.arange(crop, dtype=torch.float32, device=x.device)
        if crop > 1:
            return lo[:, None] * (size - 1) + steps * ((hi - lo) * (size - 1) / (crop - 1))[:, None]
        return (0.5 * (lo + hi) * (size - 1))[:, None].expand(-1, crop)

    in_y = coords(boxes[:, 0], boxes[:, 2], h, crop_h)[:, :, None]  # [n, crop_h, 1]
    in_x = coords(boxes[:, 1], boxes[:, 3], w, crop_w)[:, None, :]  # [n, 1, crop_w]
    valid = (in_y >= 0) & (in_y <= h - 1) & (in_x >= 0) & (in_x <= w - 1)
    b = box_ind.long()[:, None, None]
    if method == "nearest":
        # roundf (half away from zero); in-range coordinates are >= 0
        return _gather_pixels(x, b, torch.floor(in_y + 0.5), torch.floor(in_x + 0.5), valid,
                              extrapolation_value)
    y0, x0 = torch.floor(in_y), torch.floor(in_x)
    ly, lx = (in_y - y0).unsqueeze(-1), (in_x - x0).unsqueeze(-1)
    y1, x1 = torch.ceil(in_y), torch.ceil(in_x)
    tl, tr = _gather_pixels(x, b, y0, x0, valid, 0.0), _gather_pixels(x, b, y0, x1, valid, 0.0)
    bl, br = _gather_pixels(x, b, y1, x0, valid, 0.0), _gather_pixels(x, b, y1, x1, valid, 0.0)
    top = tl + (tr - tl) * lx
    bottom = bl + (br - bl) * lx
    out = top + (bottom - top) * ly
    extrap = torch.as_tensor(extrapolation_value, dtype=out.dtype, device=out.device)
    return torch.where(valid.unsqueeze(-1), out, extrap)


@register_op("CropAndResize")
def crop_and_resize_op(node: OpNode) -> Value:
    size = node.static_list(3)
    method = node.attr_str("method", "bilinear") or "bilinear"
    if method not in ("bilinear", "nearest"):
        raise node.error(f"unsupported method '{method}'")
    return node.call(crop_and_resize, node.input(0), node.input(1), node.input(2),
                     node.input(3) if size is None else [int(s) for s in size], method,
                     node.attr_float("extrapolation_value", 0.0))


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


def projective_transform(images: torch.Tensor, transforms: torch.Tensor, output_shape: Ints,
                         fill_value: Union[float, torch.Tensor], interpolation: str,
                         fill_mode: str) -> torch.Tensor:
    """TF ImageProjectiveTransformV3: output (x, y) reads input at ((a0 x + a1 y + a2) / k,
    (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1; output float32 as tfjs."""
    x = images.to(torch.float32)
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    out_h, out_w = _ints(output_shape)[:2]
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
        return _gather_pixels(x, b, ys, xs, valid, fill)

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


@register_op("ImageProjectiveTransformV3")
def projective_transform_op(node: OpNode) -> Value:
    interpolation = node.attr_str("interpolation", "nearest") or "nearest"
    fill_mode = node.attr_str("fill_mode", "constant") or "constant"
    if interpolation not in ("nearest", "bilinear"):
        raise node.error(f"unsupported interpolation '{interpolation}'")
    if fill_mode not in ("constant", "nearest", "wrap", "reflect"):
        raise node.error(f"unsupported fill_mode '{fill_mode}'")
    shape = node.static_list(2)
    fill = node.input(3) if node.num_inputs > 3 else 0.0
    return node.call(projective_transform, node.input(0), node.input(1),
                     node.input(2) if shape is None else [int(s) for s in shape], fill,
                     interpolation, fill_mode)
