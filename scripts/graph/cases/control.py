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


X = dict(shape=[2, 3], range=(0.5, 1))
V1_GAP = "control flow v1 (Switch/Merge/Enter/Exit/NextIteration/LoopCond) is not implemented yet"
V1_COND = ["Switch", "Merge"]
V1_LOOP = ["Enter", "Exit", "LoopCond", "Merge", "NextIteration", "Switch"]
V2 = dict(control_flow_v2=True)

CASES = [
    dict(name="cond_true", xfail=V1_GAP, covers=V1_COND, description="tf.cond on sum(x) > t, true branch taken (lowered to Switch/Merge)",
         fn=_cond, inputs=[X, dict(shape=[], values=[0.0])]),
    dict(name="cond_false", xfail=V1_GAP, covers=V1_COND, description="tf.cond on sum(x) > t, false branch taken (lowered)",
         fn=_cond, inputs=[X, dict(shape=[], values=[100.0])]),
    dict(name="while_sum", xfail=V1_GAP, covers=V1_LOOP, description="while i < n: acc += x * i (lowered to a v1 loop)",
         fn=_while, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[5])]),
    dict(name="while_fibonacci", xfail=V1_GAP, covers=V1_LOOP, description="fibonacci with a while loop, int32 (lowered)",
         fn=_while_two, inputs=[dict(shape=[], dtype="int32", values=[10])]),
    dict(name="cond_true_v2", covers=["StatelessIf"], description="tf.cond, true branch, control_flow_v2=True",
         fn=_cond, inputs=[X, dict(shape=[], values=[0.0])], converter=V2),
    dict(name="cond_false_v2", covers=["StatelessIf"], description="tf.cond, false branch, control_flow_v2=True",
         fn=_cond, inputs=[X, dict(shape=[], values=[100.0])], converter=V2),
    dict(name="while_sum_v2", covers=["StatelessWhile"], description="while i < n: acc += x * i, control_flow_v2=True",
         fn=_while, inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[5])], converter=V2),
    dict(name="while_fibonacci_v2", covers=["StatelessWhile"], description="fibonacci while loop, control_flow_v2=True",
         fn=_while_two, inputs=[dict(shape=[], dtype="int32", values=[10])], converter=V2),
]
