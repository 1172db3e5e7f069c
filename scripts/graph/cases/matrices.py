"""Matrix ops."""

import tensorflow as tf
from casekit import weights


def W(key, shape):
    return tf.constant(weights("matrices/" + key, shape))


CASES = [
    dict(name="matmul", covers=["MatMul"], description="[3,5] @ [5,4] input x input",
         fn=lambda a, b: tf.matmul(a, b), inputs=[dict(shape=[3, 5]), dict(shape=[5, 4])]),
    dict(name="matmul_transposed", covers=["MatMul"], description="matmul with transpose_a and transpose_b",
         fn=lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
         inputs=[dict(shape=[5, 3]), dict(shape=[4, 5])]),
    dict(name="matmul_bias_relu", covers=["_FusedMatMul"], description="dense: matmul + bias + relu (fused)",
         fn=lambda x: tf.nn.relu(tf.nn.bias_add(tf.matmul(x, W("a", [6, 4])), W("ab", [4]))),
         inputs=[dict(shape=[3, 6])], dynamic_batch=True),
    dict(name="matmul_bias", covers=["_FusedMatMul"], description="matmul + bias (fused)",
         fn=lambda x: tf.matmul(x, W("b", [6, 4])) + W("bb", [4]), inputs=[dict(shape=[3, 6])]),
    dict(name="batch_matmul", covers=["BatchMatMulV2"], description="[2,3,4] @ [2,4,5]",
         fn=lambda a, b: tf.matmul(a, b), inputs=[dict(shape=[2, 3, 4]), dict(shape=[2, 4, 5])]),
    dict(name="batch_matmul_broadcast_adj", covers=["BatchMatMulV2"], description="broadcast batch, adj_y",
         fn=lambda a, b: tf.matmul(a, b, transpose_b=True), inputs=[dict(shape=[2, 3, 4]), dict(shape=[1, 5, 4])]),
    dict(name="einsum", covers=["Einsum"], description="einsum bij,bjk->bik",
         fn=lambda a, b: tf.einsum("bij,bjk->bik", a, b), inputs=[dict(shape=[2, 3, 4]), dict(shape=[2, 4, 5])]),
    dict(name="einsum_outer", covers=["Einsum"], description="einsum i,j->ij",
         fn=lambda a, b: tf.einsum("i,j->ij", a, b), inputs=[dict(shape=[4]), dict(shape=[5])]),
    dict(name="transpose", covers=["Transpose"], description="transpose perm [2,0,1]",
         fn=lambda x: tf.transpose(x, [2, 0, 1]), inputs=[dict(shape=[2, 3, 4])]),
    dict(name="transpose_4d", covers=["Transpose"], description="NHWC->NCHW transpose",
         fn=lambda x: tf.transpose(x, [0, 3, 1, 2]), inputs=[dict(shape=[1, 3, 4, 5])], dynamic_batch=True),
    dict(name="einsum_attention", covers=["Einsum"], description="einsum bhqd,bhkd->bhqk",
         fn=lambda q, k: tf.einsum("bhqd,bhkd->bhqk", q, k), inputs=[dict(shape=[1, 2, 3, 4]), dict(shape=[1, 2, 5, 4])]),
]
