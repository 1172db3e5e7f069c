"""Binary arithmetic ops (broadcasting, negatives, int32 variants)."""

import tensorflow as tf

F = dict(shape=[4, 6], range=(-5, 5))
NZ = dict(shape=[4, 6], values=[-3.0, -2.5, -1.0, 0.5, 1.5, 2.0, 3.5, -0.75])
I = dict(shape=[4, 6], dtype="int32", range=(-9, 10))
INZ = dict(shape=[4, 6], dtype="int32", values=[-4, -3, -2, 2, 3, 5, -1, 7])

CASES = [
    dict(name="add_sub_mul", covers=["AddV2", "Sub", "Mul"], description="a + b, a - b, a * b with row broadcast",
         fn=lambda a, b: (a + b, a - b, a * b), inputs=[F, F], dynamic_batch=True),
    dict(name="add_broadcast", covers=["AddV2"], description="[4,6] + [6] broadcast",
         fn=lambda a, b: a + b, inputs=[F, dict(shape=[6])]),
    dict(name="realdiv", covers=["RealDiv"], description="a / b (b nonzero, negatives)",
         fn=lambda a, b: a / b, inputs=[F, NZ]),
    dict(name="floordiv_float", covers=["FloorDiv"], description="tf.math.floordiv on floats with negatives",
         fn=lambda a, b: tf.math.floordiv(a, b), inputs=[F, NZ]),
    dict(name="floormod_float", covers=["FloorMod"], description="tf.math.floormod on floats with negatives",
         fn=lambda a, b: tf.math.floormod(a, b), inputs=[F, NZ]),
    dict(name="floordiv_int", covers=["FloorDiv"], description="int32 floordiv with negatives (rounds to -inf)",
         fn=lambda a, b: tf.math.floordiv(a, b), inputs=[I, INZ]),
    dict(name="floormod_int", covers=["FloorMod"], description="int32 floormod with negatives (sign of divisor)",
         fn=lambda a, b: tf.math.floormod(a, b), inputs=[I, INZ]),
    dict(name="int_add_sub_mul", covers=["AddV2", "Sub", "Mul"], description="int32 a + b, a - b, a * b",
         fn=lambda a, b: (a + b, a - b, a * b), inputs=[I, I]),
    dict(name="pow", covers=["Pow"], description="positive base ** float exponent",
         fn=lambda a, b: tf.pow(a, b), inputs=[dict(shape=[4, 6], range=(0.1, 3)), dict(shape=[4, 6], range=(-2, 2))]),
    dict(name="pow_int", covers=["Pow"], description="int32 ** small non-negative int32",
         fn=lambda a, b: tf.pow(a, b), inputs=[dict(shape=[4, 6], dtype="int32", range=(-4, 5)),
                                               dict(shape=[4, 6], dtype="int32", range=(0, 4))]),
    dict(name="squared_difference", covers=["SquaredDifference"], description="(a - b)^2",
         fn=lambda a, b: tf.math.squared_difference(a, b), inputs=[F, F]),
    dict(name="maximum_minimum", covers=["Maximum", "Minimum"], description="maximum and minimum",
         fn=lambda a, b: (tf.maximum(a, b), tf.minimum(a, b)), inputs=[F, F]),
    dict(name="maximum_int", covers=["Maximum", "Minimum"], description="int32 maximum/minimum",
         fn=lambda a, b: (tf.maximum(a, b), tf.minimum(a, b)), inputs=[I, I]),
    dict(name="div_no_nan", covers=["DivNoNan"], description="div_no_nan with zeros in the divisor",
         fn=lambda a, b: tf.math.divide_no_nan(a, b),
         inputs=[F, dict(shape=[4, 6], values=[0.0, 2.0, -1.5, 0.0, 3.0, -0.5])]),
    dict(name="add_n", covers=["AddN"], description="tf.add_n of three inputs",
         fn=lambda a, b, c: tf.add_n([a, b, c]), inputs=[F, F, F]),
    dict(name="bias_add", covers=["BiasAdd"], description="tf.nn.bias_add NHWC",
         fn=lambda a, b: tf.nn.bias_add(a, b), inputs=[dict(shape=[2, 3, 3, 4]), dict(shape=[4])]),
    # TF's Mod truncates (C fmod / %: the sign of the dividend); tfjs runs it as its floor mod.
    # The graph is TF's, so torch_tfjs follows TF and the reference comes from TF.
    dict(name="mod_float_truncates", covers=["Mod"], reference="tf",
         description="tf.raw_ops.Mod on floats with negatives: truncated (fmod), as TF computes it",
         notes="follows TF: Mod is fmod (sign of the dividend); tfjs 4.22 computes a floor mod.",
         fn=lambda a, b: tf.raw_ops.Mod(x=a, y=b), inputs=[F, NZ]),
    dict(name="mod_int_truncates", covers=["Mod"], reference="tf",
         description="tf.raw_ops.Mod on int32 with negatives: truncated (C %), as TF computes it",
         notes="follows TF: Mod is C's % (sign of the dividend); tfjs 4.22 computes a floor mod.",
         fn=lambda a, b: tf.raw_ops.Mod(x=a, y=b), inputs=[I, INZ]),
    dict(name="mod_nonnegative", covers=["Mod"],
         description="tf.raw_ops.Mod with non-negative operands (float and int32): TF and tfjs agree",
         fn=lambda a, b, c, d: (tf.raw_ops.Mod(x=a, y=b), tf.raw_ops.Mod(x=c, y=d)),
         inputs=[dict(shape=[4, 6], range=(0, 9)), dict(shape=[4, 6], range=(0.5, 3)),
                 dict(shape=[4, 6], dtype="int32", range=(0, 20)), dict(shape=[4, 6], dtype="int32", range=(1, 7))]),
]
