"""Normalisation and softmax."""

import tensorflow as tf
from casekit import weights


def W(key, shape, **kw):
    return tf.constant(weights("normalization/" + key, shape, **kw))


X = dict(shape=[2, 3, 3, 4])

CASES = [
    dict(name="batch_normalization", covers=["Mul", "AddV2"],
         description="tf.nn.batch_normalization with constant stats (folded to x * scale + offset)",
         fn=lambda x: tf.nn.batch_normalization(x, W("m", [4]), W("v", [4], lo=0.5, hi=1.5), W("o", [4]),
                                                W("s", [4]), 1e-3),
         inputs=[X], dynamic_batch=True),
    dict(name="fused_batch_norm_inference", covers=["Mul", "Add"],
         description="fused_batch_norm is_training=False without a conv before it (converter folds it to Mul + Add)",
         fn=lambda x: tf.compat.v1.nn.fused_batch_norm(x, W("g", [4]), W("b", [4]), W("m2", [4]),
                                                       W("v2", [4], lo=0.5, hi=1.5), epsilon=1e-3,
                                                       is_training=False)[0],
         inputs=[X]),
    dict(name="conv_fused_batch_norm", covers=["_FusedConv2D"],
         description="conv2d + fused_batch_norm(inference) + relu: the converter folds BN into the conv",
         fn=lambda x: tf.nn.relu(tf.compat.v1.nn.fused_batch_norm(
             tf.nn.conv2d(x, W("cw", [3, 3, 4, 3]), 1, "SAME"), W("g3", [3], lo=0.5, hi=1.5), W("b3", [3]),
             W("m3", [3]), W("v3", [3], lo=0.5, hi=1.5), epsilon=1e-3, is_training=False)[0]),
         inputs=[X]),
    dict(name="lrn", covers=["LRN"], description="local_response_normalization radius 2",
         fn=lambda x: tf.nn.local_response_normalization(x, depth_radius=2, bias=1.0, alpha=0.5, beta=0.75),
         inputs=[dict(shape=[1, 2, 2, 7])]),
    dict(name="softmax", covers=["Softmax"], description="softmax on the last axis",
         fn=tf.nn.softmax, inputs=[dict(shape=[3, 6], range=(-5, 5))]),
    dict(name="log_softmax", covers=["LogSoftmax"], description="log_softmax on the last axis",
         fn=tf.nn.log_softmax, inputs=[dict(shape=[3, 6], range=(-5, 5))]),
    dict(name="softmax_axis1", covers=["Softmax"], description="softmax over axis 1 (transposes around Softmax)",
         fn=lambda x: tf.nn.softmax(x, axis=1), inputs=[dict(shape=[2, 4, 3])]),
    dict(name="l2_normalize", covers=["Rsqrt"], description="tf.math.l2_normalize axis -1",
         fn=lambda x: tf.math.l2_normalize(x, axis=-1), inputs=[dict(shape=[3, 5])]),
    dict(name="softmax_dynamic_batch", covers=["Softmax"], description="softmax with a None batch",
         fn=tf.nn.softmax, inputs=[dict(shape=[2, 3, 5], range=(-3, 3))], dynamic_batch=True),
]
