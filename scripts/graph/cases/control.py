"""Control flow. By default the converter lowers TF2 control flow to v1 dataflow ops
(Switch/Merge/Enter/Exit/NextIteration/LoopCond); the *_v2 cases keep StatelessIf/StatelessWhile
with library functions (convert_tf_saved_model(control_flow_v2=True))."""

import tensorflow as tf


def _cond(x, t):
    return tf.cond(tf.reduce_sum(x) > t, lambda: x * 2.0 + 1.0, lambda: tf.abs(x) - 3.0)


def _while(x, n):
    i0 = tf.constant(0)

    def body(i, acc):
        return i + 1, acc + x * tf.cast(i, tf.float32)

    return tf.while_loop(lambda i, acc: i < n, body, (i0, tf.zeros_like(x)))[1]


def _while_two(n):
    def body(i, a, b):
        return i + 1, b, a + b
    _, a, b = tf.while_loop(lambda i, a, b: i < n, body, (tf.constant(0), tf.constant(0), tf.constant(1)))
    return a, b


def _nested(x, n):
    """A while loop inside a while loop."""
    def outer(i, acc):
        def inner(j, a):
            return j + 1, a + x * tf.cast(i * j, tf.float32)
        _, acc = tf.while_loop(lambda j, a: j < i, inner, (tf.constant(0), acc))
        return i + 1, acc
    return tf.while_loop(lambda i, acc: i < n, outer, (tf.constant(0), tf.zeros_like(x)))[1]


def _cond_in_loop(x, n):
    """A tf.cond on the loop counter inside the loop body."""
    def body(i, acc):
        step = tf.cond(i % 2 == 0, lambda: acc * 0.5 + x, lambda: acc - x * 0.25)
        return i + 1, step
    return tf.while_loop(lambda i, acc: i < n, body, (tf.constant(0), tf.zeros_like(x)))[1]


def _tensor_array(x):
    """Rows written one by one into a TensorArray in a loop, then stacked (TensorArrayV3 ops)."""
    rows = tf.shape(x)[0]
    ta = tf.TensorArray(tf.float32, size=rows)

    def body(i, ta):
        return i + 1, ta.write(i, tf.reduce_sum(x[i]) * tf.cast(i + 1, tf.float32) + x[i])
    _, ta = tf.while_loop(lambda i, ta: i < rows, body, (tf.constant(0), ta))
    return ta.stack()


def _cond_constant_branches(x, t):
    """Branches that return constants: tied to the Switch only by control edges."""
    return tf.cond(tf.reduce_sum(x) > t, lambda: tf.constant([1.0, 2.0]), lambda: tf.constant([3.0, 4.0]))


X = dict(shape=[2, 3], range=(0.5, 1))
V1_COND = ["Switch", "Merge"]
V1_LOOP = ["Enter", "Exit", "LoopCond", "Merge", "NextIteration", "Switch"]
V2 = dict(control_flow_v2=True)

CASES = [
    dict(name="cond_true", covers=V1_COND, description="tf.cond on sum(x) > t, true branch taken (lowered to Switch/Merge)",
         fn=_cond, inputs=[X, dict(shape=[], values=[0.0])]),
    dict(name="cond_false", covers=V1_COND, description="tf.cond on sum(x) > t, false branch taken (lowered)",
         fn=_cond, inputs=[X, dict(shape=[], values=[100.0])]),
    dict(name="while_sum", covers=V1_LOOP, description="while i < n: acc += x * i (lowered to a v1 loop)",
         fn=_while, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[5])]),
    dict(name="while_fibonacci", covers=V1_LOOP, description="fibonacci with a while loop, int32 (lowered)",
         fn=_while_two, inputs=[dict(shape=[], dtype="int32", values=[10])]),
    dict(name="while_nested", covers=V1_LOOP, description="a while loop nested in a while loop (lowered)",
         fn=_nested, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[4])]),
    dict(name="cond_in_loop", covers=V1_LOOP, description="tf.cond inside a while loop body (lowered)",
         fn=_cond_in_loop, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[5])]),
    dict(name="tensor_array_loop", covers=V1_LOOP + ["TensorListReserve", "TensorListSetItem", "TensorListStack"],
         description="TensorArray written in a while loop then stacked (TF2 lowers it to TensorList ops)",
         fn=_tensor_array, inputs=[dict(shape=[4, 3])]),
    dict(name="cond_constant_branches_true", covers=V1_COND, description="tf.cond whose branches are constants, true",
         fn=_cond_constant_branches, inputs=[X, dict(shape=[], values=[0.0])]),
    dict(name="cond_constant_branches_false", covers=V1_COND, description="tf.cond whose branches are constants, false",
         fn=_cond_constant_branches, inputs=[X, dict(shape=[], values=[100.0])]),
    dict(name="cond_true_v2", covers=["StatelessIf"], description="tf.cond, true branch, control_flow_v2=True",
         fn=_cond, inputs=[X, dict(shape=[], values=[0.0])], converter=V2),
    dict(name="cond_false_v2", covers=["StatelessIf"], description="tf.cond, false branch, control_flow_v2=True",
         fn=_cond, inputs=[X, dict(shape=[], values=[100.0])], converter=V2),
    dict(name="while_sum_v2", covers=["StatelessWhile"], description="while i < n: acc += x * i, control_flow_v2=True",
         fn=_while, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[5])], converter=V2),
    dict(name="while_fibonacci_v2", covers=["StatelessWhile"], description="fibonacci while loop, control_flow_v2=True",
         fn=_while_two, inputs=[dict(shape=[], dtype="int32", values=[10])], converter=V2),
]
