"""arithmetic, basic_math, logical and creation emitters against numpy statements of TF's
semantics."""

import math

import numpy as np
import pytest
import torch

from single_op import run_single_op

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4)).astype(np.float32)
B = (RNG.standard_normal((4,)) + 2.5).astype(np.float32)  # broadcast, kept away from 0
IA = np.array([[7, -7, 7, -7], [5, -3, 0, 9]], np.int32)
IB = np.array([2, 2, -2, -2], np.int32)


def close(out, expected):
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


FLOAT_BINARY = [
    ("Add", np.add), ("AddV2", np.add), ("Sub", np.subtract), ("Mul", np.multiply),
    ("RealDiv", np.divide), ("Div", np.divide), ("DivNoNan", np.divide),
    ("FloorDiv", lambda a, b: np.floor(a / b)), ("Maximum", np.maximum), ("Minimum", np.minimum),
    ("Pow", lambda a, b: np.power(np.abs(a), b)), ("SquaredDifference", lambda a, b: (a - b) ** 2),
    ("Mod", np.fmod), ("FloorMod", np.mod),  # TF's Mod truncates (tfjs floors: we follow TF)
]


@pytest.mark.parametrize("op,np_fn", FLOAT_BINARY)
@pytest.mark.parametrize("b_const", [False, True])
def test_float_binary(tmp_path, op, np_fn, b_const):
    a = np.abs(A) if op == "Pow" else A
    out = run_single_op(tmp_path, op, [(a, False), (B, b_const)])
    assert out.dtype == torch.float32
    close(out, np_fn(a, B))


INT_BINARY = [
    ("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply), ("Maximum", np.maximum),
    ("Minimum", np.minimum), ("SquaredDifference", lambda a, b: (a - b) ** 2),
    ("Div", np.floor_divide), ("RealDiv", np.floor_divide), ("FloorDiv", np.floor_divide),
    ("Mod", np.fmod), ("FloorMod", np.mod), ("Pow", lambda a, b: np.power(a, np.abs(b))),
]


@pytest.mark.parametrize("op,np_fn", INT_BINARY)
def test_int_binary_keeps_int32_and_floors(tmp_path, op, np_fn):
    b = np.abs(IB) if op == "Pow" else IB
    out = run_single_op(tmp_path, op, [(IA, False), (b, False)])
    assert out.dtype == torch.int32
    assert out.tolist() == np_fn(IA, b).tolist()


def test_floor_div_mod_signs(tmp_path):
    a = np.array([7, -7, 7, -7], np.int32)
    b = np.array([2, 2, -2, -2], np.int32)
    assert run_single_op(tmp_path / "d", "FloorDiv", [(a, False), (b, False)]).tolist() == [3, -4, -4, 3]
    assert run_single_op(tmp_path / "m", "FloorMod", [(a, False), (b, False)]).tolist() == [1, 1, -1, -1]
    # Mod follows TF (truncated, sign of the dividend), not tfjs (which floors like FloorMod)
    assert run_single_op(tmp_path / "tm", "Mod", [(a, False), (b, False)]).tolist() == [1, -1, 1, -1]
    fa, fb = a.astype(np.float32) + 0.5, b.astype(np.float32)
    close(run_single_op(tmp_path / "fm", "FloorMod", [(fa, False), (fb, False)]), np.mod(fa, fb))
    close(run_single_op(tmp_path / "ftm", "Mod", [(fa, False), (fb, False)]), np.fmod(fa, fb))  # [1.5, -0.5, 1.5, -0.5]
    close(run_single_op(tmp_path / "fd", "FloorDiv", [(fa, False), (fb, False)]), np.floor(fa / fb))


def test_div_by_zero(tmp_path):
    a = np.array([1.0, -2.0, 0.0], np.float32)
    b = np.array([0.0, 4.0, 0.0], np.float32)
    assert run_single_op(tmp_path / "n", "DivNoNan", [(a, False), (b, False)]).tolist() == [0.0, -0.5, 0.0]
    ia, ib = np.array([5, -5, 6], np.int32), np.array([0, 0, 4], np.int32)
    assert run_single_op(tmp_path / "i", "FloorDiv", [(ia, False), (ib, False)]).tolist() == [0, 0, 1]


def test_add_n_and_bias_add(tmp_path):
    xs = [RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    close(run_single_op(tmp_path / "n", "AddN", [(x, False) for x in xs]), xs[0] + xs[1] + xs[2])
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    bias5, bias3 = np.arange(5, dtype=np.float32), np.arange(3, dtype=np.float32)
    close(run_single_op(tmp_path / "h", "BiasAdd", [(x, False), (bias5, True)]), x + bias5)
    close(run_single_op(tmp_path / "c", "BiasAdd", [(x, False), (bias3, True)], {"data_format": "NCHW"}),
          x + bias3[:, None, None])


def _erf(x):
    return np.vectorize(math.erf)(x).astype(np.float32)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


SELU_SCALE, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772
X = np.array([-3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 7.0], np.float32)
U = np.array([-0.9, -0.5, 0.0, 0.3, 0.8], np.float32)  # inside (-1, 1)
UNARY = [
    ("Abs", X, np.abs), ("Acos", U, np.arccos), ("Asin", U, np.arcsin), ("Atan", X, np.arctan),
    ("Ceil", X, np.ceil), ("Cos", X, np.cos), ("Cosh", X, np.cosh),
    ("Elu", X, lambda x: np.where(x > 0, x, np.expm1(x))), ("Exp", X, np.exp),
    ("Floor", X, np.floor), ("Log", np.abs(X) + 0.1, np.log), ("Neg", X, np.negative),
    ("Relu", X, lambda x: np.maximum(x, 0)), ("Relu6", X, lambda x: np.clip(x, 0, 6)),
    ("Selu", X, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    ("Sigmoid", X, _sigmoid), ("Sin", X, np.sin), ("Sinh", X, np.sinh),
    ("Sqrt", np.abs(X), np.sqrt), ("Rsqrt", np.abs(X) + 0.1, lambda x: 1 / np.sqrt(x)),
    ("Square", X, np.square), ("Tan", U, np.tan), ("Tanh", X, np.tanh), ("Sign", X, np.sign),
    ("Round", X, np.round), ("Expm1", X, np.expm1), ("Log1p", np.abs(X), np.log1p),
    ("Reciprocal", X + 0.25, np.reciprocal), ("Softplus", X, lambda x: np.log1p(np.exp(x))),
    ("Asinh", X, np.arcsinh), ("Acosh", np.abs(X) + 1, np.arccosh), ("Atanh", U, np.arctanh),
    ("Erf", X, _erf), ("Real", X, np.real), ("Imag", X, np.zeros_like),
]


@pytest.mark.parametrize("op,x,np_fn", UNARY, ids=[u[0] for u in UNARY])
def test_unary(tmp_path, op, x, np_fn):
    out = run_single_op(tmp_path, op, [(x, False)])
    assert out.dtype == torch.float32
    close(out, np_fn(x).astype(np.float32))


def test_round_half_to_even_and_int_unary(tmp_path):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], np.float32)
    assert run_single_op(tmp_path / "r", "Round", [(x, False)]).tolist() == [-2, -2, -0, 0, 2, 2]
    i = np.array([-3, 0, 4], np.int32)
    for op, ref in [("Abs", [3, 0, 4]), ("Neg", [3, 0, -4]), ("Square", [9, 0, 16]), ("Sign", [-1, 0, 1]),
                    ("Relu", [0, 0, 4]), ("Relu6", [0, 0, 4])]:
        out = run_single_op(tmp_path / op, op, [(i, False)])
        assert out.dtype == torch.int32 and out.tolist() == ref, op


@pytest.mark.parametrize("op,np_fn", [("IsNan", np.isnan), ("IsFinite", np.isfinite), ("IsInf", np.isinf)])
def test_float_predicates(tmp_path, op, np_fn):
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], np.float32)
    out = run_single_op(tmp_path, op, [(x, False)])
    assert out.dtype == torch.bool and out.tolist() == np_fn(x).tolist()


def test_parametrized_activations(tmp_path):
    close(run_single_op(tmp_path / "l", "LeakyRelu", [(X, False)]), np.where(X < 0, 0.2 * X, X))
    close(run_single_op(tmp_path / "l3", "LeakyRelu", [(X, False)], {"alpha": 0.3}), np.where(X < 0, 0.3 * X, X))
    m = RNG.standard_normal((2, 3)).astype(np.float32)
    alpha = np.array([0.1, 0.2, 0.3], np.float32)
    close(run_single_op(tmp_path / "p", "Prelu", [(m, False), (alpha, True)]), np.where(m < 0, alpha * m, m))
    close(run_single_op(tmp_path / "a", "Atan2", [(A, False), (B, False)]), np.arctan2(A, B))
    lo, hi = np.array(-0.5, np.float32), np.array(1.0, np.float32)
    close(run_single_op(tmp_path / "c", "ClipByValue", [(X, False), (lo, True), (hi, True)]),
          np.minimum(np.maximum(X, lo), hi))


def test_complex_ops(tmp_path):
    re, im = A, A[::-1].copy()
    z = run_single_op(tmp_path / "z", "Complex", [(re, False), (im, False)])
    assert z.dtype == torch.complex64
    close(z, re + 1j * im)
    c = (re + 1j * im).astype(np.complex64)
    close(run_single_op(tmp_path / "r", "Real", [(c, False)]), re)
    close(run_single_op(tmp_path / "i", "Imag", [(c, False)]), im)
    out = run_single_op(tmp_path / "a", "ComplexAbs", [(c, False)])
    assert out.dtype == torch.float32
    close(out, np.abs(c))


COMPARE = [("Equal", np.equal), ("NotEqual", np.not_equal), ("Greater", np.greater),
           ("GreaterEqual", np.greater_equal), ("Less", np.less), ("LessEqual", np.less_equal)]


@pytest.mark.parametrize("op,np_fn", COMPARE)
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_compare(tmp_path, op, np_fn, dtype):
    a = np.array([[1, 2, 3], [3, 2, 1]], dtype)
    b = np.array([2, 2, 2], dtype)
    out = run_single_op(tmp_path, op, [(a, False), (b, True)])
    assert out.dtype == torch.bool and out.tolist() == np_fn(a, b).tolist()


@pytest.mark.parametrize("op,np_fn", [("LogicalAnd", np.logical_and), ("LogicalOr", np.logical_or),
                                      ("BitwiseAnd", np.bitwise_and)])
def test_logical_binary(tmp_path, op, np_fn):
    a, b = (np.array([[True, False], [True, True]]), np.array([True, False]))
    if op == "BitwiseAnd":
        a, b = np.array([[12, 7], [-1, 5]], np.int32), np.array([10, 3], np.int32)
    out = run_single_op(tmp_path, op, [(a, False), (b, False)])
    assert out.dtype == torch.from_numpy(np_fn(a, b)).dtype and out.tolist() == np_fn(a, b).tolist()
    assert run_single_op(tmp_path / "not", "LogicalNot", [(a > 0, False)]).tolist() == (~(a > 0)).tolist()


def test_select(tmp_path):
    t, e = np.arange(6, dtype=np.float32).reshape(3, 2), -np.arange(6, dtype=np.float32).reshape(3, 2)
    rows = np.array([True, False, True])
    out = run_single_op(tmp_path / "v1", "Select", [(rows, False), (t, False), (e, False)])
    assert out.tolist() == np.where(rows[:, None], t, e).tolist()
    cond = np.array([[True, False], [False, True], [True, True]])
    for op in ("Select", "SelectV2"):
        out = run_single_op(tmp_path / op, op, [(cond, False), (t, False), (e, False)])
        assert out.tolist() == np.where(cond, t, e).tolist()
    last = np.array([True, False])  # SelectV2 broadcasts a 1-D cond on the last axis
    out = run_single_op(tmp_path / "v2", "SelectV2", [(last, False), (t, False), (e, False)])
    assert out.tolist() == np.where(last, t, e).tolist()


@pytest.mark.parametrize("shape_const", [True, False])
def test_fill_ones_zeros(tmp_path, shape_const):
    shape = np.array([2, 3], np.int32)
    out = run_single_op(tmp_path / "f", "Fill", [(shape, shape_const), (np.array(7, np.int32), False)])
    assert out.dtype == torch.int32 and out.tolist() == np.full((2, 3), 7).tolist()
    out = run_single_op(tmp_path / "o", "Ones", [(shape, shape_const)], {"dtype": "DT_FLOAT"})
    assert out.dtype == torch.float32 and out.tolist() == np.ones((2, 3)).tolist()
    out = run_single_op(tmp_path / "z", "Zeros", [(shape, shape_const)], {"dtype": "DT_INT32"})
    assert out.dtype == torch.int32 and out.tolist() == np.zeros((2, 3)).tolist()
    for op, ref in [("OnesLike", np.ones_like), ("ZerosLike", np.zeros_like)]:
        out = run_single_op(tmp_path / op, op, [(IA, False)])
        assert out.dtype == torch.int32 and out.tolist() == ref(IA).tolist()


@pytest.mark.parametrize("start,limit,delta", [(0, 10, 3), (10, 0, -2), (5, 1, 1), (0.5, 2.0, 0.25),
                                                (-1.0, 1.0, 0.3)])
@pytest.mark.parametrize("const", [True, False])
def test_range(tmp_path, start, limit, delta, const):
    dtype = np.int32 if isinstance(start, int) else np.float32
    args = [(np.array(v, dtype), const) for v in (start, limit, delta)]
    out = run_single_op(tmp_path, "Range", args)
    assert out.dtype == torch.from_numpy(np.zeros(0, dtype)).dtype
    close(out, np.arange(start, limit, delta, dtype=np.float64).astype(dtype))


def test_lin_space(tmp_path):
    out = run_single_op(tmp_path / "a", "LinSpace", [(np.array(1.0, np.float32), False),
                                                     (np.array(3.0, np.float32), False), (np.array(5, np.int32), True)])
    close(out, np.linspace(1, 3, 5))
    out = run_single_op(tmp_path / "b", "LinSpace", [(np.array(2.0, np.float32), True),
                                                     (np.array(3.0, np.float32), True), (np.array(1, np.int32), True)])
    assert out.tolist() == [2.0]


def _np_one_hot(idx, depth, on, off, axis):
    out = np.where(idx[..., None] == np.arange(depth), on, off)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(tmp_path, axis):
    idx = np.array([[0, 2, -1], [3, 1, 5]], np.int32)  # -1, 3 and 5 are out of range for depth 3
    on, off = np.array(5.0, np.float32), np.array(-1.0, np.float32)
    out = run_single_op(tmp_path, "OneHot", [(idx, False), (np.array(3, np.int32), True), (on, True), (off, True)],
                        {"axis": axis})
    assert out.dtype == torch.float32
    assert out.tolist() == _np_one_hot(idx, 3, 5.0, -1.0, axis).tolist()


def test_one_hot_out_of_range_all_off(tmp_path):
    idx = np.array([-1, 3], np.int32)
    out = run_single_op(tmp_path, "OneHot", [(idx, False), (np.array(3, np.int32), True),
                                             (np.array(1, np.int32), True), (np.array(0, np.int32), True)])
    assert out.dtype == torch.int32 and out.tolist() == [[0, 0, 0], [0, 0, 0]]


SHAPE = np.array([200, 50], np.int32)


def _twice(tmp_path, op, inputs, attrs=None):
    from single_op import single_op_model
    model, fed = single_op_model(tmp_path, op, inputs, attrs)
    with torch.no_grad():
        return model(*[torch.from_numpy(a) for a in fed]), model(*[torch.from_numpy(a) for a in fed])


@pytest.mark.parametrize("op", ["RandomStandardNormal", "RandomUniform", "TruncatedNormal"])
@pytest.mark.parametrize("shape_const", [True, False])
def test_random_float(tmp_path, op, shape_const):
    first, second = _twice(tmp_path, op, [(SHAPE, shape_const)], {"dtype": "DT_FLOAT"})
    assert first.shape == (200, 50) and first.dtype == torch.float32
    assert not torch.equal(first, second)  # not folded into a constant
    if op == "RandomUniform":
        assert first.min() >= 0 and first.max() < 1
    if op == "TruncatedNormal":
        assert first.abs().max() <= 2
    if op != "RandomUniform":
        assert abs(float(first.mean())) < 0.1 and first.min() < 0 < first.max()


def test_random_uniform_int(tmp_path):
    first, second = _twice(tmp_path, "RandomUniformInt", [(SHAPE, True), (np.array(-3, np.int32), True),
                                                          (np.array(4, np.int32), True)], {"Tout": "DT_INT32"})
    assert first.shape == (200, 50) and first.dtype == torch.int32
    assert first.min() == -3 and first.max() == 3
    assert not torch.equal(first, second)


def test_multinomial(tmp_path):
    logits = np.log(np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], np.float32) + 1e-30).astype(np.float32)
    first, second = _twice(tmp_path, "Multinomial", [(logits, True), (np.array(400, np.int32), True)],
                           {"output_dtype": "DT_INT64"})
    assert first.shape == (2, 400) and first.dtype == torch.int32
    assert set(first[0].tolist()) == {1, 2} and set(first[1].tolist()) == {0}
    assert not torch.equal(first, second)


def test_random_ops_follow_the_model_device(tmp_path):
    """Random draws have no tensor input to take a device from: they follow model.to(device)
    through the model's device_anchor buffer (checked with the meta device; CUDA alike)."""
    from single_op import single_op_model
    model, _ = single_op_model(tmp_path, "RandomUniform", [(SHAPE, True)], {"dtype": "DT_FLOAT"})
    out = model.to("meta")()
    assert out.device.type == "meta" and out.shape == (200, 50)
