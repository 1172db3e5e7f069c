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


# --- TF1 graphs (tf1_graph=True): built with control flow v2 off, frozen, convert_tf_frozen_model.
# Object Detection API exports look like this: tf.map_fn and tf.while_loop as v1 frames with
# TensorArrayV3 ops, and grappler-pruned loop variables.

def _nms_padded_v2():
    """TF's non_max_suppression_padded implementation as a plain Python function, so that its
    loops land in the graph (the public op wraps it in a tf.function → PartitionedCall, which
    the converter refuses)."""
    from tensorflow.python.ops import image_ops_impl
    return image_ops_impl.non_max_suppression_padded_v2.python_function


def _tf1_nms_padded(boxes, scores):
    """non_max_suppression_padded: an outer loop over tiles of 32 boxes, inside it a loop over the
    earlier tiles and a self-suppression loop whose loop variable `loop_condition` has no Switch
    (only the LoopCond reads it); iou_threshold is passed straight through."""
    idx, num = _nms_padded_v2()(boxes[None], scores[None], 24, iou_threshold=0.5,
                                score_threshold=0.2, tile_size=32)
    return idx, num


def _tf1_map_fn(boxes, scores):
    """tf.map_fn over 100 boxes with two outputs: TensorArrayV3 Scatter (unstack) / Read inside
    the loop / Write / Gather (stack)."""
    def per_box(elems):
        box, score = elems
        clipped = tf.clip_by_value(box, 0.1, 0.9)
        area = (clipped[2] - clipped[0]) * (clipped[3] - clipped[1])
        return clipped * score, area + score
    return tf.map_fn(per_box, (boxes, scores), fn_output_signature=(tf.float32, tf.float32))


def _tf1_loop_shapes(x, n):
    """One loop with: x read from outside (Enter is_constant), a nested loop reading the outer
    loop's values, a pass-through variable, a LoopCond from two variables, a TensorArray written
    each step, several Exits of which two are unused. (tfjs 4.22 cannot run a nested v1 loop whose
    inner body reads a root-frame tensor through two Enters, nor this loop with a
    TensorArraySizeV3 inside: "Cannot compute the outputs".)"""
    ta = tf.TensorArray(tf.float32, size=n, element_shape=x.shape)

    def cond(i, acc, keep, total, ta):
        return tf.logical_and(i < n, total < 1e6)

    def body(i, acc, keep, total, ta):
        half = keep * 0.5

        def inner(j, a):
            return j + 1, a * 0.5 + half * tf.cast(j + 1, tf.float32)
        _, acc = tf.compat.v1.while_loop(lambda j, a: j <= i, inner, (tf.constant(0), acc))
        step = acc + x * 0.01
        return i + 1, step, keep, total + tf.reduce_sum(tf.abs(step)), ta.write(i, step * keep)

    _, acc, _, total, ta = tf.compat.v1.while_loop(
        cond, body, (tf.constant(0), tf.zeros_like(x), x * 2.0, tf.constant(0.0), ta))
    return acc, total, ta.stack(), ta.size()


def _tf1_loop_in_cond(x, n):
    """A while loop inside the taken branch of one tf.cond and inside the untaken branch of
    another (the untaken one would fail if run: its loop reads a row past the end)."""
    def loop(rows):
        def body(i, acc):
            return i + 1, acc + x[rows[i]]
        return tf.compat.v1.while_loop(lambda i, acc: i < n, body, (tf.constant(0), tf.zeros_like(x[0])))[1]
    s = tf.reduce_sum(x)
    taken = tf.cond(s > -1e9, lambda: loop(tf.range(n) % tf.shape(x)[0]), lambda: x[0] - 1.0)
    untaken = tf.cond(s < -1e9, lambda: loop(tf.range(n) + 100), lambda: x[1] * 3.0)
    return taken, untaken


def _tf1_tensor_array_ops(x):
    """TensorArray unstacked outside the loop (ScatterV3), read and written inside, with a
    dynamic_size array grown by writes; then Gather of some rows, Size, and Concat."""
    rows = tf.shape(x)[0]
    src = tf.TensorArray(tf.float32, size=rows).unstack(x)
    grow = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=x.shape[1:],
                          clear_after_read=False)

    def body(i, grow):
        row = src.read(rows - 1 - i)
        return i + 1, grow.write(i, row * tf.cast(i + 1, tf.float32))
    _, grow = tf.compat.v1.while_loop(lambda i, g: i < rows, body, (tf.constant(0), grow))
    picked = grow.gather([3, 0, 2])
    return picked, grow.size(), grow.concat()


def _tf1_batched_nms(boxes, scores):
    """OD API batch_multiclass_non_max_suppression in miniature: tf.map_fn over the batch, in it
    one padded NMS per class (loops in the map_fn loop), the kept boxes gathered, concatenated
    and sorted by score (top_k), padded to 10."""
    nms = _nms_padded_v2()

    def per_image(elems):
        img_boxes, img_scores = elems
        all_boxes, all_scores, all_classes = [], [], []
        for c in range(2):
            idx, num = nms(img_boxes[None], img_scores[None, :, c], 8, iou_threshold=0.4,
                           score_threshold=0.3, tile_size=16)
            valid = tf.range(8) < num[0]
            all_boxes.append(tf.gather(img_boxes, idx[0]))
            all_scores.append(tf.where(valid, tf.gather(img_scores[:, c], idx[0]), -tf.ones([8])))
            all_classes.append(tf.fill([8], float(c)))
        scores_c = tf.concat(all_scores, 0)
        top, order = tf.nn.top_k(scores_c, 10)
        return (tf.gather(tf.concat(all_boxes, 0), order), top,
                tf.gather(tf.concat(all_classes, 0), order))
    return tf.map_fn(per_image, (boxes, scores), fn_output_signature=(tf.float32, tf.float32, tf.float32))


TF1_LOOP = V1_LOOP
TF1 = dict(tf1_graph=True)
BOXES = dict(shape=[160, 4], range=(0, 1))

CASES += [
    dict(name="tf1_nms_padded", **TF1, covers=TF1_LOOP, fn=_tf1_nms_padded,
         description="TF1 graph: non_max_suppression_padded over 160 boxes, tiles of 32 (nested v1 loops, "
                     "a loop variable without Switch)",
         inputs=[BOXES, dict(shape=[160], range=(0, 1))]),
    dict(name="tf1_map_fn", **TF1, covers=TF1_LOOP + ["TensorArrayV3", "TensorArrayScatterV3",
                                                     "TensorArrayReadV3", "TensorArrayWriteV3",
                                                     "TensorArrayGatherV3"],
         fn=_tf1_map_fn, description="TF1 graph: tf.map_fn over 100 boxes with two outputs (TensorArrayV3)",
         inputs=[dict(shape=[100, 4], range=(0, 1)), dict(shape=[100], range=(0, 1))]),
    dict(name="tf1_loop_shapes", **TF1, covers=TF1_LOOP + ["TensorArrayV3", "TensorArrayWriteV3",
                                                          "TensorArrayGatherV3"],
         fn=_tf1_loop_shapes,
         description="TF1 graph: nested loop reading x via Enter, pass-through variable, LoopCond of two "
                     "variables, TensorArray written each step, unused Exits",
         inputs=[dict(shape=[2, 3]), dict(shape=[], dtype="int32", values=[4])]),
    dict(name="tf1_loop_in_cond", **TF1, covers=TF1_LOOP, fn=_tf1_loop_in_cond,
         description="TF1 graph: while loops inside a taken and an untaken tf.cond branch",
         inputs=[dict(shape=[4, 3]), dict(shape=[], dtype="int32", values=[6])]),
    dict(name="tf1_tensor_array_ops", **TF1, covers=TF1_LOOP + ["TensorArrayV3", "TensorArrayScatterV3",
                                                               "TensorArrayReadV3", "TensorArrayWriteV3",
                                                               "TensorArrayGatherV3", "TensorArraySizeV3",
                                                               "TensorArrayConcatV3"],
         fn=_tf1_tensor_array_ops,
         description="TF1 graph: TensorArray unstacked outside a loop, read inside; a dynamic_size array "
                     "written inside; Gather, Size and Concat after",
         inputs=[dict(shape=[5, 3])]),
    dict(name="tf1_batched_nms", **TF1, covers=TF1_LOOP + ["TensorArrayV3", "TensorArrayScatterV3",
                                                          "TensorArrayReadV3", "TensorArrayWriteV3",
                                                          "TensorArrayGatherV3", "TopKV2"],
         fn=_tf1_batched_nms,
         description="TF1 graph: tf.map_fn over a batch of 2 images, per class a padded NMS (loops inside "
                     "the map_fn loop), results sorted with top_k (OD API post-processing in miniature)",
         inputs=[dict(shape=[2, 64, 4], range=(0, 1)), dict(shape=[2, 64, 2], range=(0, 1))]),
]
