"""Small Keras 3 (TF backend) models whose BatchNormalization TF >= 2.16 folds into the convs
(family "models").

keras.applications build BatchNormalization with ``axis=3`` (not -1); Keras 3's TF backend then
reshapes the moments to ``[1, 1, 1, C]``, and after grappler folds the scale into the filter the
converter writes ``_FusedConv2D`` whose "BiasAdd" argument is that ``[1, 1, 1, C]`` shift (the
``merged_input`` / ``batchnorm/sub`` pair). BatchNormalizations it cannot fold stay as Mul + AddV2
with broadcast-shaped constants (depthwise convs, transposed convs, dense layers)."""

import numpy as np
from casekit import rng

import keras  # Keras 3 (the generator imports it before stubbing jax)

L = keras.layers


def _seed(model, key: str):
    """Seeded weights; BatchNormalization variances and scales positive."""
    r = rng(f"models/{key}/weights")
    for w in model.weights:
        if w.name in ("moving_variance", "gamma"):
            value = r.uniform(0.5, 1.5, size=w.shape)
        else:
            value = r.uniform(-0.5, 0.5, size=w.shape)
        w.assign(value.astype(np.float32))
    return model


def conv_bn():
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)                                                     # _FusedConv2D [BiasAdd, Relu]
    x = L.Conv2D(8, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization(axis=3)(x)                                 # conv bias + BN shift
    x = L.Activation("swish")(x)
    x = L.Conv2D(6, 1, use_bias=False)(x)
    x = L.BatchNormalization(axis=3)(x)                                 # _FusedConv2D [BiasAdd]
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(4)(x)
    return _seed(keras.Model(inp, x), "graph_keras3_conv_bn")


def depthwise_bn():
    inp = keras.Input((12, 12, 4))
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU(max_value=6.0)(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(x)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)
    x = L.SeparableConv2D(6, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(axis=3)(x)                                 # pointwise conv + BN shift
    x = L.ReLU(max_value=6.0)(x)
    return _seed(keras.Model(inp, x), "graph_keras3_depthwise_bn")


def dense_bn():
    inp = keras.Input((10,))
    x = L.Dense(12, use_bias=False)(inp)
    x = L.BatchNormalization(axis=1)(x)                                 # [1, C] moments
    x = L.ReLU()(x)
    x = L.Dense(8)(x)
    x = L.BatchNormalization(axis=1)(x)
    x = L.Activation("tanh")(x)
    x = L.Dense(3)(x)
    return _seed(keras.Model(inp, x), "graph_keras3_dense_bn")


def residual():
    """A ResNet bottleneck as keras.applications.ResNet50 builds it. Where the shortcut conv adds
    no shift (ResNet50 with its initial zero biases and BatchNormalization betas), grappler fuses
    ``relu(shortcut_conv(x) + main)`` into a _FusedConv2D whose "bias" is the main branch."""
    inp = keras.Input((10, 10, 8))
    shortcut = L.Conv2D(12, 1, strides=2, use_bias=False)(inp)
    x = L.Conv2D(4, 1, strides=2)(inp)
    x = L.BatchNormalization(axis=3, epsilon=1.001e-5)(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(4, 3, padding="same")(x)
    x = L.BatchNormalization(axis=3, epsilon=1.001e-5)(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(12, 1)(x)
    x = L.BatchNormalization(axis=3, epsilon=1.001e-5)(x)
    x = L.Add()([shortcut, x])
    x = L.Activation("relu")(x)
    return _seed(keras.Model(inp, x), "graph_keras3_residual")


def autoencoder():
    inp = keras.Input((16, 16, 1))
    x = L.Conv2D(4, 3, strides=2, padding="same", use_bias=False)(inp)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization(axis=3)(x)
    x = L.ReLU()(x)
    x = L.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return _seed(keras.Model(inp, x), "graph_keras3_autoencoder")


_SOURCE = "Keras 3 model saved as a SavedModel by TF 2.21 and converted to a graph model; seeded weights"

CASES = [
    dict(name="graph_keras3_conv_bn", covers=["_FusedConv2D", "_FusedMatMul"],
         description="Conv2D(no bias)+BatchNormalization(axis=3)+ReLU, Conv2D stride 2 with bias+BN+swish, "
                     f"1x1 Conv2D+BN, GlobalAveragePooling2D, Dense; 16x16x3. {_SOURCE}",
         fn=conv_bn(), inputs=[dict(shape=[2, 16, 16, 3])], dynamic_batch=True),
    dict(name="graph_keras3_depthwise_bn", covers=["DepthwiseConv2dNative", "_FusedConv2D", "Mul", "AddV2"],
         description="DepthwiseConv2D+BatchNormalization(axis=3)+ReLU6, DepthwiseConv2D x2 stride 2 with bias+BN+ReLU, "
                     f"SeparableConv2D+BN+ReLU6; 12x12x4. {_SOURCE}",
         fn=depthwise_bn(), inputs=[dict(shape=[2, 12, 12, 4])], dynamic_batch=True),
    dict(name="graph_keras3_dense_bn", covers=["MatMul", "Mul", "AddV2"],
         description=f"Dense(no bias)+BatchNormalization(axis=1)+ReLU, Dense+BN+tanh, Dense; 10 features. {_SOURCE}",
         fn=dense_bn(), inputs=[dict(shape=[3, 10])], dynamic_batch=True),
    dict(name="graph_keras3_residual", covers=["_FusedConv2D"],
         description="ResNet50-style bottleneck (1x1 stride 2 / 3x3 / 1x1 convs with bias + BatchNormalization(axis=3), "
                     "1x1 stride 2 shortcut conv without bias, Add, ReLU: a _FusedConv2D with the main "
                     "branch as its bias); 10x10x8. " + _SOURCE,
         fn=residual(), inputs=[dict(shape=[2, 10, 10, 8])], dynamic_batch=True),
    dict(name="graph_keras3_autoencoder", covers=["_FusedConv2D", "Conv2DBackpropInput", "Mul", "AddV2"],
         description="conv autoencoder: 2x (Conv2D stride 2+BatchNormalization(axis=3)+ReLU), "
                     "2x (Conv2DTranspose stride 2+BN+ReLU), Conv2D sigmoid; 16x16x1. " + _SOURCE,
         fn=autoencoder(), inputs=[dict(shape=[2, 16, 16, 1])], dynamic_batch=True),
]
