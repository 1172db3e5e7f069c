// Merge layers on two or three inputs.
function merged(tf, make, shapes) {
  const inputs = shapes.map((s, i) => tf.input({ shape: s, name: `in${i}` }));
  return tf.model({ inputs, outputs: make(tf).apply(inputs) });
}
const two = [{ shape: [2, 3, 4] }, { shape: [2, 3, 4] }];
const three = [{ shape: [2, 4] }, { shape: [2, 4] }, { shape: [2, 4] }];

export const cases = [
  { name: 'add3', covers: ['Add'], description: 'Add of three', build: (tf) => merged(tf, (t) => t.layers.add(), [[4], [4], [4]]), inputs: three },
  { name: 'multiply', covers: ['Multiply'], description: 'Multiply', build: (tf) => merged(tf, (t) => t.layers.multiply(), [[3, 4], [3, 4]]), inputs: two },
  { name: 'average', covers: ['Average'], description: 'Average of three', build: (tf) => merged(tf, (t) => t.layers.average(), [[4], [4], [4]]), inputs: three },
  { name: 'maximum', covers: ['Maximum'], description: 'Maximum', build: (tf) => merged(tf, (t) => t.layers.maximum(), [[3, 4], [3, 4]]), inputs: two },
  { name: 'minimum', covers: ['Minimum'], description: 'Minimum', build: (tf) => merged(tf, (t) => t.layers.minimum(), [[3, 4], [3, 4]]), inputs: two },
  { name: 'concat_last', covers: ['Concatenate'], description: 'Concatenate axis -1',
    build: (tf) => merged(tf, (t) => t.layers.concatenate(), [[3, 4], [3, 2]]), inputs: [{ shape: [2, 3, 4] }, { shape: [2, 3, 2] }] },
  { name: 'concat_axis1', covers: ['Concatenate'], description: 'Concatenate axis 1',
    build: (tf) => merged(tf, (t) => t.layers.concatenate({ axis: 1 }), [[3, 4], [2, 4]]), inputs: [{ shape: [2, 3, 4] }, { shape: [2, 2, 4] }] },
  { name: 'concat_negative_axis_quirk', covers: ['Concatenate'], description: 'Concatenate axis -2 on equal shapes (tfjs treats any negative axis as -1)',
    build: (tf) => merged(tf, (t) => t.layers.concatenate({ axis: -2 }), [[3, 4], [3, 4]]), inputs: two,
    follows: 'tfjs', notes: 'tfjs concatenates on the last axis for every negative axis; a tfjs-made artifact is run as tfjs runs it' },
  { name: 'dot_axes1', covers: ['Dot'], description: 'Dot axes 1 on rank 2',
    build: (tf) => merged(tf, (t) => t.layers.dot({ axes: 1 }), [[5], [5]]), inputs: [{ shape: [3, 5] }, { shape: [3, 5] }] },
  { name: 'dot_normalize', covers: ['Dot'], description: 'Dot axes 1 normalize (cosine)',
    build: (tf) => merged(tf, (t) => t.layers.dot({ axes: 1, normalize: true }), [[5], [5]]), inputs: [{ shape: [3, 5] }, { shape: [3, 5] }] },
  { name: 'dot_rank3_axes_2_2', covers: ['Dot'], description: 'Dot rank 3 axes [2, 2]',
    build: (tf) => merged(tf, (t) => t.layers.dot({ axes: [2, 2] }), [[3, 4], [5, 4]]), inputs: [{ shape: [2, 3, 4] }, { shape: [2, 5, 4] }] },
  { name: 'dot_rank3_axes_1_2', covers: ['Dot'], description: 'Dot rank 3 axes [1, 2]',
    build: (tf) => merged(tf, (t) => t.layers.dot({ axes: [1, 2] }), [[4, 3], [5, 4]]), inputs: [{ shape: [2, 4, 3] }, { shape: [2, 5, 4] }] },
  // Inputs of different ranks: tfjs (like Keras's _Merge) expands the lower-rank ones at axis 1
  // until the ranks agree, then broadcasts; plain numpy broadcasting would align trailing axes.
  ...[
    ['multiply', [[3, 4], [4]]],
    ['add', [[2, 3, 4], [4], [3, 4]]],
    ['average', [[3, 4], [1]]],
    ['maximum', [[2, 3], [3]]],
    ['minimum', [[4], [2, 4]]],
  ].map(([op, shapes]) => ({
    name: `${op}_rank_mismatch`, covers: [op[0].toUpperCase() + op.slice(1)],
    description: `${op} of inputs shaped ${JSON.stringify(shapes)} (lower ranks expanded at axis 1)`,
    build: (tf) => merged(tf, (t) => t.layers[op](), shapes),
    inputs: shapes.map((s) => ({ shape: [2, ...s] })),
  })),
];
