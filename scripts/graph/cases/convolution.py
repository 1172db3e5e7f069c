"""Convolutions and pooling; weights are seeded constants (become model weights)."""

import tensorflow as tf
from casekit import weights

X = dict(shape=[1, 7, 7, 3])


def W(key, shape):
    return tf.constant(weights("convolution/" + key, shape))


# Dilated convolutions on an input of unknown H/W: TF lowers them through SpaceToBatchND → VALID conv
# → BatchToSpaceND with paddings / crops computed from the input's shape at run time (Grappler cannot
# fold them), as MobileNetV3-style segmentation heads have. The inputs' sizes are chosen so that the
# extra padding (to a multiple of the block) and the crops are non-zero.
XD = dict(shape=[1, 9, 10, 4], signature_shape=[1, None, None, 4])


def _atrous_relu(x):
    y = tf.nn.atrous_conv2d(x, W("atrous", [3, 3, 4, 5]), 2, "SAME")
    return tf.nn.relu(tf.nn.bias_add(y, W("atrous_b", [5])))


def _space_to_batch_round_trip(x):
    pads = tf.stack([[0, 2 - tf.shape(x)[1] % 2], [1, 1 + tf.shape(x)[2] % 2]])
    return tf.batch_to_space(tf.space_to_batch(x, [2, 2], pads) * 2.0 + 1.0, [2, 2], pads)


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
    dict(name="depthwise_dilated_dynamic_hw", covers=["SpaceToBatchND", "DepthwiseConv2dNative", "BatchToSpaceND"],
         description="depthwise 3x3 dilation 2 SAME on an input of unknown H/W (paddings and crops computed "
                     "from the shape: one dilated depthwise conv after import)",
         fn=lambda x: tf.nn.depthwise_conv2d(x, W("dwd", [3, 3, 4, 2]), [1, 1, 1, 1], "SAME", dilations=[2, 2]),
         inputs=[XD]),
    dict(name="depthwise_dilated_valid_dynamic_hw", covers=["SpaceToBatchND", "DepthwiseConv2dNative", "BatchToSpaceND"],
         description="depthwise 3x3 dilation (2, 3) VALID on an input of unknown H/W",
         fn=lambda x: tf.nn.depthwise_conv2d(x, W("dwv", [3, 3, 4, 1]), [1, 1, 1, 1], "VALID", dilations=[2, 3]),
         inputs=[XD]),
    dict(name="depthwise_dilated_static_hw", covers=["SpaceToBatchND", "DepthwiseConv2dNative", "BatchToSpaceND"],
         description="depthwise 3x3 dilation 2 SAME + bias + relu6 on a known 9x10 input (constant paddings/crops)",
         fn=lambda x: tf.nn.relu6(tf.nn.depthwise_conv2d(x, W("dws", [3, 3, 4, 1]), [1, 1, 1, 1], "SAME",
                                                         dilations=[2, 2]) + W("dws_b", [4])),
         inputs=[dict(shape=[1, 9, 10, 4])]),
    dict(name="atrous_conv2d_dynamic_hw", covers=["SpaceToBatchND", "BatchToSpaceND"],
         description="tf.nn.atrous_conv2d rate 2 SAME + bias + relu on an input of unknown H/W",
         fn=_atrous_relu, inputs=[XD]),
    dict(name="space_to_batch_dynamic_paddings", covers=["SpaceToBatchND", "BatchToSpaceND"],
         description="SpaceToBatchND / BatchToSpaceND with paddings computed from the input shape, "
                     "and an op between them that is not a conv",
         fn=_space_to_batch_round_trip, inputs=[XD]),
]
