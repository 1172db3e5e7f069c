// Embedding layers: Embedding (plain, mask_zero into a masking consumer, rank-3 ids).
const seq = (tf, layers) => tf.sequential({ layers });

export const cases = [
  {
    name: 'embedding_basic', covers: ['Embedding'], description: 'Embedding 10x4 on int32 ids',
    build: (tf) => seq(tf, [tf.layers.embedding({ inputDim: 10, outputDim: 4, inputShape: [5] })]),
    inputs: [{ shape: [3, 5], dtype: 'int32', range: [0, 10] }],
  },
  {
    name: 'embedding_float_ids', covers: ['Embedding'], description: 'Embedding on float ids (truncated to int)',
    build: (tf) => seq(tf, [tf.layers.embedding({ inputDim: 6, outputDim: 3, inputShape: [4] })]),
    inputs: [{ shape: [2, 4], values: [0, 1.7, 5, 2.2, 3, 4.9, 0.1, 1] }],
  },
  {
    name: 'embedding_rank3_ids', covers: ['Embedding'], description: 'Embedding on (batch, 2, 3) ids',
    build: (tf) => seq(tf, [tf.layers.embedding({ inputDim: 7, outputDim: 2, inputShape: [2, 3] })]),
    inputs: [{ shape: [2, 2, 3], dtype: 'int32', range: [0, 7] }],
  },
  {
    name: 'embedding_mask_zero_gap', covers: ['Embedding', 'GlobalAveragePooling1D'], description: 'Embedding(mask_zero) then Dense (mask passes)',
    build: (tf) => seq(tf, [
      tf.layers.embedding({ inputDim: 8, outputDim: 3, maskZero: true, inputShape: [5] }),
      tf.layers.dense({ units: 2 }),
    ]),
    inputs: [{ shape: [2, 5], values: [1, 2, 0, 0, 0, 7, 3, 4, 5, 0] }],
  },
];
