"""Fixtures converted by the Python ``tensorflowjs`` converter from real Keras models.

Run with the TensorFlow environment (see scripts/README.md, "Keras-converted fixtures"):

    scripts/.tfenv/bin/python scripts/keras/make_keras_fixtures.py              # every case
    scripts/.tfenv/bin/python scripts/keras/make_keras_fixtures.py --case keras2_cnn

Each case lands in ``tests/fixtures/keras/<name>/``: the converted artifact (model.json + shards as
the converter names them), ``input_<i>.npy``, ``output_<i>.npy`` (Keras's own outputs, float32,
inference mode) and ``case.json``. Quantized cases also hold ``expected_weights.npz`` (every weight
as tfjs decodes it) and their reference outputs come from the Keras model with those dequantized
weights loaded back, so the default tolerance applies and the decoding is checked exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import types
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402  (Keras 2)
import keras  # noqa: E402  (Keras 3, what tf.keras is in TF >= 2.16)

# ``import tensorflowjs`` imports converters we never use here, whose dependencies are not
# installed: tensorflow_decision_forests (tf_saved_model_conversion_v2) and jax (jax_conversion).
# Install empty stand-ins for exactly those modules so the import succeeds; real ones win when
# installed. Keras is imported first (above) so that its own optional-jax probes see no stub.
for _name in ("tensorflow_decision_forests", "jax", "jax.experimental", "jax.experimental.jax2tf"):
    if _name in sys.modules:
        continue
    try:
        __import__(_name)
    except Exception:
        sys.modules[_name] = types.ModuleType(_name)
if not hasattr(sys.modules["jax"], "experimental"):
    sys.modules["jax"].experimental = sys.modules["jax.experimental"]  # type: ignore[attr-defined]
if not hasattr(sys.modules["jax.experimental"], "jax2tf"):
    sys.modules["jax.experimental"].jax2tf = sys.modules["jax.experimental.jax2tf"]  # type: ignore[attr-defined]

import tensorflowjs  # noqa: E402
from tensorflowjs.converters import converter as tfjs_converter  # noqa: E402
from tensorflowjs.converters import keras_h5_conversion  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "keras"

TFJS_VERSION = tensorflowjs.__version__
KERAS2_VERSION = tf_keras.__version__
KERAS3_VERSION = keras.__version__


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def weight_path(w) -> str:
    return str(getattr(w, "path", None) or w.name)


def randomize_weights(model, rng: np.random.Generator) -> None:
    """Seeded N(0, 0.3) weights; BatchNorm gammas around 1 and variances positive."""
    values = []
    for w in model.weights:
        name = weight_path(w)
        shape = tuple(int(d) for d in w.shape)
        if "moving_variance" in name:
            v = rng.uniform(0.5, 1.5, size=shape)
        elif "gamma" in name:
            v = 1.0 + rng.normal(0.0, 0.3, size=shape)
        else:
            v = rng.normal(0.0, 0.3, size=shape)
        values.append(v.astype(np.float32))
    model.set_weights(values)


def tensor_layer_name(t) -> str:
    return t._keras_history[0].name


def run_keras(model, inputs: List[np.ndarray], training: bool = False) -> List[np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=training)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o).astype(np.float32) for o in outs]


# ----------------------------------------------------------------------------------- models


def _cnn(K, name):
    """The CNN both Keras versions build (CNN_DESC)."""
    inp = K.Input(shape=(16, 16, 3), name="image")
    x = K.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv_in")(inp)
    x = K.layers.BatchNormalization(name="bn")(x)
    d = K.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    d = K.layers.Conv2D(16, 3, strides=2, padding="same", name="conv_s2")(d)
    s = K.layers.Conv2D(16, 1, strides=2, name="shortcut")(x)
    y = K.layers.Add(name="add")([d, s])
    y = K.layers.GlobalAveragePooling2D(name="gap")(y)
    out = K.layers.Dense(4, activation="softmax", name="probs")(y)
    return K.Model(inp, out, name=name)


def keras2_cnn():
    return _cnn(tf_keras, "keras2_cnn")


def keras2_text():
    K = tf_keras
    return K.Sequential([
        K.Input(shape=(7,), dtype="int32", name="tokens"),
        K.layers.Embedding(12, 6, mask_zero=True, name="embed"),
        K.layers.Bidirectional(K.layers.LSTM(5, return_sequences=True), name="bilstm"),
        K.layers.GRU(4, name="gru"),  # reset_after=True is the Keras 2 default
        K.layers.Dense(3, name="logits"),
    ], name="keras2_text")


def keras2_mixed():
    K = tf_keras
    seq = K.Input(shape=(8, 4), name="seq")
    vec = K.Input(shape=(5,), name="vec")
    s = K.layers.UpSampling1D(2, name="up")(seq)
    s = K.layers.ZeroPadding1D(1, name="pad")(s)
    s = K.layers.Cropping1D((2, 1), name="crop")(s)
    s = K.layers.Flatten(name="flat")(s)
    v = K.layers.Dense(6, activation="tanh", name="vec_dense")(vec)
    h = K.layers.Concatenate(name="concat")([s, v])
    h = K.layers.Dense(8, activation="relu", name="hidden")(h)
    h = K.layers.Dropout(0.3, name="drop")(h)
    h = K.layers.LayerNormalization(name="ln")(h)
    out_a = K.layers.Dense(3, name="out_a")(h)
    gate = K.layers.Dense(8, activation="sigmoid", name="gate")(vec)
    m = K.layers.Multiply(name="mul")([h, gate])
    out_b = K.layers.Dense(2, name="out_b")(m)
    return K.Model([seq, vec], [out_a, out_b], name="keras2_mixed")


def keras2_applications_bits():
    """What Keras applications carry beyond tfjs-layers: Normalization (EfficientNet), grouped
    Conv2D and LayerScale (ConvNeXt), TFOpLambda arithmetic with constant and tensor operands
    (MobileNetV3's hard_sigmoid, ConvNeXt's residual ``x + y``), '/' in layer names (DenseNet)."""
    K = tf_keras
    from tf_keras.src.applications.convnext import LayerScale
    inp = K.Input(shape=(8, 8, 4), name="image")
    norm = K.layers.Normalization(axis=-1, name="normalization")
    norm.adapt(np.random.default_rng(1).normal(2.0, 3.0, (16, 8, 8, 4)).astype(np.float32))
    x = norm(inp)
    x = K.layers.Conv2D(8, 3, padding="same", groups=2, name="conv1/grouped")(x)
    gate = tf.math.multiply(tf.nn.relu6(x + 3.0), 1.0 / 6.0)   # TFOpLambda x3
    x = tf.math.multiply(x, gate)                                # tensor operand
    y = K.layers.Conv2D(8, 1, name="conv2/conv")(x)
    y = LayerScale(0.5, 8, name="layer_scale")(y)
    x = x + y                                                    # tf.__operators__.add, tensor y
    x = K.layers.GlobalAveragePooling2D(name="gap")(x)
    out = K.layers.Dense(3, name="logits")(x)
    return K.Model(inp, out, name="keras2_applications_bits")


def keras3_nested():
    """Keras 3 nested models: a Sequential stem (node indices from 0 in Keras 3) and a
    Functional block called twice (indices from 1); weights under ``layers/<model>/layers/...``."""
    K = keras
    stem = K.Sequential([K.Input(shape=(8, 8, 3)), K.layers.Conv2D(6, 2, strides=2, name="stem_conv"),
                         K.layers.LayerNormalization(name="stem_ln")], name="stem")
    block_in = K.Input(shape=(6,))
    block = K.Model(block_in, K.layers.Dense(6, activation="tanh", name="block_dense")(block_in), name="block")
    inp = K.Input(shape=(8, 8, 3), name="image")
    x = K.layers.GlobalAveragePooling2D(name="gap")(stem(inp))
    x = block(block(x))
    out = K.layers.Dense(2, name="logits")(x)
    return K.Model(inp, out, name="keras3_nested")


def keras3_ops():
    """Keras 3 functional arithmetic on tensors: every ``keras.ops`` call and operator is saved
    as an op layer (Add with a literal 3.0, Multiply with a literal first, TrueDivide, Relu6,
    Maximum, Exp, ops.concatenate, ops.mean(keepdims))."""
    K = keras
    inp = K.Input(shape=(5,), name="x")
    h = K.layers.Dense(4, name="d")(inp)
    b = K.ops.multiply(h, h + 3.0)
    c = 2.0 * b - h
    e = K.ops.maximum(K.ops.relu6(c) / 6.0, h)
    f = K.ops.concatenate([e, K.ops.exp(h)], axis=-1)
    g = K.ops.mean(f, axis=-1, keepdims=True)
    out = K.layers.Dense(2, name="o")(f * g)
    return K.Model(inp, out, name="keras3_ops")


def keras3_ops_structural():
    """Keras 3 structural ``keras.ops`` saved as op layers: Reshape (``newshape``, batch axis
    included, same class name as the Reshape layer), Transpose, Matmul, Stack, Where with a
    literal branch, Clip, Cast (to int32 and back: truncation), Softmax (the op)."""
    K = keras
    inp = K.Input(shape=(4, 6), name="x")
    h = K.layers.Dense(6, name="d")(inp)
    a = K.ops.reshape(h, (-1, 6, 4))
    b = K.ops.transpose(a, (0, 2, 1))
    c = K.ops.matmul(b, a)                                    # (N, 4, 4)
    d = K.ops.stack([h, h * 2.0], axis=1)                     # (N, 2, 4, 6)
    w = K.ops.where(h > 0.0, h, -0.25)
    cl = K.ops.clip(h, -0.5, 0.5)
    t = K.ops.cast(K.ops.cast(h * 3.0, "int32"), "float32")
    sm = K.ops.softmax(h, axis=-1)
    flat = K.ops.concatenate([K.ops.reshape(c, (-1, 16)), K.ops.reshape(d, (-1, 48)),
                              K.ops.reshape(w + cl + t + sm, (-1, 24))], axis=-1)
    out = K.layers.Dense(3, name="o")(flat)
    return K.Model(inp, [out, c], name="keras3_ops_structural")


def keras3_indexing():
    """Keras 3 indexing ops saved as op layers with literal keys: ``x[...]`` (GetItem: slices
    with steps and negative bounds, an int index, ``None`` (newaxis), ``...``) and
    ``keras.ops.take`` with constant indices; tfjs 4.22 knows neither."""
    K = keras
    inp = K.Input(shape=(6, 8), name="x")
    h = K.layers.Dense(8, name="d")(inp)
    a = h[:, 1:5, ::2]                     # (N, 4, 4)
    b = h[:, -1]                           # (N, 8)
    c = h[..., None, 2:-1]                 # (N, 6, 1, 5)
    t = K.ops.take(h, [0, 3, 3, 7], axis=2)  # (N, 6, 4)
    flat = K.ops.concatenate([K.ops.reshape(a, (-1, 16)), b, K.ops.reshape(c, (-1, 30)),
                              K.ops.reshape(t, (-1, 24))], axis=-1)
    return K.Model(inp, [K.layers.Dense(3, name="o")(flat), a], name="keras3_indexing")


def keras3_sequential():
    """A top-level Keras 3 Sequential (InputLayer with ``batch_shape`` first, DTypePolicy
    objects in every layer), which tfjs 4.22 cannot load."""
    K = keras
    return K.Sequential([K.Input(shape=(6,), name="features"), K.layers.Dense(5, activation="relu", name="h"),
                         K.layers.Dropout(0.2, name="drop"), K.layers.Dense(2, name="o")],
                        name="keras3_sequential")


def _masked_concat(K, name):
    """Two masked token streams concatenated on the features into an LSTM: the step mask is
    the AND of the inputs' masks in Keras 2 and their OR in Keras 3 (saved as op layers)."""
    a = K.Input(shape=(6,), dtype="int32", name="a")
    b = K.Input(shape=(6,), dtype="int32", name="b")
    ea = K.layers.Embedding(10, 4, mask_zero=True, name="ea")(a)
    eb = K.layers.Embedding(10, 4, mask_zero=True, name="eb")(b)
    h = K.layers.Concatenate(axis=-1, name="cat")([ea, eb])
    h = K.layers.LSTM(5, name="lstm")(h)
    return K.Model([a, b], K.layers.Dense(2, name="o")(h), name=name)


def masked_token_pairs(rng):
    xa = rng.integers(1, 10, size=(3, 6)).astype(np.int32)
    xb = rng.integers(1, 10, size=(3, 6)).astype(np.int32)
    xa[0, 4:] = 0
    xa[1, 2:] = 0
    xb[0, 3:] = 0
    xb[2, 5:] = 0
    return [xa, xb]


def keras3_cnn():
    return _cnn(keras, "keras3_cnn")


def keras3_lstm():
    K = keras
    inp = K.Input(shape=(7,), dtype="int32", name="tokens")
    x = K.layers.Embedding(12, 6, mask_zero=True, name="embed")(inp)
    x = K.layers.Bidirectional(K.layers.LSTM(5, return_sequences=True), name="bilstm")(x)
    x = K.layers.GRU(4, name="gru")(x)  # reset_after=True is the Keras 3 default
    out = K.layers.Dense(3, name="logits")(x)
    return K.Model(inp, out, name="keras3_lstm")


def keras2_attention():
    """A small Keras 2 transformer encoder block: Dense projection, MultiHeadAttention
    self-attention (query = value = key), Add + LayerNormalization, Dense FFN, pooling."""
    K = tf_keras
    inp = K.Input(shape=(6, 5), name="seq")
    x = K.layers.Dense(8, name="proj")(inp)
    a = K.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    x = K.layers.LayerNormalization(name="ln1")(K.layers.Add(name="add1")([x, a]))
    f = K.layers.Dense(16, activation="relu", name="ffn1")(x)
    f = K.layers.Dense(8, name="ffn2")(f)
    x = K.layers.LayerNormalization(name="ln2")(K.layers.Add(name="add2")([x, f]))
    # cross-attention-like call with an explicit key and a value_dim / output_shape / no bias
    b = K.layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=3, use_bias=False,
                                    output_shape=(5,), name="mha2")(x, f, x)
    x = K.layers.GlobalAveragePooling1D(name="gap")(b)
    out = K.layers.Dense(3, name="logits")(x)
    return K.Model(inp, out, name="keras2_attention")


def keras3_attention():
    """Keras 3 transformer block: self-attention with a causal mask, cross-attention on a second
    input (query, value, key given as kwargs), EinsumDense FFN."""
    K = keras
    inp = K.Input(shape=(6, 5), name="seq")
    ctx = K.Input(shape=(4, 7), name="context")
    x = K.layers.Dense(8, name="proj")(inp)
    a = K.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="self_mha")(x, x, use_causal_mask=True)
    x = K.layers.LayerNormalization(name="ln1")(K.layers.Add(name="add1")([x, a]))
    c = K.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, name="cross_mha")(
        query=x, value=ctx, key=ctx)
    x = K.layers.LayerNormalization(name="ln2")(K.layers.Add(name="add2")([x, c]))
    f = K.layers.EinsumDense("abc,cd->abd", output_shape=(None, 12), bias_axes="d",
                             activation="relu", name="ffn1")(x)
    f = K.layers.Dense(8, name="ffn2")(f)
    x = K.layers.Add(name="add3")([x, f])
    x = K.layers.GlobalAveragePooling1D(name="gap")(x)
    out = K.layers.Dense(3, name="logits")(x)
    return K.Model([inp, ctx], out, name="keras3_attention")


def _attention_layers(K, name):
    q_in = K.Input(shape=(5, 4), name="query")
    v_in = K.Input(shape=(3, 4), name="value")
    a = K.layers.Attention(name="dot_att")([q_in, v_in])
    s = K.layers.Attention(use_scale=True, score_mode="concat", name="concat_att")([q_in, v_in, v_in])
    d = K.layers.AdditiveAttention(name="add_att")([q_in, v_in])
    n = K.layers.AdditiveAttention(use_scale=False, name="add_att_noscale")([q_in, v_in])
    e = K.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de",
                             activation="tanh", name="einsum")(q_in)
    e = K.layers.Reshape((5, 6), name="einsum_flat")(e)
    x = K.layers.Concatenate(name="concat")([a, s, d, n, e])
    out = K.layers.EinsumDense("abc,c->ab", output_shape=(5,), name="einsum_reduce")(x)
    return K.Model([q_in, v_in], out, name=name)


def keras2_attention_layers():
    return _attention_layers(tf_keras, "keras2_attention_layers")


def keras3_attention_layers():
    return _attention_layers(keras, "keras3_attention_layers")


def _attention_masks(K, name):
    """Masks into attention: Embedding(mask_zero) masks reaching MultiHeadAttention and
    Attention, an explicit attention_mask input, return_attention_scores (two outputs)."""
    tokens = K.Input(shape=(5,), dtype="int32", name="tokens")
    allowed = K.Input(shape=(5, 5), name="allowed")
    x = K.layers.Embedding(10, 6, mask_zero=True, name="embed")(tokens)
    a, scores = K.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(
        x, x, attention_mask=allowed, return_attention_scores=True)
    b = K.layers.Attention(name="att")([x, x])
    # pool before merging: a Keras 3 Concatenate of masked tensors saves its mask
    # computation as op layers (Any, LogicalOr, ZerosLike ...)
    y = K.layers.Concatenate(name="concat")([K.layers.GlobalAveragePooling1D(name="gap_a")(a),
                                            K.layers.GlobalAveragePooling1D(name="gap_b")(b)])
    out = K.layers.Dense(2, name="logits")(y)
    return K.Model([tokens, allowed], [out, scores], name=name)


def keras2_attention_masks():
    return _attention_masks(tf_keras, "keras2_attention_masks")


def keras3_attention_masks():
    return _attention_masks(keras, "keras3_attention_masks")


def _mask_inputs(rng):
    tokens = rng.integers(1, 10, size=(3, 5)).astype(np.int32)
    for row, length in enumerate((5, 3, 2)):
        tokens[row, length:] = 0
    allowed = (rng.uniform(size=(3, 5, 5)) > 0.3).astype(np.float32)
    allowed[:, :, 0] = 1.0  # every query attends somewhere
    return [tokens, allowed]


def _norm_extras(K, name):
    inp = K.Input(shape=(4, 4, 6), name="image")
    x = K.layers.GroupNormalization(groups=3, name="gn")(inp)
    x = K.layers.Identity(name="ident")(x)
    x = K.layers.Conv2D(4, 1, name="conv")(x)
    x = K.layers.GroupNormalization(groups=-1, center=False, epsilon=1e-4, name="gn_inst")(x)
    x = K.layers.UnitNormalization(name="unit")(x)
    x = K.layers.UnitNormalization(axis=[1, 2], name="unit_hw")(x)
    x = K.layers.Flatten(name="flat")(x)
    out = K.layers.Dense(3, name="logits")(x)
    return K.Model(inp, out, name=name)


def keras2_norm_extras():
    return _norm_extras(tf_keras, "keras2_norm_extras")


def keras3_norm_extras():
    return _norm_extras(keras, "keras3_norm_extras")


def _augment(K, name):
    inp = K.Input(shape=(12, 12, 3), name="image")
    x = K.layers.RandomFlip("horizontal_and_vertical", name="flip")(inp)
    x = K.layers.RandomRotation(0.2, name="rotate")(x)
    x = K.layers.RandomZoom(0.2, name="zoom")(x)
    x = K.layers.RandomTranslation(0.1, 0.1, name="translate")(x)
    x = K.layers.RandomContrast(0.3, name="contrast")(x)
    x = K.layers.RandomBrightness(0.2, name="brightness")(x)
    x = K.layers.RandomCrop(8, 10, name="crop")(x)
    x = K.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = K.layers.GlobalAveragePooling2D(name="gap")(x)
    out = K.layers.Dense(2, name="logits")(x)
    return K.Model(inp, out, name=name)


def keras2_augment():
    return _augment(tf_keras, "keras2_augment")


def _augment_train(K, name, keras3):
    """Degenerate factor ranges make the random geometric layers deterministic, so Keras in
    training mode gives a reference: a fixed 45 degree turn, a fixed zoom and a fixed shift,
    with every fill mode and both interpolations."""
    inp = K.Input(shape=(9, 12, 3), name="image")
    L = K.layers
    outs = []
    for mode in ("reflect", "wrap", "constant", "nearest"):
        outs.append(L.RandomRotation((0.125, 0.125), fill_mode=mode, fill_value=-1.5,
                                     name=f"rot_{mode}")(inp))
    outs.append(L.RandomRotation((-0.3, -0.3), fill_mode="reflect", interpolation="nearest",
                                 name="rot_nearest_interp")(inp))
    outs.append(L.RandomRotation((0.3, 0.3), fill_mode="constant", interpolation="nearest",
                                 fill_value=2.0, name="rot_nearest_constant")(inp))
    for mode, interp in (("reflect", "bilinear"), ("wrap", "nearest"), ("constant", "bilinear"),
                         ("nearest", "nearest")):
        outs.append(L.RandomZoom(height_factor=(-0.3, -0.3), width_factor=(0.2, 0.2),
                                 fill_mode=mode, interpolation=interp, fill_value=0.75,
                                 name=f"zoom_{mode}_{interp}")(inp))
    outs.append(L.RandomZoom((0.4, 0.4), fill_mode="reflect", name="zoom_keep_aspect")(inp))
    for mode, interp in (("reflect", "nearest"), ("wrap", "bilinear"), ("constant", "nearest"),
                         ("nearest", "bilinear")):
        outs.append(L.RandomTranslation(height_factor=(0.25, 0.25), width_factor=(-0.1, -0.1),
                                        fill_mode=mode, interpolation=interp, fill_value=-3.0,
                                        name=f"shift_{mode}_{interp}")(inp))
    if keras3:  # channels_first (Keras 2 supports channels_last only)
        cf = L.Permute((3, 1, 2), name="to_channels_first")(inp)
        outs.append(L.RandomRotation((0.125, 0.125), fill_mode="wrap", data_format="channels_first",
                                     name="rot_channels_first")(cf))
        outs.append(L.RandomZoom((-0.3, -0.3), (0.2, 0.2), fill_mode="reflect",
                                 data_format="channels_first", name="zoom_channels_first")(cf))
        outs.append(L.RandomTranslation((0.25, 0.25), (-0.1, -0.1), fill_mode="nearest",
                                        data_format="channels_first",
                                        name="shift_channels_first")(cf))
    return K.Model(inp, outs, name=name)


def keras2_augment_train():
    return _augment_train(tf_keras, "keras2_augment_train", False)


def keras3_augment_train():
    return _augment_train(keras, "keras3_augment_train", True)


def keras3_augment():
    return _augment(keras, "keras3_augment")


def _transpose_output_padding(K, name):
    """Transposed convolutions with output_padding (tfjs 4.22 ignores it: Keras is the
    reference) and Subtract / Multiply on inputs of different ranks (Keras's _Merge expands the
    lower rank at axis 1)."""
    L = K.layers
    image = K.Input(shape=(5, 6, 3), name="image")
    seq = K.Input(shape=(7, 3), name="seq")
    volume = K.Input(shape=(3, 4, 3, 2), name="volume")
    outs = [
        # odd kernel, SAME: output_padding 1 is the default size, 0 one shorter (cropped in front)
        L.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=(0, 1), name="t2d_same_k3")(image),
        L.Conv2DTranspose(3, (3, 4), strides=(2, 3), padding="valid", output_padding=(1, 2),
                          name="t2d_valid")(image),
        # even kernel: total SAME padding 3, one more row/column cropped after than before
        L.Conv2DTranspose(2, 4, strides=2, padding="same", output_padding=1, activation="relu",
                          name="t2d_same_k4")(image),
        L.Conv1DTranspose(3, 3, strides=3, padding="same", output_padding=1, name="t1d_same")(seq),
        L.Conv1DTranspose(2, 2, strides=3, padding="valid", output_padding=2, use_bias=False,
                          name="t1d_valid_s3")(seq),
        L.Conv3DTranspose(2, 3, strides=2, padding="same", output_padding=(1, 0, 1), name="t3d_same")(volume),
        L.Conv3DTranspose(2, 2, strides=(1, 2, 2), padding="valid", output_padding=(0, 1, 0),
                          name="t3d_valid")(volume),
    ]
    pooled = L.GlobalAveragePooling1D(name="pool")(seq)  # (batch, 3) against (batch, 7, 3)
    outs.append(L.Subtract(name="sub_ranks")([seq, pooled]))
    outs.append(L.Multiply(name="mul_ranks")([pooled, seq]))
    return K.Model([image, seq, volume], outs, name=name)


def keras2_transpose_output_padding():
    return _transpose_output_padding(tf_keras, "keras2_transpose_output_padding")


def keras3_transpose_output_padding():
    return _transpose_output_padding(keras, "keras3_transpose_output_padding")


def transpose_inputs(rng):
    return [rng.normal(0.0, 1.0, size=shape).astype(np.float32)
            for shape in ((2, 5, 6, 3), (2, 7, 3), (2, 3, 4, 3, 2))]


# ----------------------------------------------------------------------------------- inputs


def image_inputs(rng):
    return [rng.normal(0.0, 1.0, size=(2, 16, 16, 3)).astype(np.float32)]


def token_inputs(rng):
    x = rng.integers(1, 12, size=(3, 7)).astype(np.int32)
    for row, length in enumerate((7, 4, 2)):  # trailing zeros (padding), one full row
        x[row, length:] = 0
    return [x]


def mixed_inputs(rng):
    return [rng.normal(0.0, 1.0, size=(2, 8, 4)).astype(np.float32),
            rng.normal(0.0, 1.0, size=(2, 5)).astype(np.float32)]


# ----------------------------------------------------------------------------------- conversion


def convert_keras2(model, out_dir: Path, **kw) -> None:
    tensorflowjs.converters.save_keras_model(model, str(out_dir), **kw)


def convert_keras2_split(model, out_dir: Path) -> None:
    """One weight group per layer: the converter's split_weights_by_layer route (the H5 path)."""
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "model.h5")
        model.save(h5)
        topology, groups = keras_h5_conversion.h5_merged_saved_model_to_tfjs_format(
            h5, split_by_layer=True)
        keras_h5_conversion.write_artifacts(topology, groups, str(out_dir))


def convert_keras3(model, out_dir: Path) -> None:
    """Keras 3: save a .keras file, then the converter's keras_keras route."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        tfjs_converter.dispatch_keras_keras_to_tfjs_layers_model_conversion(path, str(out_dir))


# ----------------------------------------------------------------------------------- decoding

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_,
           "uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def decode_like_tfjs(out_dir: Path) -> Dict[str, np.ndarray]:
    """Decode the written shards with numpy, as tfjs does: q * scale + min in double precision,
    stored once as float32 (float16 widened exactly)."""
    manifest = json.loads((out_dir / "model.json").read_text())["weightsManifest"]
    result: Dict[str, np.ndarray] = {}
    for group in manifest:
        buf = b"".join((out_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = tuple(spec["shape"])
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = _DTYPES[quant["dtype"] if quant else spec["dtype"]]
            raw = np.frombuffer(buf, dtype=stored, count=count, offset=offset)
            offset += count * np.dtype(stored).itemsize
            if quant is None:
                value = raw.copy()
            elif quant["dtype"] == "float16":
                value = raw.astype(np.float32)
            else:
                value = (raw.astype(np.float64) * float(quant["scale"]) + float(quant["min"]))
                value = value.astype(np.float32)
            result[spec["name"]] = value.reshape(shape)
        assert offset == len(buf), f"{out_dir}: {len(buf) - offset} unread bytes"
    return result


def load_decoded_weights(model, decoded: Dict[str, np.ndarray]) -> None:
    values = []
    for w in model.weights:
        name = w.name[:-2] if w.name.endswith(":0") else w.name
        if name not in decoded:
            raise KeyError(f"weight {name!r} not in the manifest ({sorted(decoded)})")
        values.append(decoded[name])
    assert len(values) == len(decoded), "manifest and model hold different weight sets"
    model.set_weights(values)


# ----------------------------------------------------------------------------------- cases

CaseFn = Callable[[], object]


class Spec:
    def __init__(self, name: str, build: CaseFn, inputs: Callable, covers: List[str],
                 description: str, keras3: bool = False, quantize: Optional[str] = None,
                 split: bool = False, seed_name: Optional[str] = None, training: bool = False):
        self.name, self.build, self.inputs, self.covers = name, build, inputs, covers
        self.training = training  # reference = model(x, training=True); case.json "training": true
        self.description, self.keras3, self.quantize, self.split = description, keras3, quantize, split
        self.seed_name = seed_name or name


CNN_COVERS = ["InputLayer", "Conv2D", "BatchNormalization", "DepthwiseConv2D", "Add",
              "GlobalAveragePooling2D", "Dense"]
TEXT_COVERS = ["InputLayer", "Embedding", "Bidirectional", "LSTM", "GRU", "Dense"]
MIXED_COVERS = ["InputLayer", "UpSampling1D", "ZeroPadding1D", "Cropping1D", "Flatten", "Dense",
                "Concatenate", "Dropout", "LayerNormalization", "Multiply"]
CNN_DESC = ("Conv2D(same, relu) -> BatchNormalization -> DepthwiseConv2D -> Conv2D stride 2, "
            "+ 1x1 stride-2 shortcut, Add -> GlobalAveragePooling2D -> Dense softmax; 16x16x3")

SPECS = [
    Spec("keras2_cnn", keras2_cnn, image_inputs, CNN_COVERS, "Keras 2 functional CNN: " + CNN_DESC),
    Spec("keras2_text", keras2_text, token_inputs, TEXT_COVERS,
         "Keras 2 Sequential Embedding(mask_zero) -> Bidirectional(LSTM seqs) -> GRU(reset_after) "
         "-> Dense; int32 tokens with trailing zeros"),
    Spec("keras2_mixed", keras2_mixed, mixed_inputs, MIXED_COVERS,
         "Keras 2 functional, two inputs / two outputs: UpSampling1D, ZeroPadding1D, Cropping1D, "
         "Flatten on a sequence branch; Concatenate, Dense, Dropout, LayerNormalization, Multiply"),
    Spec("keras2_applications_bits", keras2_applications_bits, lambda rng: [
             rng.normal(2.0, 3.0, size=(2, 8, 8, 4)).astype(np.float32)],
         ["InputLayer", "Normalization", "Conv2D", "TFOpLambda", "LayerScale", "GlobalAveragePooling2D", "Dense"],
         "Keras 2 functional with Normalization(adapted), grouped Conv2D, TFOpLambda (+ 3, relu6, "
         "* 1/6, * tensor, + tensor), LayerScale and '/' in layer names"),
    Spec("keras3_nested", keras3_nested, lambda rng: [rng.normal(0.0, 1.0, size=(2, 8, 8, 3)).astype(np.float32)],
         ["InputLayer", "Sequential", "Functional", "Conv2D", "LayerNormalization", "GlobalAveragePooling2D", "Dense"],
         "Keras 3 nested Sequential stem and a Functional block called twice (.keras converter path)",
         keras3=True),
    Spec("keras3_ops", keras3_ops, lambda rng: [rng.normal(0.0, 1.0, size=(3, 5)).astype(np.float32)],
         ["InputLayer", "Dense", "Add", "Multiply", "Subtract", "TrueDivide", "Relu6", "Maximum", "Exp",
          "Concatenate", "Mean"],
         "Keras 3 functional with keras.ops / operator calls saved as op layers (.keras converter path)",
         keras3=True),
    Spec("keras3_indexing", keras3_indexing,
         lambda rng: [rng.normal(0.0, 1.0, size=(3, 6, 8)).astype(np.float32)],
         ["InputLayer", "Dense", "GetItem", "Take", "Reshape", "Concatenate"],
         "Keras 3 indexing (x[...] as GetItem, keras.ops.take) with literal keys (.keras converter path)",
         keras3=True),
    Spec("keras3_ops_structural", keras3_ops_structural,
         lambda rng: [rng.normal(0.0, 1.0, size=(3, 4, 6)).astype(np.float32)],
         ["InputLayer", "Dense", "Reshape", "Transpose", "Matmul", "Stack", "Multiply", "Greater",
          "Where", "Clip", "Cast", "Softmax", "Add", "Concatenate"],
         "Keras 3 structural keras.ops saved as op layers: reshape (newshape), transpose, matmul, "
         "stack, where (literal branch), clip, cast float->int32->float, softmax (.keras converter "
         "path; tfjs cannot load Keras 3 files)", keras3=True),
    Spec("keras3_sequential", keras3_sequential, lambda rng: [rng.normal(0.0, 1.0, size=(3, 6)).astype(np.float32)],
         ["InputLayer", "Sequential", "Dense", "Dropout"],
         "Keras 3 top-level Sequential: InputLayer batch_shape, DTypePolicy dtypes (.keras converter "
         "path; tfjs cannot load it)", keras3=True),
    Spec("keras2_masked_concat", lambda: _masked_concat(tf_keras, "keras2_masked_concat"), masked_token_pairs,
         ["InputLayer", "Embedding", "Concatenate", "LSTM", "Dense"],
         "Keras 2: two Embedding(mask_zero) streams concatenated into an LSTM (step mask = AND)"),
    Spec("keras3_masked_concat", lambda: _masked_concat(keras, "keras3_masked_concat"), masked_token_pairs,
         ["InputLayer", "Embedding", "Concatenate", "LSTM", "Dense", "NotEqual", "ExpandDims", "ZerosLike",
          "LogicalOr", "Any"],
         "Keras 3: the same; the mask merge is saved as op layers and keeps a step if any input does",
         keras3=True),
    Spec("keras3_cnn", keras3_cnn, image_inputs, CNN_COVERS,
         "Keras 3 functional CNN (.keras via keras_keras converter path): " + CNN_DESC, keras3=True),
    Spec("keras3_lstm", keras3_lstm, token_inputs, TEXT_COVERS,
         "Keras 3 functional Embedding(mask_zero) -> Bidirectional(LSTM seqs) -> GRU(reset_after) "
         "-> Dense (.keras via keras_keras converter path); int32 tokens with trailing zeros",
         keras3=True),
    Spec("keras2_cnn_uint8", keras2_cnn, image_inputs, CNN_COVERS,
         "keras2_cnn with every weight quantized to uint8, 1 KiB shards; reference = Keras with the "
         "dequantized weights", quantize="uint8", seed_name="keras2_cnn"),
    Spec("keras2_cnn_uint16", keras2_cnn, image_inputs, CNN_COVERS,
         "keras2_cnn with every weight quantized to uint16, 1 KiB shards; reference = Keras with the "
         "dequantized weights", quantize="uint16", seed_name="keras2_cnn"),
    Spec("keras2_cnn_float16", keras2_cnn, image_inputs, CNN_COVERS,
         "keras2_cnn with every weight stored as float16, 1 KiB shards; reference = Keras with the "
         "float16-rounded weights", quantize="float16", seed_name="keras2_cnn"),
    Spec("keras2_cnn_groups", keras2_cnn, image_inputs, CNN_COVERS,
         "keras2_cnn converted with split_by_layer: one weight group (shard file) per layer",
         split=True, seed_name="keras2_cnn"),
]

ATTENTION_INPUTS = lambda rng: [rng.normal(0.0, 1.0, size=(2, 6, 5)).astype(np.float32)]  # noqa: E731
SPECS += [
    Spec("keras2_attention", keras2_attention, ATTENTION_INPUTS,
         ["InputLayer", "Dense", "MultiHeadAttention", "Add", "LayerNormalization",
          "GlobalAveragePooling1D"],
         "Keras 2 transformer encoder block: Dense -> MultiHeadAttention(2 heads, self) -> Add -> "
         "LayerNormalization -> Dense FFN; MultiHeadAttention(query, value, key; value_dim, "
         "output_shape, no bias) -> GlobalAveragePooling1D -> Dense"),
    Spec("keras3_attention", keras3_attention, lambda rng: [
             rng.normal(0.0, 1.0, size=(2, 6, 5)).astype(np.float32),
             rng.normal(0.0, 1.0, size=(2, 4, 7)).astype(np.float32)],
         ["InputLayer", "Dense", "MultiHeadAttention", "EinsumDense", "Add", "LayerNormalization",
          "GlobalAveragePooling1D"],
         "Keras 3 transformer block: causal self-attention, cross-attention on a second input "
         "(query=/value=/key= kwargs), EinsumDense FFN (.keras converter path)", keras3=True),
    Spec("keras2_attention_layers", keras2_attention_layers, lambda rng: [
             rng.normal(0.0, 1.0, size=(2, 5, 4)).astype(np.float32),
             rng.normal(0.0, 1.0, size=(2, 3, 4)).astype(np.float32)],
         ["InputLayer", "Attention", "AdditiveAttention", "EinsumDense", "Reshape", "Concatenate"],
         "Keras 2 Attention (dot; scaled concat with key), AdditiveAttention (scaled / not), "
         "EinsumDense (abc,cde->abde with bias, abc,c->ab)"),
    Spec("keras3_attention_layers", keras3_attention_layers, lambda rng: [
             rng.normal(0.0, 1.0, size=(2, 5, 4)).astype(np.float32),
             rng.normal(0.0, 1.0, size=(2, 3, 4)).astype(np.float32)],
         ["InputLayer", "Attention", "AdditiveAttention", "EinsumDense", "Reshape", "Concatenate"],
         "Keras 3 version of keras2_attention_layers (.keras converter path)", keras3=True),
    Spec("keras2_attention_masks", keras2_attention_masks, _mask_inputs,
         ["InputLayer", "Embedding", "MultiHeadAttention", "Attention", "GlobalAveragePooling1D",
          "Concatenate", "Dense"],
         "Keras 2: Embedding(mask_zero) masks into MultiHeadAttention (with an attention_mask "
         "input and return_attention_scores: scores are the second output) and Attention"),
    Spec("keras3_attention_masks", keras3_attention_masks, _mask_inputs,
         ["InputLayer", "Embedding", "NotEqual", "ConvertToTensor", "MultiHeadAttention", "Attention",
          "GlobalAveragePooling1D", "Concatenate", "Dense"],
         "Keras 3 version of keras2_attention_masks (.keras converter path)", keras3=True),
    Spec("keras2_norm_extras", keras2_norm_extras, lambda rng: [
             rng.normal(1.0, 2.0, size=(2, 4, 4, 6)).astype(np.float32)],
         ["InputLayer", "GroupNormalization", "Identity", "Conv2D", "UnitNormalization", "Flatten", "Dense"],
         "Keras 2 GroupNormalization (3 groups; instance norm without center), Identity, "
         "UnitNormalization (last axis; axes 1,2)"),
    Spec("keras3_norm_extras", keras3_norm_extras, lambda rng: [
             rng.normal(1.0, 2.0, size=(2, 4, 4, 6)).astype(np.float32)],
         ["InputLayer", "GroupNormalization", "Identity", "Conv2D", "UnitNormalization", "Flatten", "Dense"],
         "Keras 3 version of keras2_norm_extras (.keras converter path)", keras3=True),
    Spec("keras2_transpose_output_padding", keras2_transpose_output_padding, transpose_inputs,
         ["InputLayer", "Conv2DTranspose", "Conv1DTranspose", "Conv3DTranspose", "GlobalAveragePooling1D",
          "Subtract", "Multiply"],
         "Keras 2 Conv1D/2D/3DTranspose with output_padding (same and valid; tfjs ignores it), "
         "Subtract / Multiply of a rank-3 and a rank-2 input"),
    Spec("keras3_transpose_output_padding", keras3_transpose_output_padding, transpose_inputs,
         ["InputLayer", "Conv2DTranspose", "Conv1DTranspose", "Conv3DTranspose", "GlobalAveragePooling1D",
          "Subtract", "Multiply"],
         "Keras 3 version of keras2_transpose_output_padding (.keras converter path)", keras3=True),
    Spec("keras2_augment", keras2_augment, lambda rng: [
             rng.uniform(0.0, 255.0, size=(2, 12, 12, 3)).astype(np.float32)],
         ["InputLayer", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
          "RandomContrast", "RandomBrightness", "RandomCrop", "Conv2D", "GlobalAveragePooling2D", "Dense"],
         "Keras 2 augmentation layers in front of a small CNN, inference mode (identity; "
         "RandomCrop center-crops)"),
    Spec("keras3_augment", keras3_augment, lambda rng: [
             rng.uniform(0.0, 255.0, size=(2, 12, 12, 3)).astype(np.float32)],
         ["InputLayer", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
          "RandomContrast", "RandomBrightness", "RandomCrop", "Conv2D", "GlobalAveragePooling2D", "Dense"],
         "Keras 3 augmentation layers in front of a small CNN, inference mode (.keras converter path)",
         keras3=True),
    Spec("keras2_augment_train", keras2_augment_train, lambda rng: [
             rng.uniform(0.0, 10.0, size=(2, 9, 12, 3)).astype(np.float32)],
         ["InputLayer", "RandomRotation", "RandomZoom", "RandomTranslation"],
         "Keras 2 RandomRotation / RandomZoom / RandomTranslation in TRAINING mode with degenerate "
         "factor ranges (deterministic): 45 degree turn with each fill_mode, zoom (-0.3, 0.2), "
         "shift (0.25, -0.1), bilinear and nearest interpolation, fill_value",
         training=True),
    Spec("keras3_augment_train", keras3_augment_train, lambda rng: [
             rng.uniform(0.0, 10.0, size=(2, 9, 12, 3)).astype(np.float32)],
         ["InputLayer", "RandomRotation", "RandomZoom", "RandomTranslation", "Permute"],
         "Keras 3 version of keras2_augment_train, plus channels_first branches (.keras converter "
         "path)", keras3=True, training=True),
]

QUANT_SHARD_BYTES = 1024


def make(spec: Spec) -> None:
    out_dir = OUT / spec.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    rng = rng_for(spec.seed_name)
    model = spec.build()
    randomize_weights(model, rng)
    inputs = spec.inputs(rng_for(spec.name + "/inputs"))
    meta_extra: Dict[str, object] = {}

    if spec.keras3:
        convert_keras3(model, out_dir)
        keras_ver = KERAS3_VERSION
    elif spec.split:
        convert_keras2_split(model, out_dir)
        keras_ver = KERAS2_VERSION
    elif spec.quantize:
        convert_keras2(model, out_dir, quantization_dtype_map={spec.quantize: True},
                       weight_shard_size_bytes=QUANT_SHARD_BYTES)
        keras_ver = KERAS2_VERSION
    else:
        convert_keras2(model, out_dir)
        keras_ver = KERAS2_VERSION

    if spec.quantize:
        decoded = decode_like_tfjs(out_dir)
        np.savez(out_dir / "expected_weights.npz", **decoded)
        load_decoded_weights(model, decoded)
        reference = f"Keras {keras_ver} predict with the weights dequantized as tfjs does"
    else:
        reference = f"Keras {keras_ver} predict"
    if spec.training:
        reference = f"Keras {keras_ver} model(x, training=True)"
        meta_extra["training"] = True
    outputs = run_keras(model, inputs, training=spec.training)

    input_names = [tensor_layer_name(t) for t in model.inputs]
    output_names = [tensor_layer_name(t) for t in model.outputs]
    for i, x in enumerate(inputs):
        np.save(out_dir / f"input_{i}.npy", x)
    for i, y in enumerate(outputs):
        np.save(out_dir / f"output_{i}.npy", y)
    meta = {
        "name": spec.name,
        "kind": "layers-model",
        "family": "keras",
        "covers": spec.covers,
        "description": spec.description,
        "generator": f"tensorflowjs {TFJS_VERSION} converter from Keras {keras_ver}",
        "reference": reference,
        "inputs": [{"file": f"input_{i}.npy", "name": n} for i, n in enumerate(input_names)],
        "outputs": [{"file": f"output_{i}.npy", "name": n} for i, n in enumerate(output_names)],
        **meta_extra,
    }
    (out_dir / "case.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    files = sorted(p.name for p in out_dir.iterdir())
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"{spec.name}: {size} bytes, {files}")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="case name (repeatable); default: all")
    args = ap.parse_args(argv)
    tf.random.set_seed(0)
    known = {s.name: s for s in SPECS}
    names = args.case or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {sorted(known)}")
    failed = []
    for n in names:
        try:
            make(known[n])
        except Exception as exc:  # report and continue with the other cases
            import traceback
            traceback.print_exc()
            failed.append(f"{n}: {type(exc).__name__}: {exc}")
    for f in failed:
        print("FAILED", f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
