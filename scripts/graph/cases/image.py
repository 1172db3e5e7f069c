"""Image resizing and crop_and_resize (raw ops so every attribute combination appears)."""

import tensorflow as tf

IMG = dict(shape=[1, 4, 5, 2])


def bilinear(ac, hp, size=(7, 3)):
    return lambda x: tf.raw_ops.ResizeBilinear(images=x, size=list(size), align_corners=ac, half_pixel_centers=hp)


def nearest(ac, hp, size=(7, 3)):
    return lambda x: tf.raw_ops.ResizeNearestNeighbor(images=x, size=list(size), align_corners=ac,
                                                      half_pixel_centers=hp)


CASES = [
    dict(name="resize_bilinear_plain", covers=["ResizeBilinear"], description="bilinear 4x5->7x3, legacy (neither)",
         fn=bilinear(False, False), inputs=[IMG]),
    dict(name="resize_bilinear_align_corners", covers=["ResizeBilinear"], description="bilinear align_corners",
         fn=bilinear(True, False), inputs=[IMG]),
    dict(name="resize_bilinear_half_pixel", covers=["ResizeBilinear"], description="bilinear half_pixel_centers",
         fn=bilinear(False, True), inputs=[IMG]),
    dict(name="resize_bilinear_upscale", covers=["ResizeBilinear"], description="tf.image.resize 2x (half-pixel)",
         fn=lambda x: tf.image.resize(x, [8, 10]), inputs=[IMG], dynamic_batch=True),
    # tolerance 0: tfjs's CPU kernel computes weights and lerps in float64 and rounds once to
    # float32; float32 lerps (as TF's kernel) differ by a few ulps. Odd ratios, values in the thousands.
    dict(name="resize_bilinear_exact_half_pixel", covers=["ResizeBilinear"],
         description="bilinear half_pixel_centers 7x9->17x23, values up to 1e4: bit-exact with tfjs",
         fn=bilinear(False, True, (17, 23)), inputs=[dict(shape=[1, 7, 9, 3], range=(-1e4, 1e4))], tolerance=0.0),
    dict(name="resize_bilinear_exact_align_corners", covers=["ResizeBilinear"],
         description="bilinear align_corners 7x9->17x23, values up to 1e4: bit-exact with tfjs",
         fn=bilinear(True, False, (17, 23)), inputs=[dict(shape=[1, 7, 9, 3], range=(-1e4, 1e4))], tolerance=0.0),
    dict(name="resize_bilinear_exact_legacy", covers=["ResizeBilinear"],
         description="bilinear legacy (neither flag) 9x7->5x13 (down and up), values up to 1e4: bit-exact with tfjs",
         fn=bilinear(False, False, (5, 13)), inputs=[dict(shape=[2, 9, 7, 3], range=(-1e4, 1e4))], tolerance=0.0),
    dict(name="resize_nearest_plain", covers=["ResizeNearestNeighbor"], description="nearest legacy",
         fn=nearest(False, False), inputs=[IMG]),
    dict(name="resize_nearest_align_corners", covers=["ResizeNearestNeighbor"], description="nearest align_corners",
         fn=nearest(True, False), inputs=[IMG]),
    dict(name="resize_nearest_half_pixel", covers=["ResizeNearestNeighbor"], description="nearest half_pixel_centers",
         fn=nearest(False, True), inputs=[IMG]),
    dict(name="resize_nearest_upscale", covers=["ResizeNearestNeighbor"], description="nearest 4x5->9x11 half-pixel",
         fn=nearest(False, True, (9, 11)), inputs=[IMG]),
    dict(name="crop_and_resize_bilinear", covers=["CropAndResize"], description="crop_and_resize bilinear 3x3 crops",
         fn=lambda x, b, i: tf.image.crop_and_resize(x, b, i, [3, 3]),
         inputs=[dict(shape=[2, 5, 6, 2]),
                 dict(shape=[3, 4], values=[0.0, 0.0, 1.0, 1.0, 0.1, 0.2, 0.7, 0.9, 0.8, 0.9, 0.2, 0.3]),
                 dict(shape=[3], dtype="int32", values=[0, 1, 1])]),
    dict(name="crop_and_resize_nearest_extrap", covers=["CropAndResize"],
         description="crop_and_resize nearest with boxes outside the image (extrapolation_value 0.5)",
         fn=lambda x, b, i: tf.image.crop_and_resize(x, b, i, [4, 2], method="nearest", extrapolation_value=0.5),
         inputs=[dict(shape=[2, 5, 6, 2]),
                 dict(shape=[2, 4], values=[-0.2, 0.1, 0.6, 1.3, 0.0, 0.0, 0.0, 1.0]),
                 dict(shape=[2], dtype="int32", values=[1, 0])]),
]
