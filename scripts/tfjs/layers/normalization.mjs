// BatchNormalization (inference and training=true batch statistics), LayerNormalization.
const one = (tf, layer) => tf.sequential({ layers: [layer] });

export const cases = [
  { name: 'batchnorm_nhwc', covers: ['BatchNormalization'], description: 'BatchNormalization on NHWC, inference',
    build: (tf) => one(tf, tf.layers.batchNormalization({ inputShape: [4, 5, 3] })), inputs: [{ shape: [2, 4, 5, 3] }] },
  { name: 'batchnorm_dense_eps_nocenter', covers: ['BatchNormalization'], description: 'rank 2, epsilon 0.01, center=false',
    build: (tf) => one(tf, tf.layers.batchNormalization({ inputShape: [6], epsilon: 0.01, center: false })), inputs: [{ shape: [3, 6] }] },
  { name: 'batchnorm_noscale', covers: ['BatchNormalization'], description: 'scale=false, rank 3',
    build: (tf) => one(tf, tf.layers.batchNormalization({ inputShape: [5, 4], scale: false })), inputs: [{ shape: [2, 5, 4] }] },
  { name: 'batchnorm_training_batch_stats', covers: ['BatchNormalization'], description: 'training=true: batch statistics (biased variance)',
    build: (tf) => one(tf, tf.layers.batchNormalization({ inputShape: [3, 3, 4], momentum: 0.9 })), inputs: [{ shape: [4, 3, 3, 4] }],
    training: true },
  { name: 'layernorm_last_axis', covers: ['LayerNormalization'], description: 'LayerNormalization axis -1',
    build: (tf) => one(tf, tf.layers.layerNormalization({ inputShape: [5, 6] })), inputs: [{ shape: [2, 5, 6] }] },
  { name: 'layernorm_axes_12_eps', covers: ['LayerNormalization'], description: 'LayerNormalization axis [1, 2], epsilon 1e-5',
    build: (tf) => one(tf, tf.layers.layerNormalization({ axis: [1, 2], epsilon: 1e-5, inputShape: [3, 4] })), inputs: [{ shape: [2, 3, 4] }] },
  { name: 'layernorm_no_center_no_scale', covers: ['LayerNormalization'], description: 'center=false, scale=false',
    build: (tf) => one(tf, tf.layers.layerNormalization({ center: false, scale: false, inputShape: [7] })), inputs: [{ shape: [3, 7] }] },
];
