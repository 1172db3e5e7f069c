"""Convolutions and pooling; weights are seeded constants (become model weights)."""

import tensorflow as tf
from casekit import weights

X = dict(shape=[1, 7, 7, 3])


def W(key, shape):
    return tf.constant(weights("convolution/" + key, shape))


CASES = [
    dict(name="conv2d_same", covers=["Conv2D"], description="3x3 conv SAME stride 1",
         fn=lambda x: tf.nn.conv2d(x, W("a", [3, 3, 3, 4]), 1, "SAME"), inputs=[X], dynamic_batch=True),
    dict(name="conv2d_valid", covers=["Conv2D"], description="3x3 conv VALID",
         fn=lambda x: tf.nn.conv2d(x, W("b", [3, 3, 3, 4]), 1, "VALID"), inputs=[X]),
    dict(name="conv2d_stride2_same", covers=["Conv2D"], description="3x3 conv SAME stride 2 (odd input)",
         fn=lambda x: tf.nn.conv2d(x, W("c", [3, 3, 3, 4]), 2, "SAME"), inputs=[X]),
    dict(name="conv2d_stride2_valid", covers=["Conv2D"], description="2x2 conv VALID stride 2",
         fn=lambda x: tf.nn.conv2d(x, W("c2", [2, 2, 3, 4]), [1, 2, 2, 1], "VALID"), inputs=[X]),
    dict(name="conv2d_dilation2", covers=["Conv2D"], description="3x3 conv dilation 2 SAME",
         fn=lambda x: tf.nn.conv2d(x, W("d", [3, 3, 3, 2]), 1, "SAME", dilations=2), inputs=[X]),
    dict(name="conv2d_bias_relu", covers=["_FusedConv2D"], description="conv + bias + relu (grappler fuses)",
         fn=lambda x: tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, W("e", [3, 3, 3, 4]), 1, "SAME"), W("eb", [4]))),
         inputs=[X], dynamic_batch=True),
    dict(name="conv2d_bias_relu6", covers=["_FusedConv2D"], description="conv + bias + relu6 (fused)",
         fn=lambda x: tf.nn.relu6(3.0 * tf.nn.bias_add(tf.nn.conv2d(x, W("f", [3, 3, 3, 4]), 2, "VALID"),
                                                       W("fb", [4]))),
         inputs=[X]),
    dict(name="conv2d_bias", covers=["_FusedConv2D"], description="conv + bias only",
         fn=lambda x: tf.nn.bias_add(tf.nn.conv2d(x, W("g", [1, 1, 3, 5]), 1, "VALID"), W("gb", [5])),
         inputs=[X]),
    dict(name="depthwise_same", covers=["DepthwiseConv2dNative"], description="depthwise 3x3 multiplier 2 SAME",
         fn=lambda x: tf.nn.depthwise_conv2d(x, W("h", [3, 3, 3, 2]), [1, 1, 1, 1], "SAME"), inputs=[X]),
    dict(name="depthwise_bias_relu", covers=["FusedDepthwiseConv2dNative"],
         description="depthwise stride 2 + bias + relu (fused)",
         fn=lambda x: tf.nn.relu(tf.nn.bias_add(tf.nn.depthwise_conv2d(x, W("i", [3, 3, 3, 1]), [1, 2, 2, 1], "SAME"),
                                                W("ib", [3]))),
         inputs=[X]),
    dict(name="depthwise_nobias_relu6", covers=["FusedDepthwiseConv2dNative"],
         description="depthwise without bias + relu6: fused_ops ['NoOp', 'Relu6'] (as in MobileNetV2)",
         fn=lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(x, W("k", [3, 3, 3, 1]), [1, 1, 1, 1], "SAME")),
         inputs=[X]),
    dict(name="conv2d_transpose", covers=["Conv2DBackpropInput"], description="conv2d_transpose 3x3 stride 2 SAME",
         fn=lambda x: tf.nn.conv2d_transpose(x, W("j", [3, 3, 2, 3]), [1, 14, 14, 2], 2, "SAME"), inputs=[X]),
    dict(name="conv2d_transpose_valid", covers=["Conv2DBackpropInput"], description="conv2d_transpose 2x2 stride 2 VALID",
         fn=lambda x: tf.nn.conv2d_transpose(x, W("k", [2, 2, 4, 3]), [1, 14, 14, 4], 2, "VALID"), inputs=[X]),
    dict(name="max_pool_same", covers=["MaxPool"], description="max pool 3x3 stride 2 SAME",
         fn=lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), inputs=[X]),
    dict(name="max_pool_valid", covers=["MaxPool"], description="max pool 2x2 stride 2 VALID",
         fn=lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), inputs=[X]),
    dict(name="avg_pool_same", covers=["AvgPool"], description="avg pool 3x3 stride 2 SAME (edge windows smaller)",
         fn=lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), inputs=[X]),
    dict(name="avg_pool_valid", covers=["AvgPool"], description="avg pool 2x2 stride 1 VALID",
         fn=lambda x: tf.nn.avg_pool2d(x, 2, 1, "VALID"), inputs=[X]),
    dict(name="conv3d", covers=["Conv3D"], description="conv3d 2x2x2 SAME",
         fn=lambda x: tf.nn.conv3d(x, W("l", [2, 2, 2, 2, 3]), [1, 1, 1, 1, 1], "SAME"),
         inputs=[dict(shape=[1, 4, 4, 4, 2])]),
    dict(name="max_pool3d", covers=["MaxPool3D"], description="max pool 3d 2x2x2 VALID",
         fn=lambda x: tf.nn.max_pool3d(x, 2, 2, "VALID"), inputs=[dict(shape=[1, 4, 4, 4, 2])]),
]
