// Preprocessing layers: Rescaling, CenterCrop, Resizing, CategoryEncoding (RandomWidth is
// random even in tfjs predict, so it is tested in Python against Keras semantics).
// tfjs 4.22's CenterCrop/CategoryEncoding computeOutputShape overwrite their input's shape
// in place, which breaks the model's input check; an identity Reshape in front absorbs that.
const fn = (tf, shape, layer, dtype = 'float32') => {
  const input = tf.input({ shape, dtype });
  const shield = tf.layers.reshape({ targetShape: shape }).apply(input);
  return tf.model({ inputs: input, outputs: layer.apply(shield) });
};

// tfjs 4.22's Resizing (and CenterCrop's upsizing branch) pass the call's input *list* to
// resizeBilinear and fail inside any model; this shim hands them the one tensor, keeping
// tfjs's own kernels and flags (the references are tfjs's resize semantics).
const unwrapList = (layer) => {
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => call(Array.isArray(inputs) ? inputs[0] : inputs, kwargs);
  return layer;
};

export const cases = [
  {
    name: 'rescaling', covers: ['Rescaling'], description: 'Rescaling 1/255 offset -0.5',
    build: (tf) => fn(tf, [3, 3, 2], tf.layers.rescaling({ scale: 1 / 255, offset: -0.5 })),
    inputs: [{ shape: [2, 3, 3, 2], range: [0, 255] }],
  },
  {
    name: 'center_crop_even', covers: ['CenterCrop'], description: 'CenterCrop 8x10 → 4x6',
    build: (tf) => fn(tf, [8, 10, 2], tf.layers.centerCrop({ height: 4, width: 6 })),
    inputs: [{ shape: [2, 8, 10, 2] }],
  },
  {
    name: 'center_crop_upsize', covers: ['CenterCrop'], description: 'CenterCrop larger than the input resizes bilinearly',
    build: (tf) => fn(tf, [4, 3, 1], unwrapList(tf.layers.centerCrop({ height: 6, width: 5 }))),
    inputs: [{ shape: [1, 4, 3, 1] }],
  },
  {
    name: 'resizing_bilinear', covers: ['Resizing'], description: 'Resizing 5x7 → 3x4 bilinear (tfjs aligns corners)',
    notes: 'tfjs Resizing fails inside models (list passed to resizeBilinear); shimmed to unwrap the list',
    build: (tf) => fn(tf, [5, 7, 2], unwrapList(tf.layers.resizing({ height: 3, width: 4 }))),
    inputs: [{ shape: [2, 5, 7, 2] }],
  },
  {
    name: 'resizing_nearest_up', covers: ['Resizing'], description: 'Resizing 3x3 → 7x5 nearest',
    build: (tf) => fn(tf, [3, 3, 1], unwrapList(tf.layers.resizing({ height: 7, width: 5, interpolation: 'nearest' }))),
    inputs: [{ shape: [1, 3, 3, 1] }],
  },
  {
    name: 'resizing_crop_to_aspect_ratio', covers: ['Resizing'], description: 'Resizing with cropToAspectRatio (tfjs: no corner alignment)',
    build: (tf) => fn(tf, [6, 9, 1], unwrapList(tf.layers.resizing({ height: 4, width: 4, cropToAspectRatio: true }))),
    inputs: [{ shape: [1, 6, 9, 1] }],
  },
  {
    name: 'category_encoding_multi_hot', covers: ['CategoryEncoding'], description: 'CategoryEncoding multiHot',
    build: (tf) => fn(tf, [3], tf.layers.categoryEncoding({ numTokens: 6, outputMode: 'multiHot' }), 'int32'),
    inputs: [{ shape: [3, 3], dtype: 'int32', values: [0, 1, 1, 5, 2, 0, 3, 3, 3] }],
  },
  {
    name: 'category_encoding_one_hot', covers: ['CategoryEncoding'], description: 'CategoryEncoding oneHot on (batch, 1)',
    build: (tf) => fn(tf, [1], tf.layers.categoryEncoding({ numTokens: 4, outputMode: 'oneHot' }), 'int32'),
    inputs: [{ shape: [3, 1], dtype: 'int32', values: [3, 0, 2] }],
  },
  {
    name: 'category_encoding_count', covers: ['CategoryEncoding'], description: 'CategoryEncoding count',
    build: (tf) => fn(tf, [4], tf.layers.categoryEncoding({ numTokens: 5, outputMode: 'count' }), 'int32'),
    inputs: [{ shape: [2, 4], dtype: 'int32', values: [1, 1, 4, 0, 2, 2, 2, 3] }],
  },
];
