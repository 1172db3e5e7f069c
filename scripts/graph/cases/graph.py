"""Graph ops (tfjs op list ``graph``) that TF functions produce: Identity, IdentityN,
Snapshot, NoOp (control deps), PlaceholderWithDefault, Print.

Not reachable: StopGradient (grappler's model pruner always removes it), tf.print (PrintV2 +
StringFormat, refused by the converter), tf.debugging.Assert (refused; with strip_debug_ops it is
stripped, leaving only the Switch/Merge around it).
"""

import tensorflow as tf


def _identity_n(a, b):
    # grappler drops an IdentityN unless it drives a control dependency
    x, y = tf.identity_n([a * 2.0, b + 1])
    with tf.control_dependencies([x]):
        return x + 1.0, tf.identity(y) * 3


def _control_deps(x):
    # tf.group of 3+ tensors stays a NoOp with control inputs (grappler folds smaller ones away)
    a, b, c = x * 2.0, x + 1.0, x - 3.0
    with tf.control_dependencies([tf.group(a, b, c)]):
        return tf.identity(a) + tf.identity(b), c * 2.0, a * b


def _placeholder_default(x):
    p = tf.compat.v1.placeholder_with_default(x * 2.0, shape=[2, 3])
    return p + 1.0


def _print(x):
    return tf.compat.v1.Print(x * 2.0, [x, tf.reduce_sum(x)], message="value: ") + 1.0


CASES = [
    dict(name="identity", covers=["Identity"], description="tf.identity chain around a Mul",
         fn=lambda x: tf.identity(tf.identity(x) * 2.0), inputs=[dict(shape=[2, 3])]),
    dict(name="identity_int", covers=["Identity"], description="tf.identity of an int input passed through",
         fn=lambda x: (tf.identity(x), tf.identity(x + 1)), inputs=[dict(shape=[4], dtype="int32")]),
    dict(name="identity_n", covers=["IdentityN"], description="tf.identity_n over float + int tensors",
         fn=_identity_n, inputs=[dict(shape=[2, 3]), dict(shape=[3], dtype="int32")]),
    dict(name="snapshot", covers=["Snapshot"], description="tf.raw_ops.Snapshot",
         fn=lambda x: tf.raw_ops.Snapshot(input=x * 2.0) - 1.0, inputs=[dict(shape=[5])]),
    dict(name="noop_control_deps", covers=["NoOp"], description="tf.group(a, b, c) as a control dependency",
         fn=_control_deps, inputs=[dict(shape=[2, 2])]),
    dict(name="placeholder_with_default", covers=["PlaceholderWithDefault"],
         description="tf.compat.v1.placeholder_with_default inside the function (unfed: its default)",
         fn=_placeholder_default, inputs=[dict(shape=[2, 3])]),
    dict(name="print", covers=["Print"], description="tf.compat.v1.Print (the Print op; tfjs logs it)",
         fn=_print, inputs=[dict(shape=[3])]),
    dict(name="structured_outputs", covers=["Identity"],
         description="a tf.function returning a dict, converted with use_structured_outputs_names "
                     "(userDefinedMetadata.structuredOutputKeys)",
         fn=lambda x: {"zeta": x * 2.0, "alpha": tf.reduce_sum(x, axis=1), "mid": x + 1.0},
         inputs=[dict(shape=[2, 3])], converter=dict(use_structured_outputs_names=True),
         notes="tfjs 4.22 predict pairs structuredOutputKeys with outputs by signature position "
               "and mislabels them; torch_tfjs pairs them as TF does (tests/graph/test_importer.py)"),
]
