"""Reductions, arg-reductions and scans."""

import tensorflow as tf

X = dict(shape=[3, 4, 5])
TIES = dict(shape=[3, 4], values=[1.0, 3.0, 3.0, 0.0, -1.0, -1.0, 2.0, 2.0, 5.0, 4.0, 5.0, 5.0])

CASES = [
    dict(name="sum_mean", covers=["Sum", "Mean"], description="sum over axis 1, mean over [0,2] keepdims",
         fn=lambda x: (tf.reduce_sum(x, 1), tf.reduce_mean(x, [0, 2], keepdims=True)), inputs=[X]),
    dict(name="max_min_prod", covers=["Max", "Min", "Prod"], description="max/min/prod over the last axis",
         fn=lambda x: (tf.reduce_max(x, -1), tf.reduce_min(x, -1), tf.reduce_prod(x, -1)),
         inputs=[dict(shape=[3, 4, 5], range=(0.5, 1.5))]),
    dict(name="sum_all_int", covers=["Sum"], description="int32 sum over all axes",
         fn=lambda x: tf.reduce_sum(x), inputs=[dict(shape=[3, 4], dtype="int32", range=(-5, 5))]),
    dict(name="sum_axis_input", covers=["Sum"], description="sum over an axis given as an input",
         fn=lambda x, a: tf.reduce_sum(x, a), inputs=[X, dict(shape=[], dtype="int32", values=[-1])]),
    dict(name="argmax_argmin", covers=["ArgMax", "ArgMin"], description="argmax/argmin with ties (first index wins)",
         fn=lambda x: (tf.argmax(x, 1, output_type=tf.int32), tf.argmin(x, 0, output_type=tf.int32)),
         inputs=[TIES]),
    dict(name="all_any", covers=["All", "Any"], description="reduce_all / reduce_any",
         fn=lambda x: (tf.reduce_all(x, 1), tf.reduce_any(x, 0)), inputs=[dict(shape=[4, 3], dtype="bool")]),
    dict(name="cumsum", covers=["Cumsum"], description="cumsum axis 1",
         fn=lambda x: tf.cumsum(x, 1), inputs=[X]),
    dict(name="cumsum_exclusive_reverse", covers=["Cumsum"], description="cumsum exclusive + reverse",
         fn=lambda x: (tf.cumsum(x, 2, exclusive=True), tf.cumsum(x, 0, reverse=True),
                       tf.cumsum(x, 1, exclusive=True, reverse=True)), inputs=[X]),
    dict(name="cumprod", covers=["Cumprod"], description="cumprod axis 0",
         fn=lambda x: tf.math.cumprod(x, 0), inputs=[dict(shape=[4, 3], range=(0.5, 1.5))]),
    dict(name="euclidean_norm", covers=["EuclideanNorm"], description="tf.norm over axis 1 (EuclideanNorm)",
         fn=lambda x: tf.raw_ops.EuclideanNorm(input=x, axis=[1]), inputs=[X]),
    dict(name="mean_negative_axes", covers=["Mean"], description="mean over [-1, -3] keepdims",
         fn=lambda x: tf.reduce_mean(x, [-1, -3], keepdims=True), inputs=[X]),
    dict(name="argmax_negative_axis", covers=["ArgMax"], description="argmax axis -1 (int64 cast to int32)",
         fn=lambda x: tf.cast(tf.argmax(x, -1), tf.int32), inputs=[X]),
]
