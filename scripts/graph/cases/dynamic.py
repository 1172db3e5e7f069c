"""Ops whose output shapes depend on values (tfjs needs executeAsync)."""

import tensorflow as tf

BOXES = dict(shape=[6, 4], values=[0.0, 0.0, 1.0, 1.0, 0.0, 0.1, 1.0, 1.1, 0.0, -0.1, 1.0, 0.9,
                                   0.0, 10.0, 1.0, 11.0, 0.0, 10.1, 1.0, 11.1, 0.0, 100.0, 1.0, 101.0])
SCORES = dict(shape=[6], values=[0.9, 0.75, 0.6, 0.95, 0.5, 0.3])



def _soft_nms(b, s):
    idx, scores, _ = tf.raw_ops.NonMaxSuppressionV5(boxes=b, scores=s, max_output_size=6, iou_threshold=1.0,
                                                    score_threshold=0.05, soft_nms_sigma=0.8,
                                                    pad_to_max_output_size=False)
    return idx, scores, tf.size(idx)


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
    dict(name="nms_v2", covers=["NonMaxSuppressionV2"], description="raw NonMaxSuppressionV2 max 4, iou 0.5 (no score threshold)",
         fn=lambda b, s: tf.raw_ops.NonMaxSuppressionV2(boxes=b, scores=s, max_output_size=4, iou_threshold=0.5),
         inputs=[BOXES, SCORES]),
    dict(name="nms_v5_soft_raw", covers=["NonMaxSuppressionV5"],
         description="raw NonMaxSuppressionV5 soft-NMS sigma 0.8, iou 1.0: indices, decayed scores, count",
         fn=lambda b, s: _soft_nms(b, s),
         inputs=[dict(shape=[6, 4], values=[0.0, 0.0, 1.0, 1.0, 0.0, 0.2, 1.0, 1.2, 0.1, 0.0, 1.1, 1.0,
                                            0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 3.0, 3.0, 2.0, 2.1, 3.0, 3.1]),
                 dict(shape=[6], values=[0.9, 0.85, 0.8, 0.7, 0.6, 0.55])],
         notes="tfjs's NonMaxSuppressionV5 returns only selected_indices and selected_scores (no "
               "valid_outputs, pad_to_max_output_size ignored), so the count is tf.size(indices)"),
    dict(name="nms_score_threshold", covers=["NonMaxSuppressionV3"],
         description="non_max_suppression, score threshold 0.7 filters half the boxes before IoU",
         fn=lambda b, s: tf.image.non_max_suppression(b, s, 6, iou_threshold=0.9, score_threshold=0.7),
         inputs=[BOXES, SCORES]),
    dict(name="nms_ties", covers=["NonMaxSuppressionV3"],
         description="non_max_suppression with tied scores (the lower index first among ties, like TF)",
         fn=lambda b, s: tf.image.non_max_suppression(b, s, 5, iou_threshold=0.5, score_threshold=0.0),
         inputs=[dict(shape=[6, 4], values=[0.0, 0.0, 1.0, 1.0, 0.0, 0.05, 1.0, 1.05, 5.0, 5.0, 6.0, 6.0,
                                            5.0, 5.1, 6.0, 6.1, 9.0, 9.0, 10.0, 10.0, 20.0, 20.0, 21.0, 21.0]),
                 dict(shape=[6], values=[0.8, 0.8, 0.5, 0.5, 0.8, 0.5])]),
    dict(name="unique_int_negative", covers=["Unique"], description="tf.unique on int32 with negatives, first-seen order",
         fn=lambda x: tuple(tf.unique(x)),
         inputs=[dict(shape=[9], dtype="int32", values=[-3, 7, -3, 0, 7, 7, 2, -1, 0])]),
    dict(name="dense_bincount", covers=["DenseBincount"], description="raw DenseBincount size 6 (values >= 6 dropped)",
         fn=lambda x: tf.raw_ops.DenseBincount(input=x, size=6, weights=tf.constant([], tf.int32)),
         inputs=[dict(shape=[12], dtype="int32", range=(0, 8))]),
    dict(name="dense_bincount_weights", covers=["DenseBincount"], description="raw DenseBincount size 5 with float weights",
         fn=lambda x, w: tf.raw_ops.DenseBincount(input=x, size=5, weights=w),
         inputs=[dict(shape=[10], dtype="int32", range=(0, 5)), dict(shape=[10])]),
    dict(name="bincount_raw", covers=["Bincount"], description="raw Bincount size 5 with float weights",
         fn=lambda x, w: tf.raw_ops.Bincount(arr=x, size=5, weights=w),
         inputs=[dict(shape=[10], dtype="int32", range=(0, 6)), dict(shape=[10])]),
    dict(name="math_bincount", covers=["DenseBincount"],
         description="tf.math.bincount: the size is computed from the data (max + 1) at run time",
         fn=lambda x: tf.math.bincount(x),
         inputs=[dict(shape=[12], dtype="int32", range=(0, 7))]),
]
