// Spatial reshaping layers tfjs registers: Cropping2D, ZeroPadding2D, UpSampling2D.
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'cropping2d_asymmetric', covers: ['Cropping2D'], description: 'Cropping2D ((1,2),(0,3))',
    build: (tf) => seq(tf, [tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]], inputShape: [7, 8, 2] })]),
    inputs: [{ shape: [2, 7, 8, 2] }],
  },
  {
    name: 'cropping2d_channels_first', covers: ['Cropping2D'], description: 'Cropping2D(1) channels_first',
    build: (tf) => seq(tf, [tf.layers.cropping2D({ cropping: 1, dataFormat: 'channelsFirst', inputShape: [2, 5, 6] })]),
    inputs: [{ shape: [2, 2, 5, 6] }],
  },
  {
    name: 'zero_padding2d', covers: ['ZeroPadding2D'], description: 'ZeroPadding2D ((1,2),(3,0)) then Conv2D',
    build: (tf) => seq(tf, [
      tf.layers.zeroPadding2d({ padding: [[1, 2], [3, 0]], inputShape: [4, 5, 2] }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3 }),
    ]),
    inputs: [{ shape: [2, 4, 5, 2] }],
  },
  {
    name: 'zero_padding2d_default_channels_first', covers: ['ZeroPadding2D'], description: 'ZeroPadding2D default (1) channels_first',
    build: (tf) => seq(tf, [tf.layers.zeroPadding2d({ dataFormat: 'channelsFirst', inputShape: [2, 3, 4] })]),
    inputs: [{ shape: [1, 2, 3, 4] }],
  },
  {
    name: 'upsampling2d_nearest', covers: ['UpSampling2D'], description: 'UpSampling2D size (2,3) nearest',
    build: (tf) => seq(tf, [tf.layers.upSampling2d({ size: [2, 3], inputShape: [3, 4, 2] })]),
    inputs: [{ shape: [2, 3, 4, 2] }],
  },
  {
    name: 'upsampling2d_bilinear', covers: ['UpSampling2D'], description: 'UpSampling2D size 2 bilinear (TF1 sampling in tfjs)',
    build: (tf) => seq(tf, [tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear', inputShape: [3, 5, 2] })]),
    inputs: [{ shape: [2, 3, 5, 2] }],
  },
  {
    name: 'upsampling2d_bilinear_channels_first', covers: ['UpSampling2D'], description: 'UpSampling2D (3,2) bilinear channels_first',
    build: (tf) => seq(tf, [tf.layers.upSampling2d({ size: [3, 2], interpolation: 'bilinear', dataFormat: 'channelsFirst', inputShape: [2, 3, 4] })]),
    inputs: [{ shape: [1, 2, 3, 4] }],
  },
];
