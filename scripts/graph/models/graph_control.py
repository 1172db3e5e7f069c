"""A small model with an input-dependent tf.while_loop and tf.cond (family "models"), converted
with the default lowering to v1 control flow (Switch/Merge/Enter/Exit/NextIteration/LoopCond) and
with control_flow_v2=True (StatelessWhile/StatelessIf)."""

import tensorflow as tf
from casekit import weights

W = tf.constant(weights("models/graph_control/w", [4, 4]))
B = tf.constant(weights("models/graph_control/b", [4], scale=0.1))


def model(x, n):
    h = tf.matmul(x, W) + B

    def body(i, acc):
        return i + 1, tf.tanh(tf.matmul(acc, W) + h)

    _, h = tf.while_loop(lambda i, acc: i < n, body, (tf.constant(0), h))          # n iterations
    return tf.cond(tf.reduce_sum(h) > 0.0, lambda: h * 2.0 + 1.0, lambda: tf.nn.relu(-h) - 1.0)


INPUTS = [dict(shape=[2, 4]), dict(shape=[], dtype="int32", values=[3])]
DESCRIPTION = ("dense layer, then h = tanh(h @ W + x @ W + b) repeated n times (tf.while_loop, n an input), "
               "then tf.cond on sum(h) > 0")

CASES = [
    dict(name="graph_control_v1", fn=model, inputs=INPUTS,
         covers=["Enter", "Exit", "LoopCond", "Merge", "NextIteration", "Switch"],
         description=DESCRIPTION + "; default conversion (lowered to v1 control flow)"),
    dict(name="graph_control_v2", fn=model, inputs=INPUTS, covers=["StatelessWhile", "StatelessIf"],
         description=DESCRIPTION + "; control_flow_v2=True", converter=dict(control_flow_v2=True)),
]
