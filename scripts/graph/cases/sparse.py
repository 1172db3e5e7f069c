"""Sparse ops (tfjs op list ``sparse``) plus SparseToDense (``slice_join``).

The fixture inputs are int32 (the generator's dtypes); ``fn`` casts them to the int64 the TF sparse
kernels need, and the converter / tfjs treat int64 as int32 again.
"""

import tensorflow as tf

from casekit import weights

I64 = tf.int64


def _st(indices, values, dense_shape):
    return tf.SparseTensor(tf.cast(indices, I64), values, tf.cast(dense_shape, I64))


# a [4, 6] sparse matrix with 5 entries, row 1 and row 3 empty
IDX = dict(shape=[5, 2], dtype="int32", values=[0, 1, 0, 4, 2, 0, 2, 3, 2, 5])
VALS = dict(shape=[5], values=[1.5, -2.0, 3.0, 0.25, 7.0])
SHAPE = dict(shape=[2], dtype="int32", values=[4, 6])


def _reshape(i, v, s, new_shape):
    out = tf.sparse.reshape(_st(i, v, s), new_shape)
    return tf.cast(out.indices, tf.int32), out.values, tf.cast(out.dense_shape, tf.int32)


def _fill(i, v, s, default):
    out, empty = tf.sparse.fill_empty_rows(_st(i, v, s), default)
    return tf.cast(out.indices, tf.int32), out.values, tf.cast(empty, tf.int32)


def _fill_raw(i, v, s):
    o_idx, o_val, empty, rev = tf.raw_ops.SparseFillEmptyRows(
        indices=tf.cast(i, I64), values=v, dense_shape=tf.cast(s, I64), default_value=tf.constant(-1.0))
    return tf.cast(o_idx, tf.int32), o_val, tf.cast(empty, tf.int32), tf.cast(rev, tf.int32)


DATA = weights("sparse/data", (6, 3))

CASES = [
    dict(name="sparse_reshape", covers=["SparseReshape"], description="tf.sparse.reshape [4, 6] -> [3, 8]",
         fn=lambda i, v, s: _reshape(i, v, s, [3, 8]), inputs=[IDX, VALS, SHAPE]),
    dict(name="sparse_reshape_infer", covers=["SparseReshape"], description="tf.sparse.reshape [4, 6] -> [2, -1, 3]",
         fn=lambda i, v, s: _reshape(i, v, s, [2, -1, 3]), inputs=[IDX, VALS, SHAPE]),
    dict(name="sparse_reshape_3d_to_2d", covers=["SparseReshape"], description="tf.sparse.reshape [2, 3, 4] -> [6, 4]",
         fn=lambda i, v, s: _reshape(i, v, s, [-1, 4]),
         inputs=[dict(shape=[4, 3], dtype="int32", values=[0, 0, 1, 0, 2, 3, 1, 1, 0, 1, 2, 2]),
                 dict(shape=[4], values=[1.0, 2.0, 3.0, 4.0]),
                 dict(shape=[3], dtype="int32", values=[2, 3, 4])]),
    dict(name="sparse_fill_empty_rows", covers=["SparseFillEmptyRows"],
         description="tf.sparse.fill_empty_rows (rows 1, 3 empty), default 9.5",
         fn=lambda i, v, s: _fill(i, v, s, 9.5), inputs=[IDX, VALS, SHAPE]),
    dict(name="sparse_fill_empty_rows_unordered", covers=["SparseFillEmptyRows"],
         description="raw SparseFillEmptyRows, entries not sorted by row, + reverse_index_map",
         fn=_fill_raw,
         inputs=[dict(shape=[5, 2], dtype="int32", values=[2, 5, 0, 4, 4, 0, 0, 1, 2, 0]),
                 VALS, dict(shape=[2], dtype="int32", values=[6, 6])]),
    dict(name="sparse_fill_empty_rows_int", covers=["SparseFillEmptyRows"],
         description="fill_empty_rows with int32 values, default 0",
         fn=lambda i, v, s: _fill(i, v, s, 0),
         inputs=[IDX, dict(shape=[5], dtype="int32", values=[3, 1, 4, 1, 5]), SHAPE]),
    dict(name="sparse_segment_sum", covers=["SparseSegmentSum"],
         description="tf.sparse.segment_sum(data, indices, segment_ids), a skipped segment",
         fn=lambda d, i, s: tf.sparse.segment_sum(d, i, s),
         inputs=[dict(shape=[6, 3]), dict(shape=[5], dtype="int32", values=[0, 2, 2, 5, 1]),
                 dict(shape=[5], dtype="int32", values=[0, 0, 1, 3, 3])]),
    dict(name="sparse_segment_mean", covers=["SparseSegmentMean"],
         description="tf.sparse.segment_mean(data, indices, segment_ids), a skipped segment",
         fn=lambda d, i, s: tf.sparse.segment_mean(d, i, s),
         inputs=[dict(shape=[6, 3]), dict(shape=[6], dtype="int32", values=[0, 2, 2, 5, 1, 4]),
                 dict(shape=[6], dtype="int32", values=[0, 0, 0, 2, 3, 3])]),
    dict(name="sparse_segment_mean_const", covers=["SparseSegmentMean"],
         description="segment_mean over constant data (embedding-bag style), ids as input",
         fn=lambda i, s: tf.sparse.segment_mean(tf.constant(DATA), i, s),
         inputs=[dict(shape=[4], dtype="int32", values=[5, 0, 3, 3]),
                 dict(shape=[4], dtype="int32", values=[0, 1, 1, 1])]),
    dict(name="sparse_segment_sum_1d", covers=["SparseSegmentSum"],
         description="segment_sum on 1-D data",
         fn=lambda d, i, s: tf.sparse.segment_sum(d, i, s),
         inputs=[dict(shape=[7]), dict(shape=[7], dtype="int32", values=[6, 5, 4, 3, 2, 1, 0]),
                 dict(shape=[7], dtype="int32", values=[0, 1, 1, 2, 2, 2, 4])]),
    dict(name="sparse_to_dense_raw", covers=["SparseToDense"],
         description="raw SparseToDense, 2-D indices, default -1",
         fn=lambda i, v: tf.raw_ops.SparseToDense(sparse_indices=i, output_shape=tf.constant([3, 5]),
                                                  sparse_values=v, default_value=tf.constant(-1.0)),
         inputs=[dict(shape=[4, 2], dtype="int32", values=[0, 0, 0, 4, 1, 2, 2, 3]),
                 dict(shape=[4], values=[1.0, 2.0, 3.0, 4.0])]),
    dict(name="sparse_to_dense_1d_scalar", covers=["SparseToDense"],
         description="raw SparseToDense, 1-D indices, scalar value broadcast",
         fn=lambda i: tf.raw_ops.SparseToDense(sparse_indices=i, output_shape=tf.constant([8]),
                                               sparse_values=tf.constant(5), default_value=tf.constant(0)),
         inputs=[dict(shape=[3], dtype="int32", values=[1, 4, 6])]),
    dict(name="sparse_tensor_to_dense", covers=["SparseToDense"],
         description="tf.sparse.to_dense of a SparseTensor built from input indices/values, constant shape",
         fn=lambda i, v: tf.sparse.to_dense(_st(i, v, tf.constant([4, 6])), default_value=0.5),
         inputs=[IDX, VALS]),
    dict(name="sparse_to_dense_shape_input", covers=["SparseToDense"],
         description="raw SparseToDense whose output_shape is a model input (read at run time)",
         fn=lambda i, v, shape: tf.raw_ops.SparseToDense(sparse_indices=i, output_shape=shape,
                                                         sparse_values=v, default_value=tf.constant(0.25)),
         inputs=[dict(shape=[4, 2], dtype="int32", values=[0, 0, 0, 4, 1, 2, 2, 3]),
                 dict(shape=[4], values=[1.0, 2.0, 3.0, 4.0]), dict(shape=[2], dtype="int32", values=[3, 5])]),
]
