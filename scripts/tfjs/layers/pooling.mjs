// Pooling: same/valid, odd/even pool sizes, strides 1/2 (SAME average pooling does not count padding).
const one = (tf, layer) => tf.sequential({ layers: [layer] });
const p2 = [
  ['pool2_valid', { poolSize: 2 }, [2, 6, 5, 3]],
  ['pool3_same_s2', { poolSize: 3, strides: 2, padding: 'same' }, [2, 7, 6, 2]],
  ['pool2_same_s1', { poolSize: 2, strides: 1, padding: 'same' }, [2, 5, 5, 2]],
  ['pool3x2_same_s2_even', { poolSize: [3, 2], strides: 2, padding: 'same' }, [2, 6, 7, 2]],
  ['pool3_valid_s1', { poolSize: 3, strides: 1 }, [1, 5, 6, 2]],
  ['channels_first', { poolSize: 2, strides: 2, padding: 'same', dataFormat: 'channelsFirst' }, [2, 3, 5, 5]],
];

export const cases = [
  ...p2.flatMap(([n, cfg, shape]) => [
    { name: `max2d_${n}`, covers: ['MaxPooling2D'], description: `MaxPooling2D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.maxPooling2d({ ...cfg, inputShape: shape.slice(1) })), inputs: [{ shape }] },
    { name: `avg2d_${n}`, covers: ['AveragePooling2D'], description: `AveragePooling2D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.averagePooling2d({ ...cfg, inputShape: shape.slice(1) })), inputs: [{ shape }] },
  ]),
  ...[['pool3_same_s2', { poolSize: 3, strides: 2, padding: 'same' }], ['pool2_valid', { poolSize: 2 }]].flatMap(([n, cfg]) => [
    { name: `max1d_${n}`, covers: ['MaxPooling1D'], description: `MaxPooling1D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.maxPooling1d({ ...cfg, inputShape: [9, 3] })), inputs: [{ shape: [2, 9, 3] }] },
    { name: `avg1d_${n}`, covers: ['AveragePooling1D'], description: `AveragePooling1D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.averagePooling1d({ ...cfg, inputShape: [9, 3] })), inputs: [{ shape: [2, 9, 3] }] },
    { name: `max3d_${n}`, covers: ['MaxPooling3D'], description: `MaxPooling3D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.maxPooling3d({ ...cfg, inputShape: [5, 4, 5, 2] })), inputs: [{ shape: [1, 5, 4, 5, 2] }] },
    { name: `avg3d_${n}`, covers: ['AveragePooling3D'], description: `AveragePooling3D ${JSON.stringify(cfg)}`,
      build: (tf) => one(tf, tf.layers.averagePooling3d({ ...cfg, inputShape: [5, 4, 5, 2] })), inputs: [{ shape: [1, 5, 4, 5, 2] }] },
  ]),
  { name: 'global_avg_2d', covers: ['GlobalAveragePooling2D'], description: 'GlobalAveragePooling2D',
    build: (tf) => one(tf, tf.layers.globalAveragePooling2d({ inputShape: [4, 5, 3] })), inputs: [{ shape: [2, 4, 5, 3] }] },
  { name: 'global_max_2d_cf', covers: ['GlobalMaxPooling2D'], description: 'GlobalMaxPooling2D channels_first',
    build: (tf) => one(tf, tf.layers.globalMaxPooling2d({ dataFormat: 'channelsFirst', inputShape: [3, 4, 5] })), inputs: [{ shape: [2, 3, 4, 5] }] },
  { name: 'global_avg_1d', covers: ['GlobalAveragePooling1D'], description: 'GlobalAveragePooling1D',
    build: (tf) => one(tf, tf.layers.globalAveragePooling1d({ inputShape: [6, 3] })), inputs: [{ shape: [2, 6, 3] }] },
  { name: 'global_max_1d', covers: ['GlobalMaxPooling1D'], description: 'GlobalMaxPooling1D',
    build: (tf) => one(tf, tf.layers.globalMaxPooling1d({ inputShape: [6, 3] })), inputs: [{ shape: [2, 6, 3] }] },
  { name: 'global_avg_1d_masked_tfjs', covers: ['GlobalAveragePooling1D', 'Masking'], description: 'GlobalAveragePooling1D after Masking: tfjs ignores the mask',
    build: (tf) => tf.sequential({ layers: [tf.layers.masking({ maskValue: 0, inputShape: [4, 2] }), tf.layers.globalAveragePooling1d()] }),
    inputs: [{ shape: [2, 4, 2], values: [1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0] }], follows: 'tfjs',
    notes: 'tfjs GlobalAveragePooling1D ignores masks; Keras would average only the kept steps' },
];
