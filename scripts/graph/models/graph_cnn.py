"""A small tf_keras CNN saved as a SavedModel and converted to a graph model (family "models")."""

import numpy as np
import tf_keras as keras
from casekit import rng


def build():
    model = keras.Sequential([
        keras.Input(shape=(32, 32, 3)),
        keras.layers.Conv2D(8, 3, padding="same", use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.DepthwiseConv2D(3, padding="same"),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.Conv2D(12, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5, activation="softmax"),
    ])
    r = rng("models/graph_cnn/weights")
    for w in model.weights:
        name = w.name
        if "moving_variance" in name or "gamma" in name:
            value = r.uniform(0.5, 1.5, size=w.shape)
        else:
            value = r.uniform(-0.5, 0.5, size=w.shape)
        w.assign(value.astype(np.float32))
    return model


CASES = [
    dict(name="graph_cnn", covers=["_FusedConv2D", "FusedDepthwiseConv2dNative", "Mean", "_FusedMatMul", "Softmax"],
         description="tf_keras Sequential CNN: Conv2D+BatchNorm+ReLU, DepthwiseConv2D+ReLU6, Conv2D stride 2 relu, "
                     "GlobalAveragePooling2D, Dense softmax; 32x32x3 input, seeded weights, SavedModel -> graph model",
         fn=build(), inputs=[dict(shape=[2, 32, 32, 3])], dynamic_batch=True),
]
