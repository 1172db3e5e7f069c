"""Ops whose output shapes depend on values (tfjs needs executeAsync)."""

import tensorflow as tf

BOXES = dict(shape=[6, 4], values=[0.0, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 1.1, 0.0, -0.1, 1.0, 0.9,
                                   0.0, 10.0, 1.0, 11.0, 0.0, 10.1, 1.0, 11.1, 0.0, 100.0, 1.0, 101.0])
SCORES = dict(shape=[6], values=[0.9, 0.75, 0.6, 0.95, 0.5, 0.3])

CASES = [
    dict(name="nms_v3", covers=["NonMaxSuppressionV3"], description="non_max_suppression max 4, iou 0.5, score 0.4",
         fn=lambda b, s: tf.image.non_max_suppression(b, s, 4, iou_threshold=0.5, score_threshold=0.4),
         inputs=[BOXES, SCORES]),
    dict(name="nms_v5_scores", covers=["NonMaxSuppressionV5"], description="non_max_suppression_with_scores, soft-NMS sigma 0.5",
         fn=lambda b, s: tuple(tf.image.non_max_suppression_with_scores(b, s, 5, iou_threshold=0.6,
                                                                      score_threshold=0.1, soft_nms_sigma=0.5)),
         inputs=[BOXES, SCORES]),
    dict(name="nms_v4_padded", covers=["NonMaxSuppressionV4"], description="raw NonMaxSuppressionV4 padded to 5 (+ valid count)",
         fn=lambda b, s: tuple(tf.raw_ops.NonMaxSuppressionV4(boxes=b, scores=s, max_output_size=5, iou_threshold=0.5,
                                                              score_threshold=0.2, pad_to_max_output_size=True)),
         inputs=[BOXES, SCORES]),
    dict(name="where_bool", covers=["Where"], description="tf.where(bool input) -> int indices",
         fn=lambda m: tf.cast(tf.where(m), tf.int32), inputs=[dict(shape=[3, 4], dtype="bool")]),
    dict(name="where_float", covers=["Where"], description="tf.where(x > 0) coordinates",
         fn=lambda x: tf.cast(tf.where(x > 0.0), tf.int32), inputs=[dict(shape=[2, 3, 2])]),
    dict(name="boolean_mask", covers=["Where", "GatherV2"], description="tf.boolean_mask rows",
         fn=lambda x, m: tf.boolean_mask(x, m), inputs=[dict(shape=[5, 3]), dict(shape=[5], dtype="bool",
                                                                                   values=[True, False, True, True, False])]),
    dict(name="unique", covers=["Unique"], description="tf.unique values + idx",
         fn=lambda x: tuple(tf.unique(x)), inputs=[dict(shape=[10], dtype="int32", range=(0, 5))]),
    dict(name="unique_float", covers=["Unique"], description="tf.unique on floats",
         fn=lambda x: tuple(tf.unique(x)), inputs=[dict(shape=[8], values=[1.5, -2.0, 1.5, 3.0, 0.0, -2.0, 0.0, 7.0])]),
    dict(name="top_k_dynamic", covers=["TopKV2"], description="top_k k=3 values + indices",
         fn=lambda x: tuple(tf.math.top_k(x, 3)), inputs=[dict(shape=[4, 7])]),
    dict(name="nms_v5_hard", covers=["NonMaxSuppressionV5"], description="non_max_suppression_with_scores, sigma 0",
         fn=lambda b, s: tuple(tf.image.non_max_suppression_with_scores(b, s, 3, iou_threshold=0.3)),
         inputs=[BOXES, SCORES]),
    dict(name="top_k_k_input", covers=["TopKV2"], description="top_k with k given as an input",
         fn=lambda x, k: tuple(tf.math.top_k(x, k)),
         inputs=[dict(shape=[3, 6]), dict(shape=[], dtype="int32", values=[4])]),
]
