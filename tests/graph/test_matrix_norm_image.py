"""matrices, normalization and image emitters against numpy statements of TF's semantics."""

import math

import numpy as np
import pytest
import torch

from single_op import run_single_op

RNG = np.random.default_rng(7)
TOL = dict(rtol=1e-5, atol=1e-5)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i32(a):
    return np.array(a, np.int32)


# --- matrices ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_mat_mul(tmp_path, ta, tb):
    a, b = f32(3, 4), f32(4, 5)
    a_in, b_in = (a.T.copy() if ta else a), (b.T.copy() if tb else b)
    out = run_single_op(tmp_path, "MatMul", [(a_in, False), (b_in, True)], {"transpose_a": ta, "transpose_b": tb})
    np.testing.assert_allclose(out.numpy(), a @ b, **TOL)


def test_mat_mul_int_keeps_dtype(tmp_path):
    a, b = i32([[1, 2], [3, 4]]), i32([[5, 6], [7, -8]])
    out = run_single_op(tmp_path, "MatMul", [(a, False), (b, False)])
    assert out.dtype == torch.int32 and out.tolist() == (a @ b).tolist()


@pytest.mark.parametrize("op", ["BatchMatMul", "BatchMatMulV2"])
@pytest.mark.parametrize("adj_x,adj_y", [(False, False), (True, True)])
def test_batch_mat_mul_broadcasts(tmp_path, op, adj_x, adj_y):
    x, y = f32(2, 1, 3, 4), f32(3, 4, 5)
    x_in = np.swapaxes(x, -1, -2).copy() if adj_x else x
    y_in = np.swapaxes(y, -1, -2).copy() if adj_y else y
    out = run_single_op(tmp_path, op, [(x_in, False), (y_in, False)], {"adj_x": adj_x, "adj_y": adj_y})
    np.testing.assert_allclose(out.numpy(), np.matmul(x, y), **TOL)


def _act(name, x, alpha=None):
    return {"Relu": lambda: np.maximum(x, 0), "Relu6": lambda: np.clip(x, 0, 6),
            "Elu": lambda: np.where(x > 0, x, np.expm1(x)), "Sigmoid": lambda: 1 / (1 + np.exp(-x)),
            "Tanh": lambda: np.tanh(x), "LeakyRelu": lambda: np.where(x > 0, x, alpha * x),
            "Prelu": lambda: np.where(x > 0, x, alpha * x), None: lambda: x}[name]()


@pytest.mark.parametrize("act", [None, "Relu", "Relu6", "Elu", "LeakyRelu", "Prelu", "Sigmoid", "Tanh"])
def test_fused_mat_mul(tmp_path, act):
    a, b, bias = f32(3, 4) * 3, f32(4, 5), f32(5)
    inputs = [(a, False), (b, True), (bias, True)]
    attrs = {"fused_ops": ["BiasAdd"] + ([act] if act else []), "transpose_a": False, "transpose_b": False}
    alpha = None
    if act == "Prelu":
        alpha = np.abs(f32(5))
        inputs.append((alpha, True))
    if act == "LeakyRelu":
        alpha = 0.3
        attrs["leakyrelu_alpha"] = alpha
    attrs["num_args"] = len(inputs) - 2
    out = run_single_op(tmp_path, "_FusedMatMul", inputs, attrs)
    np.testing.assert_allclose(out.numpy(), _act(act, a @ b + bias, alpha), **TOL)


def test_fused_mat_mul_leaky_default_alpha_and_transpose(tmp_path):
    a, b, bias = f32(4, 3), f32(5, 4), f32(5)
    out = run_single_op(tmp_path, "_FusedMatMul", [(a, False), (b, True), (bias, True)],
                        {"fused_ops": ["BiasAdd", "LeakyRelu"], "num_args": 1, "transpose_a": True,
                         "transpose_b": True})
    np.testing.assert_allclose(out.numpy(), _act("LeakyRelu", a.T @ b.T + bias, 0.2), **TOL)


@pytest.mark.parametrize("shape", [(5,), (1, 5), (), (3, 5), (3, 1)])
def test_fused_mat_mul_broadcast_bias(tmp_path, shape):
    """tfjs adds the fused bias with broadcasting; Keras 3 Dense + BatchNormalization(axis=1)
    leaves [1, C] shifts."""
    a, b, bias = f32(3, 4), f32(4, 5), f32(*shape)
    out = run_single_op(tmp_path, "_FusedMatMul", [(a, False), (b, True), (bias, True)],
                        {"fused_ops": ["BiasAdd", "Relu"], "num_args": 1})
    np.testing.assert_allclose(out.numpy(), np.maximum(a @ b + bias, 0), **TOL)


def test_fused_mat_mul_unknown_op_is_named(tmp_path):
    with pytest.raises(Exception, match="Swish|swish"):
        run_single_op(tmp_path, "_FusedMatMul", [(f32(2, 2), False), (f32(2, 2), True), (f32(2), True)],
                      {"fused_ops": ["BiasAdd", "Swish"], "num_args": 1})


def test_transpose_const_and_fed_perm(tmp_path):
    x = f32(2, 3, 4)
    out = run_single_op(tmp_path / "c", "Transpose", [(x, False), (i32([2, 0, 1]), True)])
    np.testing.assert_array_equal(out.numpy(), x.transpose(2, 0, 1))
    out = run_single_op(tmp_path / "f", "Transpose", [(x, False), (i32([1, 2, 0]), False)])
    np.testing.assert_array_equal(out.numpy(), x.transpose(1, 2, 0))


def test_einsum_keeps_equation_case(tmp_path):
    a, b = f32(2, 3, 4), f32(2, 4, 5)
    out = run_single_op(tmp_path, "Einsum", [(a, False), (b, False)], {"equation": "bIj,bjK->bIK", "N": 2})
    np.testing.assert_allclose(out.numpy(), np.einsum("bij,bjk->bik", a, b), **TOL)
    out = run_single_op(tmp_path / "1", "Einsum", [(a, False)], {"equation": "bij->bji", "N": 1})
    np.testing.assert_allclose(out.numpy(), a.transpose(0, 2, 1), **TOL)


@pytest.mark.parametrize("lower,upper", [(1, 0), (0, -1), (-1, 2), (-1, -1), (0, 0)])
def test_matrix_band_part(tmp_path, lower, upper):
    x = f32(2, 4, 5)
    out = run_single_op(tmp_path, "MatrixBandPart", [(x, False), (i32(lower), True), (i32(upper), False)])
    i, j = np.arange(4)[:, None], np.arange(5)[None, :]
    keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
    np.testing.assert_array_equal(out.numpy(), np.where(keep, x, 0))


# --- normalization -------------------------------------------------------------------------------

@pytest.mark.parametrize("axes,keep", [([1], False), ([0, -1], True)])
def test_euclidean_norm(tmp_path, axes, keep):
    x = f32(3, 4, 5)
    out = run_single_op(tmp_path, "EuclideanNorm", [(x, False), (i32(axes), True)], {"keep_dims": keep})
    np.testing.assert_allclose(out.numpy(), np.sqrt(np.sum(x * x, axis=tuple(axes), keepdims=keep)), **TOL)


def _batch_norm_ref(x, scale, offset, mean, var, eps, axis):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda v: v.reshape(shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(scale) + r(offset)


@pytest.mark.parametrize("op", ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"])
@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_fused_batch_norm(tmp_path, op, fmt):
    x = f32(2, 3, 4, 5)
    c = x.shape[-1] if fmt == "NHWC" else x.shape[1]
    scale, offset, mean, var = f32(c), f32(c), f32(c), np.abs(f32(c)) + 0.1
    out = run_single_op(tmp_path, op, [(x, False), (scale, True), (offset, True), (mean, True), (var, True)],
                        {"epsilon": 0.001, "data_format": fmt, "is_training": False}, n_outputs=3)
    ref = _batch_norm_ref(x, scale, offset, mean, var, 0.001, -1 if fmt == "NHWC" else 1)
    np.testing.assert_allclose(out[0].numpy(), ref, **TOL)
    np.testing.assert_allclose(out[1].numpy(), mean, **TOL)  # inference passes moments through
    np.testing.assert_allclose(out[2].numpy(), var, **TOL)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_fused_batch_norm_broadcast_shaped_args(tmp_path, fmt):
    """Moments and affine arguments shaped to broadcast ([1, 1, 1, C] / [1, C, 1, 1]) are the same
    per-channel vectors."""
    x = f32(2, 3, 4, 5)
    c, shape = (5, (1, 1, 1, 5)) if fmt == "NHWC" else (3, (1, 3, 1, 1))
    scale, offset, mean, var = f32(*shape), f32(*shape), f32(*shape), np.abs(f32(*shape)) + 0.1
    out = run_single_op(tmp_path, "FusedBatchNormV3", [(x, False), (scale, True), (offset, True), (mean, True),
                                                       (var, True)],
                        {"epsilon": 0.001, "data_format": fmt, "is_training": False})
    flat = [t.reshape(c) for t in (scale, offset, mean, var)]
    ref = _batch_norm_ref(x, *flat, 0.001, -1 if fmt == "NHWC" else 1)
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_fused_batch_norm_default_epsilon(tmp_path):
    # tfjs-converter defaults a missing epsilon attr to 1e-3 (op_list/normalization), not TF 1e-4
    x, s, o, m, v = f32(1, 2, 2, 3), f32(3), f32(3), f32(3), np.abs(f32(3)) * 1e-3
    out = run_single_op(tmp_path, "FusedBatchNormV3", [(x, False), (s, True), (o, True), (m, True), (v, True)])
    np.testing.assert_allclose(out.numpy(), _batch_norm_ref(x, s, o, m, v, 1e-3, -1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("attrs", [{}, {"depth_radius": 2, "bias": 2.0, "alpha": 0.5, "beta": 0.75}])
def test_lrn(tmp_path, attrs):
    x = f32(2, 3, 3, 8)
    out = run_single_op(tmp_path, "LRN", [(x, False)], attrs)
    r, bias = attrs.get("depth_radius", 5), attrs.get("bias", 1.0)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 0.5)
    ref = np.empty_like(x)
    for d in range(8):
        sq = np.sum(x[..., max(0, d - r):d + r + 1] ** 2, axis=-1)
        ref[..., d] = x[..., d] / (bias + alpha * sq) ** beta
    np.testing.assert_allclose(out.numpy(), ref, **TOL)


def test_softmax_log_softmax(tmp_path):
    x = f32(3, 4, 6)
    e = np.exp(x - x.max(-1, keepdims=True))
    sm = e / e.sum(-1, keepdims=True)
    np.testing.assert_allclose(run_single_op(tmp_path / "s", "Softmax", [(x, False)]).numpy(), sm, **TOL)
    np.testing.assert_allclose(run_single_op(tmp_path / "l", "LogSoftmax", [(x, False)]).numpy(), np.log(sm), **TOL)


# --- image: hand-checked resize values ----------------------------------------------------------

IMG2 = np.array([[0, 1], [2, 3]], np.float32).reshape(1, 2, 2, 1)
IMG4 = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
MODES = {"legacy": (False, False), "align": (True, False), "half": (False, True)}
BILINEAR = {
    ("legacy", 3): [[0, 2 / 3, 1], [4 / 3, 2, 7 / 3], [2, 8 / 3, 3]],
    ("align", 3): [[0, .5, 1], [1, 1.5, 2], [2, 2.5, 3]],
    ("half", 3): [[0, .5, 1], [1, 1.5, 2], [2, 2.5, 3]],
    ("legacy", 2): [[0, 2], [8, 10]],
    ("align", 2): [[0, 3], [12, 15]],
    ("half", 2): [[2.5, 4.5], [10.5, 12.5]],
}
NEAREST = {
    ("legacy", 3): [[0, 0, 1], [0, 0, 1], [2, 2, 3]],
    ("align", 3): [[0, 1, 1], [2, 3, 3], [2, 3, 3]],
    ("half", 3): [[0, 1, 1], [2, 3, 3], [2, 3, 3]],
    ("legacy", 2): [[0, 2], [8, 10]],
    ("align", 2): [[0, 3], [12, 15]],
    ("half", 2): [[5, 7], [13, 15]],
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("out_size", [3, 2])
@pytest.mark.parametrize("op,table", [("ResizeBilinear", BILINEAR), ("ResizeNearestNeighbor", NEAREST)])
def test_resize_hand_values(tmp_path, mode, out_size, op, table):
    img = IMG2 if out_size == 3 else IMG4
    ac, hp = MODES[mode]
    out = run_single_op(tmp_path, op, [(img, False), (i32([out_size, out_size]), True)],
                        {"align_corners": ac, "half_pixel_centers": hp})
    np.testing.assert_allclose(out.numpy()[0, :, :, 0], np.array(table[(mode, out_size)]), **TOL)


# --- image: numpy statements of TF's kernels ----------------------------------------------------

def _scale(n_in, n_out, ac):
    return (n_in - 1) / (n_out - 1) if ac and n_out > 1 else n_in / n_out


def _bilinear_ref(img, oh, ow, ac, hp):
    n, h, w, c = img.shape
    out = np.zeros((n, oh, ow, c), np.float32)

    def axis(i, n_in, n_out):
        s = np.float32(_scale(n_in, n_out, ac))
        src = (np.float32(i) + np.float32(.5)) * s - np.float32(.5) if hp else np.float32(i) * s
        lo = math.floor(src)
        return max(lo, 0), min(math.ceil(src), n_in - 1), src - lo

    for y in range(oh):
        y0, y1, ly = axis(y, h, oh)
        for x in range(ow):
            x0, x1, lx = axis(x, w, ow)
            top = img[:, y0, x0] + (img[:, y0, x1] - img[:, y0, x0]) * lx
            bot = img[:, y1, x0] + (img[:, y1, x1] - img[:, y1, x0]) * lx
            out[:, y, x] = top + (bot - top) * ly
    return out


def _nearest_ref(img, oh, ow, ac, hp):
    def idx(i, n_in, n_out):
        s = np.float32(_scale(n_in, n_out, ac))
        src = (np.float32(i) + np.float32(.5)) * s if hp else np.float32(i) * s
        return min(int(math.floor(src + .5) if ac else math.floor(src)), n_in - 1)

    ys = [idx(y, img.shape[1], oh) for y in range(oh)]
    xs = [idx(x, img.shape[2], ow) for x in range(ow)]
    return img[:, ys][:, :, xs]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("size", [(7, 3), (2, 9), (1, 1)])
def test_resize_random(tmp_path, mode, size):
    img = f32(2, 5, 4, 3)
    ac, hp = MODES[mode]
    attrs = {"align_corners": ac, "half_pixel_centers": hp}
    out = run_single_op(tmp_path / "b", "ResizeBilinear", [(img, False), (i32(size), True)], attrs)
    np.testing.assert_allclose(out.numpy(), _bilinear_ref(img, *size, ac, hp), **TOL)
    img_i = RNG.integers(0, 255, size=(2, 5, 4, 3)).astype(np.int32)
    out = run_single_op(tmp_path / "n", "ResizeNearestNeighbor", [(img_i, False), (i32(size), True)], attrs)
    assert out.dtype == torch.int32
    np.testing.assert_array_equal(out.numpy(), _nearest_ref(img_i, *size, ac, hp))


def _crop_ref(img, boxes, box_ind, ch, cw, method, extrap):
    _, h, w, c = img.shape
    out = np.full((len(boxes), ch, cw, c), extrap, np.float32)
    for b, (y1, x1, y2, x2) in enumerate(boxes):
        hs = (y2 - y1) * (h - 1) / (ch - 1) if ch > 1 else 0
        ws = (x2 - x1) * (w - 1) / (cw - 1) if cw > 1 else 0
        for y in range(ch):
            iy = y1 * (h - 1) + y * hs if ch > 1 else 0.5 * (y1 + y2) * (h - 1)
            if iy < 0 or iy > h - 1:
                continue
            for x in range(cw):
                ix = x1 * (w - 1) + x * ws if cw > 1 else 0.5 * (x1 + x2) * (w - 1)
                if ix < 0 or ix > w - 1:
                    continue
                im = img[box_ind[b]]
                if method == "nearest":
                    out[b, y, x] = im[int(math.floor(iy + .5)), int(math.floor(ix + .5))]
                    continue
                t, bt, l, r = math.floor(iy), math.ceil(iy), math.floor(ix), math.ceil(ix)
                top = im[t, l] + (im[t, r] - im[t, l]) * (ix - l)
                bot = im[bt, l] + (im[bt, r] - im[bt, l]) * (ix - l)
                out[b, y, x] = top + (bot - top) * (iy - t)
    return out


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop", [(3, 4), (1, 1)])
def test_crop_and_resize(tmp_path, method, crop):
    img = f32(2, 6, 5, 2)
    boxes = np.array([[0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], [-0.3, 0.5, 0.4, 1.4], [0.8, 0.6, 0.2, 0.1]], np.float32)
    box_ind = i32([0, 1, 1, 0])
    out = run_single_op(tmp_path, "CropAndResize", [(img, False), (boxes, False), (box_ind, False), (i32(crop), True)],
                        {"method": method, "extrapolation_value": -2.0})
    np.testing.assert_allclose(out.numpy(), _crop_ref(img, boxes, box_ind, *crop, method, -2.0), **TOL)


def _map_coord_ref(c, n, mode):
    if mode == "constant":
        return c
    if n <= 1:
        return 0.0
    if mode == "wrap":
        if c < 0:
            c += n * (math.trunc(-c / (n - 1)) + 1)
        elif c > n - 1:
            c -= n * math.trunc(c / (n - 1))
    elif mode == "reflect":
        if c < 0:
            c = 2 * n * math.trunc(-c / (2 * n)) + c
            c = c + 2 * n if c < -n else -c - 1
        elif c > n - 1:
            c -= 2 * n * math.trunc(c / (2 * n))
            if c >= n:
                c = 2 * n - c - 1
    return min(max(c, 0.0), n - 1.0)


def _transform_ref(img, transforms, oh, ow, fill, interp, mode):
    n, h, w, c = img.shape
    out = np.zeros((n, oh, ow, c), np.float32)

    def read(b, y, x):
        return img[b, int(y), int(x)] if 0 <= y < h and 0 <= x < w else np.full(c, fill, np.float32)

    for b in range(n):
        t = transforms[0 if len(transforms) == 1 else b].astype(np.float64)
        for y in range(oh):
            for x in range(ow):
                k = t[6] * x + t[7] * y + 1
                if k == 0:
                    out[b, y, x] = fill
                    continue
                sx = _map_coord_ref((t[0] * x + t[1] * y + t[2]) / k, w, mode)
                sy = _map_coord_ref((t[3] * x + t[4] * y + t[5]) / k, h, mode)
                if interp == "NEAREST":
                    rnd = lambda v: math.copysign(math.floor(abs(v) + .5), v)  # noqa: E731
                    out[b, y, x] = read(b, rnd(sy), rnd(sx))
                    continue
                y0, x0 = math.floor(sy), math.floor(sx)
                top = (x0 + 1 - sx) * read(b, y0, x0) + (sx - x0) * read(b, y0, x0 + 1)
                bot = (x0 + 1 - sx) * read(b, y0 + 1, x0) + (sx - x0) * read(b, y0 + 1, x0 + 1)
                out[b, y, x] = (y0 + 1 - sy) * top + (sy - y0) * bot
    return out


@pytest.mark.parametrize("interp", ["NEAREST", "BILINEAR"])
@pytest.mark.parametrize("mode", ["CONSTANT", "NEAREST", "WRAP", "REFLECT"])
def test_image_projective_transform(tmp_path, interp, mode):
    img = f32(2, 5, 6, 2)
    ang = 0.3
    transforms = np.array([[math.cos(ang), -math.sin(ang), 1.3, math.sin(ang), math.cos(ang), -2.2, 0.01, 0.02],
                           [1.713, 0.117, -3.071, -0.231, 1.389, 1.093, 0.0, 0.0]], np.float32)
    fill = np.array(0.5, np.float32)
    out = run_single_op(tmp_path, "ImageProjectiveTransformV3",
                        [(img, False), (transforms, False), (i32([7, 4]), True), (fill, True)],
                        {"interpolation": interp, "fill_mode": mode, "dtype": "DT_FLOAT"})
    ref = _transform_ref(img, transforms, 7, 4, 0.5, interp, mode.lower())
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-4)


def test_image_projective_transform_identity_and_shared_transform(tmp_path):
    img = f32(2, 3, 4, 1)
    ident = np.array([[1, 0, 0, 0, 1, 0, 0, 0]], np.float32)
    out = run_single_op(tmp_path, "ImageProjectiveTransformV3",
                        [(img, False), (ident, True), (i32([3, 4]), True), (np.array(0, np.float32), True)],
                        {"interpolation": "BILINEAR", "fill_mode": "CONSTANT"})
    np.testing.assert_allclose(out.numpy(), img, **TOL)
