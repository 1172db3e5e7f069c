"""Image ops (tfjs op list ``image``): ResizeBilinear, ResizeNearestNeighbor, CropAndResize,
ImageProjectiveTransformV3. Images are NHWC; index arithmetic follows TF's kernels (resizing
and projective transforms are shared with the layers in :mod:`torch_tfjs._image`)."""

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


def crop_and_resize(images: torch.Tensor, boxes: torch.Tensor, box_ind: torch.Tensor, crop_size: Ints,
                    method: str, extrapolation_value: float) -> torch.Tensor:
    """TF CropAndResize: boxes (y1, x1, y2, x2) in normalized coordinates, output float32 (the boxes' float dtype in a cast model).
    Coordinates, weights and lerps are float64 rounded once at the end, as tfjs's CPU kernel
    computes them (JS doubles), so the results match it to the bit."""
    x = images.to(torch.float64)
    h, w = x.shape[1], x.shape[2]
    crop_h, crop_w = _ints(crop_size)[:2]
    out_dtype = boxes.dtype if boxes.is_floating_point() else torch.float32
    boxes = boxes.to(out_dtype).to(torch.float64)

    def coords(lo: torch.Tensor, hi: torch.Tensor, size: int, crop: int) -> torch.Tensor:
        steps = torch.arange(crop, dtype=torch.float64, device=x.device)
        if crop > 1:
            return lo[:, None] * (size - 1) + steps * ((hi - lo) * (size - 1) / (crop - 1))[:, None]
        return (0.5 * (lo + hi) * (size - 1))[:, None].expand(-1, crop)

    in_y = coords(boxes[:, 0], boxes[:, 2], h, crop_h)[:, :, None]  # [n, crop_h, 1]
    in_x = coords(boxes[:, 1], boxes[:, 3], w, crop_w)[:, None, :]  # [n, 1, crop_w]
    valid = (in_y >= 0) & (in_y <= h - 1) & (in_x >= 0) & (in_x <= w - 1)
    b = box_ind.long()[:, None, None]
    if method == "nearest":
        # roundf (half away from zero); in-range coordinates are >= 0
        return _image.gather_pixels(x, b, torch.floor(in_y + 0.5), torch.floor(in_x + 0.5), valid,
                                    extrapolation_value).to(out_dtype)
    y0, x0 = torch.floor(in_y), torch.floor(in_x)
    ly, lx = (in_y - y0).unsqueeze(-1), (in_x - x0).unsqueeze(-1)
    y1, x1 = torch.ceil(in_y), torch.ceil(in_x)
    tl, tr = _image.gather_pixels(x, b, y0, x0, valid, 0.0), _image.gather_pixels(x, b, y0, x1, valid, 0.0)
    bl, br = _image.gather_pixels(x, b, y1, x0, valid, 0.0), _image.gather_pixels(x, b, y1, x1, valid, 0.0)
    top = tl + (tr - tl) * lx
    bottom = bl + (br - bl) * lx
    out = top + (bottom - top) * ly
    extrap = torch.as_tensor(extrapolation_value, dtype=out.dtype, device=out.device)
    return torch.where(valid.unsqueeze(-1), out, extrap).to(out_dtype)


@register_op("CropAndResize")
def crop_and_resize_op(node: OpNode) -> Value:
    size = node.static_list(3)
    method = node.attr_str("method", "bilinear") or "bilinear"
    if method not in ("bilinear", "nearest"):
        raise node.error(f"unsupported method '{method}'")
    return node.call(crop_and_resize, node.input(0), node.input(1), node.input(2),
                     node.input(3) if size is None else [int(s) for s in size], method,
                     node.attr_float("extrapolation_value", 0.0))


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
    return node.call(_image.projective_transform, node.input(0), node.input(1),
                     node.input(2) if shape is None else [int(s) for s in shape], fill,
                     interpolation, fill_mode)
