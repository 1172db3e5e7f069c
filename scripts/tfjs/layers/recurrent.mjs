// Recurrent layers: SimpleRNN, GRU, LSTM (+ masks, go_backwards, return_state, initial_state),
// RNN over cells and StackedRNNCells, ConvLSTM2D.
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'simple_rnn_last', covers: ['SimpleRNN'], description: 'SimpleRNN(4) tanh, last output',
    build: (tf) => seq(tf, [tf.layers.simpleRNN({ units: 4, inputShape: [5, 3] })]),
    inputs: [{ shape: [2, 5, 3] }],
  },
  {
    name: 'simple_rnn_sequences_relu_backwards', covers: ['SimpleRNN'], description: 'SimpleRNN relu, return_sequences, go_backwards, no bias',
    build: (tf) => seq(tf, [tf.layers.simpleRNN({ units: 3, activation: 'relu', useBias: false, returnSequences: true, goBackwards: true, inputShape: [4, 2] })]),
    inputs: [{ shape: [2, 4, 2] }],
  },
  {
    name: 'gru_default', covers: ['GRU'], description: 'GRU(5) defaults (hard_sigmoid recurrent activation, reset_after=false)',
    build: (tf) => seq(tf, [tf.layers.gru({ units: 5, inputShape: [6, 3] })]),
    inputs: [{ shape: [3, 6, 3] }],
  },
  {
    name: 'gru_sequences_sigmoid', covers: ['GRU'], description: 'GRU sigmoid recurrent activation, return_sequences',
    build: (tf) => seq(tf, [tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid', returnSequences: true, inputShape: [4, 2] })]),
    inputs: [{ shape: [2, 4, 2] }],
  },
  {
    name: 'lstm_default', covers: ['LSTM'], description: 'LSTM(4) defaults',
    build: (tf) => seq(tf, [tf.layers.lstm({ units: 4, inputShape: [5, 3] })]),
    inputs: [{ shape: [2, 5, 3] }],
  },
  {
    name: 'lstm_stacked_sequences', covers: ['LSTM'], description: 'two LSTMs, the first returning sequences, sigmoid gates',
    build: (tf) => seq(tf, [
      tf.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [5, 3] }),
      tf.layers.lstm({ units: 3, goBackwards: true }),
    ]),
    inputs: [{ shape: [2, 5, 3] }],
  },
  {
    name: 'lstm_return_state', covers: ['LSTM'], description: 'LSTM return_sequences + return_state (3 outputs)',
    build: (tf) => {
      const input = tf.input({ shape: [4, 2] });
      const outs = tf.layers.lstm({ units: 3, returnSequences: true, returnState: true }).apply(input);
      return tf.model({ inputs: input, outputs: outs });
    },
    inputs: [{ shape: [2, 4, 2] }],
  },
  {
    name: 'lstm_initial_state', covers: ['LSTM'], description: 'encoder LSTM states feed a decoder LSTM as initial_state',
    build: (tf) => {
      const enc = tf.input({ shape: [4, 2] });
      const dec = tf.input({ shape: [3, 2] });
      const [, h, c] = tf.layers.lstm({ units: 3, returnState: true }).apply(enc);
      const out = tf.layers.lstm({ units: 3, returnSequences: true }).apply(dec, { initialState: [h, c] });
      return tf.model({ inputs: [enc, dec], outputs: out });
    },
    inputs: [{ shape: [2, 4, 2] }, { shape: [2, 3, 2] }],
  },
  {
    name: 'masked_lstm_gru', covers: ['Masking', 'LSTM', 'GRU', 'SimpleRNN'], description: 'Masking(0) feeds LSTM, GRU and SimpleRNN (masked steps keep state)',
    build: (tf) => {
      const input = tf.input({ shape: [5, 2] });
      const masked = tf.layers.masking({ maskValue: 0 }).apply(input);
      const a = tf.layers.lstm({ units: 3, returnSequences: true }).apply(masked);
      const b = tf.layers.gru({ units: 2 }).apply(a);
      const c = tf.layers.simpleRNN({ units: 2, goBackwards: true }).apply(masked);
      return tf.model({ inputs: input, outputs: [b, c] });
    },
    inputs: [{ shape: [2, 5, 2], values: [1, 2, 0, 0, 3, -1, 0, 0, 0.5, 0.5, 2, 1, 0, 0, 0, 0, 1, 1, -2, 3] }],
  },
  {
    name: 'rnn_lstm_cell', covers: ['RNN', 'LSTMCell'], description: 'RNN(LSTMCell) return_sequences',
    build: (tf) => seq(tf, [tf.layers.rnn({ cell: tf.layers.lstmCell({ units: 3 }), returnSequences: true, inputShape: [4, 2] })]),
    inputs: [{ shape: [2, 4, 2] }],
  },
  {
    name: 'rnn_stacked_cells', covers: ['RNN', 'StackedRNNCells', 'SimpleRNNCell', 'GRUCell', 'LSTMCell'], description: 'RNN over [SimpleRNNCell, GRUCell, LSTMCell]',
    build: (tf) => seq(tf, [tf.layers.rnn({
      cell: [tf.layers.simpleRNNCell({ units: 3 }), tf.layers.gruCell({ units: 4 }), tf.layers.lstmCell({ units: 2 })],
      inputShape: [5, 2],
    })]),
    inputs: [{ shape: [2, 5, 2] }],
  },
  {
    name: 'conv_lstm2d', covers: ['ConvLSTM2D', 'ConvLSTM2DCell'], description: 'ConvLSTM2D 3x3 same, return_sequences',
    build: (tf) => seq(tf, [tf.layers.convLstm2d({ filters: 2, kernelSize: 3, padding: 'same', returnSequences: true, inputShape: [3, 5, 5, 2] })]),
    inputs: [{ shape: [1, 3, 5, 5, 2] }],
  },
  {
    name: 'conv_lstm2d_valid_strides', covers: ['ConvLSTM2D'], description: 'ConvLSTM2D 2x2 valid stride 2, last output',
    build: (tf) => seq(tf, [tf.layers.convLstm2d({ filters: 3, kernelSize: 2, strides: 2, inputShape: [2, 6, 6, 1] })]),
    inputs: [{ shape: [2, 2, 6, 6, 1] }],
  },
  {
    name: 'conv_lstm2d_softmax', covers: ['ConvLSTM2D'], description: 'ConvLSTM2D with softmax activation (reduces over channels)',
    build: (tf) => seq(tf, [tf.layers.convLstm2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'softmax', inputShape: [2, 4, 4, 2] })]),
    inputs: [{ shape: [1, 2, 4, 4, 2] }],
  },
  // RNN over a list of cells with return_state: tfjs (StackedRNNCells) returns the states in
  // reverse cell order (the last cell's first), each cell's own states in order ([h, c]).
  {
    name: 'rnn_stacked_cells_return_state', covers: ['RNN', 'StackedRNNCells', 'SimpleRNNCell', 'GRUCell', 'LSTMCell'],
    description: 'RNN over [SimpleRNNCell(3), GRUCell(4), LSTMCell(2)], return_state (states last cell first)',
    build: (tf) => {
      const input = tf.input({ shape: [5, 2] });
      const outs = tf.layers.rnn({
        cell: [tf.layers.simpleRNNCell({ units: 3 }), tf.layers.gruCell({ units: 4 }), tf.layers.lstmCell({ units: 2 })],
        returnState: true,
      }).apply(input);
      return tf.model({ inputs: input, outputs: outs });
    },
    inputs: [{ shape: [2, 5, 2] }],
  },
  {
    name: 'rnn_stacked_cells_return_state_sequences_backwards', covers: ['RNN', 'StackedRNNCells', 'LSTMCell', 'SimpleRNNCell', 'GRUCell'],
    description: 'RNN over [LSTMCell(3), SimpleRNNCell(2), LSTMCell(4), GRUCell(2)], return_sequences + return_state + go_backwards',
    build: (tf) => {
      const input = tf.input({ shape: [4, 3] });
      const outs = tf.layers.rnn({
        cell: [tf.layers.lstmCell({ units: 3 }), tf.layers.simpleRNNCell({ units: 2 }),
          tf.layers.lstmCell({ units: 4, recurrentActivation: 'sigmoid' }), tf.layers.gruCell({ units: 2 })],
        returnSequences: true, returnState: true, goBackwards: true,
      }).apply(input);
      return tf.model({ inputs: input, outputs: outs });
    },
    inputs: [{ shape: [2, 4, 3] }],
  },
  {
    name: 'rnn_stacked_cells_initial_state', covers: ['RNN', 'StackedRNNCells', 'LSTMCell', 'GRUCell'],
    description: 'stacked-cell encoder states (tfjs order) feed a stacked-cell decoder as initial_state',
    build: (tf) => {
      const enc = tf.input({ shape: [4, 2] });
      const dec = tf.input({ shape: [3, 2] });
      const cells = () => [tf.layers.lstmCell({ units: 3 }), tf.layers.gruCell({ units: 2 })];
      const [, ...states] = tf.layers.rnn({ cell: cells(), returnState: true }).apply(enc);
      const out = tf.layers.rnn({ cell: cells(), returnSequences: true }).apply(dec, { initialState: states });
      return tf.model({ inputs: [enc, dec], outputs: [out, ...states] });
    },
    inputs: [{ shape: [2, 4, 2] }, { shape: [2, 3, 2] }],
  },
  // ConvLSTM2D on channels-first frames (batch, time, channels, rows, cols): NCHW convolutions,
  // activations applied to the NCHW tensors as they are (softmax then reduces over columns).
  {
    name: 'conv_lstm2d_channels_first', covers: ['ConvLSTM2D', 'ConvLSTM2DCell'],
    description: 'ConvLSTM2D channels_first 3x3 same, return_sequences',
    build: (tf) => seq(tf, [tf.layers.convLstm2d({ filters: 2, kernelSize: 3, padding: 'same', dataFormat: 'channelsFirst', returnSequences: true, inputShape: [3, 2, 5, 4] })]),
    inputs: [{ shape: [1, 3, 2, 5, 4] }],
  },
  {
    name: 'conv_lstm2d_channels_first_valid_state', covers: ['ConvLSTM2D'],
    description: 'ConvLSTM2D channels_first 2x3 valid stride 2, softmax activation, return_state',
    build: (tf) => {
      const input = tf.input({ shape: [2, 3, 6, 7] });
      const outs = tf.layers.convLstm2d({ filters: 3, kernelSize: [2, 3], strides: 2, activation: 'softmax', dataFormat: 'channelsFirst', returnState: true }).apply(input);
      return tf.model({ inputs: input, outputs: outs });
    },
    inputs: [{ shape: [2, 2, 3, 6, 7] }],
  },
];
