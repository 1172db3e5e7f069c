"""Comparisons, logical ops and where/select."""

import tensorflow as tf

A = dict(shape=[4, 5], values=[-1.0, 0.0, 1.0, 2.0, 0.5, -1.0, 2.0, 3.0, 0.0, 1.0])
B = dict(shape=[4, 5], values=[0.0, 0.0, 2.0, 2.0, -0.5, 1.0, 1.0, 3.0, 1.0, 1.0, 5.0])
IA = dict(shape=[4, 5], dtype="int32", range=(-3, 3))
IB = dict(shape=[5], dtype="int32", range=(-3, 3))
BOOL = dict(shape=[4, 5], dtype="bool")

CASES = [
    dict(name="compare_float", covers=["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"],
         description="all six comparisons on floats with ties",
         fn=lambda a, b: (tf.equal(a, b), tf.not_equal(a, b), tf.less(a, b), tf.less_equal(a, b),
                          tf.greater(a, b), tf.greater_equal(a, b)), inputs=[A, B]),
    dict(name="compare_int_broadcast", covers=["Equal", "Less", "GreaterEqual"],
         description="int32 comparisons with a broadcast row",
         fn=lambda a, b: (tf.equal(a, b), tf.less(a, b), tf.greater_equal(a, b)), inputs=[IA, IB]),
    dict(name="logical_ops", covers=["LogicalAnd", "LogicalOr", "LogicalNot"], description="and / or / not",
         fn=lambda a, b: (tf.logical_and(a, b), tf.logical_or(a, b), tf.logical_not(a)), inputs=[BOOL, BOOL]),
    dict(name="where_select", covers=["SelectV2"], description="tf.where(a > b, a, b * 2)",
         fn=lambda a, b: tf.where(a > b, a, b * 2.0), inputs=[dict(shape=[4, 5]), dict(shape=[4, 5])]),
    dict(name="where_broadcast", covers=["SelectV2"], description="tf.where with a broadcast bool column input",
         fn=lambda c, a, b: tf.where(c, a, b),
         inputs=[dict(shape=[4, 1], dtype="bool"), dict(shape=[4, 5]), dict(shape=[5])]),
    dict(name="select_v1", covers=["Select"], description="raw Select (v1 where) with a same-shape condition",
         fn=lambda c, a, b: tf.raw_ops.Select(condition=c, x=a, y=b),
         inputs=[dict(shape=[4, 5], dtype="bool"), dict(shape=[4, 5]), dict(shape=[4, 5])]),
]
