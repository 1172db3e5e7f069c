// Wrappers: TimeDistributed and Bidirectional (every merge mode, return_state).
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'time_distributed_dense', covers: ['TimeDistributed'], description: 'TimeDistributed(Dense(3))',
    build: (tf) => seq(tf, [tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, activation: 'relu' }), inputShape: [4, 5] })]),
    inputs: [{ shape: [2, 4, 5] }],
  },
  {
    name: 'time_distributed_conv', covers: ['TimeDistributed', 'Conv2D'], description: 'TimeDistributed(Conv2D) over frames',
    build: (tf) => seq(tf, [tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }), inputShape: [3, 5, 5, 2] })]),
    inputs: [{ shape: [1, 3, 5, 5, 2] }],
  },
  {
    name: 'bidirectional_lstm_concat', covers: ['Bidirectional', 'LSTM'], description: 'Bidirectional(LSTM) concat, return_sequences',
    build: (tf) => seq(tf, [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true }), inputShape: [4, 2] })]),
    inputs: [{ shape: [2, 4, 2] }],
  },
  ...['sum', 'mul', 'ave'].map((mode) => ({
    name: `bidirectional_gru_${mode}`, covers: ['Bidirectional', 'GRU'], description: `Bidirectional(GRU) merge ${mode}`,
    build: (tf) => seq(tf, [tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3 }), mergeMode: mode, inputShape: [5, 2] })]),
    inputs: [{ shape: [2, 5, 2] }],
  })),
  {
    name: 'bidirectional_masked_simple_rnn', covers: ['Bidirectional', 'SimpleRNN', 'Embedding'], description: 'Embedding(mask_zero) → Bidirectional(SimpleRNN) sequences',
    build: (tf) => seq(tf, [
      tf.layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true, inputShape: [5] }),
      tf.layers.bidirectional({ layer: tf.layers.simpleRNN({ units: 2, returnSequences: true }) }),
    ]),
    inputs: [{ shape: [2, 5], dtype: 'int32', values: [1, 4, 0, 0, 0, 8, 2, 3, 5, 0] }],
  },
];
