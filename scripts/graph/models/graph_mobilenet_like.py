"""A MobileNet-v2-like tf_keras CNN (inverted residual blocks) converted to a graph model, plain,
quantized (uint8 / uint16 / float16 weights) and in 4 KiB weight shards (family "models").

The references of the quantized variants are tfjs's outputs on the quantized artifact, so the
default tolerance applies (torch_tfjs must dequantize exactly as tfjs does)."""

import numpy as np
import tf_keras as keras
from casekit import rng


def _conv_bn(x, filters, kernel, strides=1, relu6=True):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU(max_value=6.0)(x) if relu6 else x


def _inverted_residual(x, expand, out, strides):
    cin = x.shape[-1]
    y = _conv_bn(x, cin * expand, 1)                                   # 1x1 expansion + BN + ReLU6
    y = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(y)
    y = keras.layers.BatchNormalization()(y)
    y = keras.layers.ReLU(max_value=6.0)(y)                            # depthwise + BN + ReLU6
    y = _conv_bn(y, out, 1, relu6=False)                               # 1x1 linear projection + BN
    if strides == 1 and cin == out:
        y = keras.layers.Add()([x, y])                                 # residual
    return y


def build():
    inp = keras.Input(shape=(32, 32, 3))
    x = _conv_bn(inp, 8, 3, strides=2)                                 # 16x16x8
    x = _inverted_residual(x, 1, 8, 1)                                 # residual
    x = _inverted_residual(x, 4, 12, 2)                                # 8x8x12
    x = _inverted_residual(x, 4, 12, 1)                                # residual
    x = _inverted_residual(x, 4, 16, 2)                                # 4x4x16
    x = _inverted_residual(x, 4, 16, 1)                                # residual
    x = _conv_bn(x, 32, 1)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inp, out)
    r = rng("models/graph_mobilenet_like/weights")
    for w in model.weights:
        name = w.name
        if "moving_variance" in name or "gamma" in name:
            value = r.uniform(0.5, 1.5, size=w.shape)
        elif "moving_mean" in name or "beta" in name:
            value = r.uniform(-0.2, 0.2, size=w.shape)
        else:
            value = r.uniform(-0.5, 0.5, size=w.shape)
        w.assign(value.astype(np.float32))
    return model


MODEL = build()
COVERS = ["_FusedConv2D", "FusedDepthwiseConv2dNative", "AddV2", "Mean", "_FusedMatMul", "Softmax"]
DESCRIPTION = ("tf_keras MobileNet-v2-like CNN: Conv2D+BN+ReLU6 stem, 5 inverted residual blocks (1x1 expand "
               "Conv2D+BN+ReLU6, DepthwiseConv2D+BN+ReLU6, 1x1 projection+BN, residual Add), 1x1 Conv2D+BN+ReLU6, "
               "GlobalAveragePooling2D, Dense softmax; 32x32x3 input, seeded weights and BN statistics")
INPUTS = [dict(shape=[2, 32, 32, 3])]

CASES = [
    dict(name="graph_mobilenet_like", covers=COVERS, description=DESCRIPTION, fn=MODEL, inputs=INPUTS,
         dynamic_batch=True),
] + [
    dict(name=f"graph_mobilenet_like_{q}", covers=COVERS, fn=MODEL, inputs=INPUTS, dynamic_batch=True,
         description=DESCRIPTION + f"; converted with quantization_dtype_map={{'{q}': True}} "
                                   "(reference: tfjs on the quantized artifact)",
         converter=dict(quantization_dtype_map={q: True}))
    for q in ("uint8", "uint16", "float16")
] + [
    dict(name="graph_mobilenet_like_sharded", covers=COVERS, fn=MODEL, inputs=INPUTS, dynamic_batch=True,
         description=DESCRIPTION + "; converted with weight_shard_size_bytes=4096 (several shards)",
         converter=dict(weight_shard_size_bytes=4096)),
]
