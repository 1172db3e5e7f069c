"""Unary element-wise ops and activations."""

import tensorflow as tf

X = dict(shape=[3, 8], range=(-4, 4))
POS = dict(shape=[3, 8], range=(0.05, 4))
UNIT = dict(shape=[3, 8], range=(-0.95, 0.95))
HALVES = dict(shape=[3, 8], values=[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -0.49, 0.51, 3.7, -3.7, 0.0, 1.0])


def _c(name, covers, fn, inputs=None, description=None, **kw):
    return dict(name=name, covers=covers, fn=fn, inputs=inputs or [X],
                description=description or f"{', '.join(covers)} element-wise", **kw)


CASES = [
    _c("relu", ["Relu"], tf.nn.relu),
    _c("relu6", ["Relu6"], tf.nn.relu6, [dict(shape=[3, 8], range=(-3, 9))]),
    _c("elu", ["Elu"], tf.nn.elu),
    _c("selu", ["Selu"], tf.nn.selu),
    _c("leaky_relu", ["LeakyRelu"], lambda x: tf.nn.leaky_relu(x, alpha=0.15)),
    _c("sigmoid", ["Sigmoid"], tf.sigmoid),
    _c("tanh", ["Tanh"], tf.tanh),
    _c("softplus", ["Softplus"], tf.nn.softplus, [dict(shape=[3, 8], range=(-20, 20))]),
    _c("round", ["Round"], tf.round, [HALVES], description="Round: half to even"),
    _c("floor_ceil", ["Floor", "Ceil"], lambda x: (tf.floor(x), tf.math.ceil(x))),
    _c("sign", ["Sign"], tf.sign, [dict(shape=[3, 8], values=[-2.0, 0.0, 3.0, -0.1, 0.2, 0.0])]),
    _c("sign_int", ["Sign"], tf.sign, [dict(shape=[3, 8], dtype="int32", range=(-3, 4))]),
    _c("abs_neg", ["Abs", "Neg"], lambda x: (tf.abs(x), -x)),
    _c("abs_int", ["Abs"], tf.abs, [dict(shape=[3, 8], dtype="int32", range=(-9, 9))]),
    _c("rsqrt", ["Rsqrt"], tf.math.rsqrt, [POS]),
    _c("sqrt_square", ["Sqrt", "Square"], lambda x: (tf.sqrt(x), tf.square(x)), [POS]),
    _c("exp_log", ["Exp", "Log"], lambda x: (tf.exp(x), tf.math.log(x)), [POS]),
    _c("log1p_expm1", ["Log1p", "Expm1"], lambda x: (tf.math.log1p(x), tf.math.expm1(x)), [POS]),
    _c("reciprocal", ["Reciprocal"], tf.math.reciprocal, [POS]),
    _c("erf", ["Erf"], tf.math.erf),
    _c("trig", ["Sin", "Cos", "Tan"], lambda x: (tf.sin(x), tf.cos(x), tf.tan(x)), [UNIT]),
    _c("inverse_trig", ["Asin", "Acos", "Atan"], lambda x: (tf.asin(x), tf.acos(x), tf.atan(x)), [UNIT]),
    _c("hyperbolic", ["Sinh", "Cosh", "Asinh"], lambda x: (tf.sinh(x), tf.cosh(x), tf.asinh(x))),
    _c("atan2", ["Atan2"], lambda y, x: tf.atan2(y, x), [X, X]),
    _c("clip_by_value", ["Minimum", "Maximum"], lambda x: tf.clip_by_value(x, -1.5, 2.0),
       description="tf.clip_by_value(x, -1.5, 2.0) (grappler rewrites it to Minimum + Maximum)"),
    _c("is_nan_finite", ["IsNan", "IsFinite", "IsInf"],
       lambda x: (tf.math.is_nan(x), tf.math.is_finite(x), tf.math.is_inf(x)),
       [dict(shape=[2, 4], values=[1.0, float("nan"), float("inf"), -float("inf"), 0.0, -2.0, float("nan"), 3.0])]),
    _c("swish", ["Sigmoid", "Mul"], tf.nn.silu, description="x * sigmoid(x)"),
]
