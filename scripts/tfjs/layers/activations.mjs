// Advanced activation layers, and every activation identifier through the Activation layer.
const one = (tf, layer) => tf.sequential({ layers: [layer] });
const X = { shape: [2, 3, 5], range: [-4, 4] };
const IDS = ['elu', 'hardSigmoid', 'linear', 'relu', 'relu6', 'selu', 'sigmoid', 'softmax', 'softplus',
  'softsign', 'tanh', 'swish', 'mish', 'gelu', 'gelu_new', 'logSoftmax'];

export const cases = [
  { name: 'relu_plain', covers: ['ReLU'], description: 'ReLU', build: (tf) => one(tf, tf.layers.reLU({ inputShape: [3, 5] })), inputs: [X] },
  { name: 'relu_max_value', covers: ['ReLU'], description: 'ReLU max 1.5', build: (tf) => one(tf, tf.layers.reLU({ maxValue: 1.5, inputShape: [3, 5] })), inputs: [X] },
  { name: 'leaky_relu', covers: ['LeakyReLU'], description: 'LeakyReLU alpha 0.1', build: (tf) => one(tf, tf.layers.leakyReLU({ alpha: 0.1, inputShape: [3, 5] })), inputs: [X] },
  { name: 'leaky_relu_default', covers: ['LeakyReLU'], description: 'LeakyReLU default alpha', build: (tf) => one(tf, tf.layers.leakyReLU({ inputShape: [3, 5] })), inputs: [X] },
  { name: 'prelu', covers: ['PReLU'], description: 'PReLU full alpha', build: (tf) => one(tf, tf.layers.prelu({ inputShape: [3, 5] })), inputs: [X] },
  { name: 'prelu_shared_axes', covers: ['PReLU'], description: 'PReLU shared axis 1',
    build: (tf) => one(tf, tf.layers.prelu({ sharedAxes: [1], inputShape: [3, 5] })), inputs: [X] },
  { name: 'elu', covers: ['ELU'], description: 'ELU alpha 1', build: (tf) => one(tf, tf.layers.elu({ inputShape: [3, 5] })), inputs: [X] },
  { name: 'thresholded_relu', covers: ['ThresholdedReLU'], description: 'ThresholdedReLU theta 0.7',
    build: (tf) => one(tf, tf.layers.thresholdedReLU({ theta: 0.7, inputShape: [3, 5] })), inputs: [X] },
  { name: 'softmax_layer', covers: ['Softmax'], description: 'Softmax layer (last axis)',
    build: (tf) => one(tf, tf.layers.softmax({ axis: -1, inputShape: [3, 5] })), inputs: [X] },
  // An axis list runs one softmax jointly over all listed axes (exp(x - logSumExp(x, axes))).
  { name: 'softmax_axes_list', covers: ['Softmax'], description: 'Softmax layer axis [1, 2] (joint over both)',
    build: (tf) => one(tf, tf.layers.softmax({ axis: [1, 2], inputShape: [3, 5] })), inputs: [X] },
  { name: 'softmax_axes_list_rank4', covers: ['Softmax'], description: 'Softmax layer axis [1, 2] on rank 4 (not the last axis)',
    build: (tf) => one(tf, tf.layers.softmax({ axis: [1, 2], inputShape: [3, 2, 4] })), inputs: [{ shape: [2, 3, 2, 4], range: [-4, 4] }] },
  ...IDS.map((id) => ({
    name: `activation_${id.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}`, covers: ['Activation'],
    description: `Activation('${id}')`, build: (tf) => one(tf, tf.layers.activation({ activation: id, inputShape: [3, 5] })),
    inputs: [X], notes: id === 'gelu_new' ? 'tfjs saves gelu_new but cannot read it back (looks up geluNew)' : undefined,
  })),
];
