"""Tensor creation ops whose arguments come from inputs (so grappler cannot fold them)."""

import tensorflow as tf

CASES = [
    dict(name="fill_dynamic", covers=["Fill", "Shape"], description="tf.fill(tf.shape(x), 2.5) + x (dynamic batch)",
         fn=lambda x: tf.fill(tf.shape(x), 2.5) + x, inputs=[dict(shape=[3, 4])], dynamic_batch=True),
    dict(name="fill_value_input", covers=["Fill"], description="tf.fill([2, 3], v) with scalar input v",
         fn=lambda v: tf.fill([2, 3], v), inputs=[dict(shape=[], values=[1.75])]),
    dict(name="range_int", covers=["Range"], description="tf.range(start, limit, delta) int32 scalars",
         fn=lambda s, l, d: tf.range(s, l, d),
         inputs=[dict(shape=[], dtype="int32", values=[-3]), dict(shape=[], dtype="int32", values=[10]),
                 dict(shape=[], dtype="int32", values=[3])]),
    dict(name="range_float_negative", covers=["Range"], description="float range with a negative delta",
         fn=lambda s, l, d: tf.range(s, l, d),
         inputs=[dict(shape=[], values=[2.0]), dict(shape=[], values=[-1.0]), dict(shape=[], values=[-0.5])]),
    dict(name="one_hot", covers=["OneHot"], description="one_hot depth 5 on=2 off=-1 (with an out-of-range index)",
         fn=lambda i: tf.one_hot(i, 5, on_value=2.0, off_value=-1.0),
         inputs=[dict(shape=[2, 4], dtype="int32", values=[0, 4, 2, 1, 3, 5, -1, 2])]),
    dict(name="zeros_ones_like", covers=["ZerosLike", "OnesLike"], description="zeros_like/ones_like (dynamic batch)",
         fn=lambda x: (tf.zeros_like(x) + 1.0, tf.ones_like(x) * x), inputs=[dict(shape=[2, 5])], dynamic_batch=True),
    dict(name="linspace", covers=["BroadcastTo", "ConcatV2"],
         description="tf.linspace(start, stop, 7) with scalar inputs (TF2 builds it from elementwise ops)",
         fn=lambda a, b: tf.linspace(a, b, 7), inputs=[dict(shape=[], values=[-1.0]), dict(shape=[], values=[2.5])]),
]
