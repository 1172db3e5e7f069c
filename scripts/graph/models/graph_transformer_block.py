"""A small transformer encoder block written with TF ops (family "models"): seq 6, dim 8, 2 heads.

Q/K/V/output projections are MatMul + bias on the flattened tokens, attention scores a BatchMatMul
(tf.matmul with transpose_b), the weighted sum an einsum, LayerNorm is tf mean/variance + rsqrt,
the FFN uses GELU (tanh approximation); two residual connections (post-norm)."""

import math

import tensorflow as tf
from casekit import weights

SEQ, DIM, HEADS, FFN = 6, 8, 2, 16
HEAD = DIM // HEADS


def _w(key, shape, scale=0.5):
    return tf.constant(weights(f"models/graph_transformer_block/{key}", shape, scale=scale))


W = {k: _w(k, s) for k, s in [("wq", [DIM, DIM]), ("wk", [DIM, DIM]), ("wv", [DIM, DIM]), ("wo", [DIM, DIM]),
                             ("w1", [DIM, FFN]), ("w2", [FFN, DIM])]}
B = {k: _w(k, s, 0.1) for k, s in [("bq", [DIM]), ("bk", [DIM]), ("bv", [DIM]), ("bo", [DIM]),
                                  ("b1", [FFN]), ("b2", [DIM])]}
LN = {"g1": tf.constant(weights("models/graph_transformer_block/g1", [DIM], lo=0.8, hi=1.2)),
      "b1": _w("ln_b1", [DIM], 0.1),
      "g2": tf.constant(weights("models/graph_transformer_block/g2", [DIM], lo=0.8, hi=1.2)),
      "b2": _w("ln_b2", [DIM], 0.1)}


def _dense(x2d, w, b):
    return tf.matmul(x2d, w) + b


def _layer_norm(x, gamma, beta, eps=1e-5):
    mean = tf.reduce_mean(x, axis=-1, keepdims=True)
    var = tf.math.reduce_variance(x, axis=-1, keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + eps) * gamma + beta


def _heads(t, batch):
    return tf.transpose(tf.reshape(t, [batch, SEQ, HEADS, HEAD]), [0, 2, 1, 3])   # [b, h, s, d]


def block(x):
    batch = x.shape[0]
    flat = tf.reshape(x, [batch * SEQ, DIM])
    q = _heads(_dense(flat, W["wq"], B["bq"]), batch)
    k = _heads(_dense(flat, W["wk"], B["bk"]), batch)
    v = _heads(_dense(flat, W["wv"], B["bv"]), batch)
    scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(HEAD))        # BatchMatMulV2
    attn = tf.nn.softmax(scores, axis=-1)
    ctx = tf.einsum("bhqk,bhkd->bqhd", attn, v)                                 # Einsum
    ctx = tf.reshape(ctx, [batch * SEQ, DIM])
    h = _layer_norm(flat + _dense(ctx, W["wo"], B["bo"]), LN["g1"], LN["b1"])
    ffn = _dense(tf.nn.gelu(_dense(h, W["w1"], B["b1"]), approximate=True), W["w2"], B["b2"])
    out = _layer_norm(h + ffn, LN["g2"], LN["b2"])
    return tf.reshape(out, [batch, SEQ, DIM])


CASES = [
    dict(name="graph_transformer_block", covers=["BatchMatMulV2", "Einsum", "Softmax", "Rsqrt", "Mean", "Tanh"],
         description="transformer encoder block with tf ops: seq 6, dim 8, 2 heads, MatMul projections, "
                     "BatchMatMul scores, softmax, einsum context, LayerNorm (mean/variance/rsqrt), "
                     "GELU-tanh FFN, residuals",
         fn=block, inputs=[dict(shape=[2, SEQ, DIM])]),
]
