"""A segmentation-decoder-shaped tf_keras model (family "models"): bilinear UpSampling2D between
depthwise/pointwise convs and a 1-channel head whose logits reach the hundreds, then a sigmoid —
the shape of MediaPipe BlazePose's segmentation head, where a relative error of the logits becomes
an absolute one of the sigmoid (slope 1/4 at the zero crossings). tests/graph/test_numerics.py
states the bound torch_tfjs reaches on it."""

import numpy as np
import tf_keras as keras
from casekit import rng


def build():
    L = keras.layers
    x_in = keras.Input(shape=(16, 16, 8))
    x = L.Conv2D(8, 3, padding="same", activation="relu6")(x_in)
    for i in range(2):
        x = L.UpSampling2D(interpolation="bilinear")(x)
        skip = x
        x = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.Conv2D(8, 1)(x)
        x = L.BatchNormalization()(x)
        x = L.Add()([x, skip])
        x = L.ReLU(6.0)(x)
    logits = L.Conv2D(1, 1, name="logits")(x)
    prob = L.Activation("sigmoid", name="prob")(logits)
    model = keras.Model(x_in, [logits, prob])
    r = rng("models/graph_resize_decoder/weights")
    for w in model.weights:
        name = w.name
        if "moving_variance" in name or "gamma" in name:
            value = r.uniform(0.5, 1.5, size=w.shape)
        elif "logits" in name and "kernel" in name:
            value = r.uniform(-60.0, 60.0, size=w.shape)  # logits up to a few hundred
        elif "logits" in name:
            value = np.full(w.shape, -20.0)  # zero crossings inside the image
        else:
            value = r.uniform(-0.5, 0.5, size=w.shape)
        w.assign(value.astype(np.float32))
    return model


CASES = [
    dict(name="graph_resize_decoder",
         covers=["_FusedConv2D", "ResizeBilinear", "FusedDepthwiseConv2dNative", "AddV2", "Relu6", "Sigmoid"],
         description="tf_keras decoder: Conv2D relu6, 2x [bilinear UpSampling2D, DepthwiseConv2D, 1x1 Conv2D + "
                     "BatchNorm, Add skip, ReLU6], 1x1 Conv2D head with logits in the hundreds, sigmoid; "
                     "16x16x8 -> 64x64x1 (logits, prob)",
         fn=build(), inputs=[dict(shape=[1, 16, 16, 8], range=(0, 6))],
         notes="The resizes match tfjs to the bit (float64 lerps, as tfjs's CPU kernel); what remains is "
               "conv accumulation order (tfjs sums each output sequentially in float32, torch's kernels "
               "in blocks): ~5e-7 relative on the logits, ~2e-5 absolute on the sigmoid."),
]
