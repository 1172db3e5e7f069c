// Core layers: Dense, Activation, Dropout, SpatialDropout1D, Flatten, Reshape, Permute,
// RepeatVector, Masking, InputLayer.
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'dense_relu', covers: ['Dense', 'InputLayer'], description: 'Dense 4->5 relu',
    build: (tf) => seq(tf, [tf.layers.dense({ units: 5, activation: 'relu', inputShape: [4] })]),
    inputs: [{ shape: [3, 4] }],
  },
  {
    name: 'dense_no_bias_tanh_rank3', covers: ['Dense'], description: 'Dense without bias on a rank-3 input, tanh',
    build: (tf) => seq(tf, [tf.layers.dense({ units: 3, useBias: false, activation: 'tanh', inputShape: [2, 4] })]),
    inputs: [{ shape: [2, 2, 4] }],
  },
  {
    name: 'dense_softmax_chain', covers: ['Dense', 'Activation'], description: 'Dense, Activation(selu), Dense softmax',
    build: (tf) => seq(tf, [
      tf.layers.dense({ units: 6, inputShape: [5] }),
      tf.layers.activation({ activation: 'selu' }),
      tf.layers.dense({ units: 4, activation: 'softmax' }),
    ]),
    inputs: [{ shape: [4, 5] }],
  },
  {
    name: 'flatten_reshape_permute', covers: ['Flatten', 'Reshape', 'Permute'], description: 'Reshape, Permute, Flatten',
    build: (tf) => seq(tf, [
      tf.layers.reshape({ targetShape: [3, 4, 2], inputShape: [24] }),
      tf.layers.permute({ dims: [3, 1, 2] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3 }),
    ]),
    inputs: [{ shape: [2, 24] }],
  },
  {
    name: 'reshape_minus_one', covers: ['Reshape'], description: 'Reshape with -1',
    build: (tf) => seq(tf, [tf.layers.reshape({ targetShape: [-1, 3], inputShape: [4, 3, 2] })]),
    inputs: [{ shape: [2, 4, 3, 2] }],
  },
  {
    name: 'repeat_vector', covers: ['RepeatVector'], description: 'RepeatVector n=3',
    build: (tf) => seq(tf, [tf.layers.repeatVector({ n: 3, inputShape: [4] })]),
    inputs: [{ shape: [2, 4] }],
  },
  {
    name: 'dropout_inference', covers: ['Dropout', 'SpatialDropout1D'], description: 'Dropout and SpatialDropout1D are identity in predict',
    build: (tf) => seq(tf, [
      tf.layers.dense({ units: 4, inputShape: [3, 2] }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.spatialDropout1d({ rate: 0.3 }),
    ]),
    inputs: [{ shape: [2, 3, 2] }],
  },
  {
    name: 'masking_then_dense', covers: ['Masking'], description: 'Masking(0) zeroes masked steps before Dense',
    build: (tf) => seq(tf, [
      tf.layers.masking({ maskValue: 0, inputShape: [4, 3] }),
      tf.layers.dense({ units: 2 }),
    ]),
    inputs: [{ shape: [2, 4, 3], values: [1, 0, 2, 0, 0, 0, -1, 3, 0.5, 0, 0, 0] }],
  },
];
