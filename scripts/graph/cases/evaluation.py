"""Evaluation ops."""

import tensorflow as tf

CASES = [
    dict(name="top_k", covers=["TopKV2"], description="top_k k=2 sorted on the last axis",
         fn=lambda x: tuple(tf.math.top_k(x, 2)), inputs=[dict(shape=[2, 3, 6])]),
    dict(name="top_k_ties", covers=["TopKV2"], description="top_k with ties (lower index first)",
         fn=lambda x: tuple(tf.math.top_k(x, 3)),
         inputs=[dict(shape=[2, 5], values=[1.0, 2.0, 2.0, 0.0, 2.0, 3.0, 3.0, -1.0, 3.0, 0.0])]),
]
