// Whole models built with tfjs's own API (tests/fixtures/models/models/<name>/).

function mobilenetLike(tf) {
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  const convBn = (x, filters, stride, name) => {
    x = tf.layers.conv2d({ filters, kernelSize: 3, strides: stride, padding: 'same', useBias: false, name: `${name}_conv` }).apply(x);
    x = tf.layers.batchNormalization({ name: `${name}_bn` }).apply(x);
    return tf.layers.reLU({ maxValue: 6, name: `${name}_relu` }).apply(x);
  };
  const block = (x, expand, filters, stride, name, residual) => {
    let y = tf.layers.conv2d({ filters: expand, kernelSize: 1, useBias: false, name: `${name}_expand` }).apply(x);
    y = tf.layers.batchNormalization({ name: `${name}_expand_bn` }).apply(y);
    y = tf.layers.reLU({ maxValue: 6, name: `${name}_expand_relu` }).apply(y);
    y = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false, name: `${name}_dw` }).apply(y);
    y = tf.layers.batchNormalization({ name: `${name}_dw_bn` }).apply(y);
    y = tf.layers.reLU({ maxValue: 6, name: `${name}_dw_relu` }).apply(y);
    y = tf.layers.conv2d({ filters, kernelSize: 1, useBias: false, name: `${name}_project` }).apply(y);
    y = tf.layers.batchNormalization({ name: `${name}_project_bn` }).apply(y);
    return residual ? tf.layers.add({ name: `${name}_add` }).apply([x, y]) : y;
  };
  let x = convBn(input, 8, 2, 'stem');
  x = block(x, 16, 8, 1, 'b1', true);
  x = block(x, 24, 12, 2, 'b2', false);
  x = block(x, 36, 12, 1, 'b3', true);
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x);
  x = tf.layers.dropout({ rate: 0.2, name: 'drop' }).apply(x);
  const out = tf.layers.dense({ units: 10, activation: 'softmax', name: 'logits' }).apply(x);
  return tf.model({ inputs: input, outputs: out, name: 'mobilenet_like' });
}

// EfficientNet-like: what the LayersModel's view fast path meets in the EfficientNet family
// (swish Activation layers, squeeze-excite through Reshape, Dropout inside a block, a residual
// Add of a conv chain and a tensor made outside it).
function efficientnetLike(tf) {
  const input = tf.input({ shape: [24, 24, 3], name: 'image' });
  const scaled = tf.layers.rescaling({ scale: 0.5, offset: -0.25, name: 'rescale' }).apply(input);
  let y = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', useBias: false, name: 'stem_conv' }).apply(scaled);
  y = tf.layers.batchNormalization({ name: 'stem_bn' }).apply(y);
  y = tf.layers.activation({ activation: 'swish', name: 'stem_swish' }).apply(y);
  y = tf.layers.dropout({ rate: 0.3, name: 'stem_drop' }).apply(y);
  let x = tf.layers.add({ name: 'stem_add' }).apply([scaled, y]);
  let s = tf.layers.globalAveragePooling2d({ name: 'se_pool' }).apply(x);
  s = tf.layers.reshape({ targetShape: [1, 1, 3], name: 'se_reshape' }).apply(s);
  s = tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'swish', name: 'se_reduce' }).apply(s);
  s = tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'sigmoid', name: 'se_expand' }).apply(s);
  x = tf.layers.multiply({ name: 'se_excite' }).apply([x, s]);
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'dw' }).apply(x);
  y = tf.layers.batchNormalization({ name: 'dw_bn' }).apply(y);
  y = tf.layers.activation({ activation: 'swish', name: 'dw_swish' }).apply(y);
  y = tf.layers.conv2d({ filters: 6, kernelSize: 1, useBias: false, name: 'project' }).apply(y);
  y = tf.layers.batchNormalization({ name: 'project_bn' }).apply(y);
  y = tf.layers.dropout({ rate: 0.2, name: 'project_drop' }).apply(y);
  y = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(y);
  y = tf.layers.dropout({ rate: 0.2, name: 'top_drop' }).apply(y);
  const out = tf.layers.dense({ units: 4, activation: 'softmax', name: 'logits' }).apply(y);
  return tf.model({ inputs: input, outputs: out, name: 'efficientnet_like' });
}

function multiIoShared(tf) {
  const a = tf.input({ shape: [6], name: 'in_a' });
  const b = tf.input({ shape: [6], name: 'in_b' });
  const shared = tf.layers.dense({ units: 5, activation: 'tanh', name: 'shared' });
  const sa = shared.apply(a);
  const sb = shared.apply(b);
  const merged = tf.layers.concatenate({ name: 'concat' }).apply([sa, sb]);
  const out1 = tf.layers.dense({ units: 3, activation: 'softmax', name: 'head_class' }).apply(merged);
  const out2 = tf.layers.dense({ units: 1, name: 'head_reg' }).apply(tf.layers.multiply({ name: 'mul' }).apply([sa, sb]));
  return tf.model({ inputs: [a, b], outputs: [out1, out2], name: 'multi_io' });
}

function nested(tf) {
  const inner = tf.sequential({ name: 'inner_block', layers: [
    tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4], name: 'inner_dense1' }),
    tf.layers.dense({ units: 4, activation: 'sigmoid', name: 'inner_dense2' }),
  ] });
  const x = tf.input({ shape: [4], name: 'x' });
  const y1 = inner.apply(x);
  const y2 = inner.apply(y1); // the nested model shared: called twice
  const out = tf.layers.dense({ units: 2, name: 'out' }).apply(tf.layers.add({ name: 'sum' }).apply([y1, y2]));
  return tf.model({ inputs: x, outputs: out, name: 'outer' });
}

function textLstm(tf) {
  return tf.sequential({ name: 'text_lstm', layers: [
    tf.layers.embedding({ inputDim: 20, outputDim: 6, maskZero: true, inputLength: 7, name: 'embed' }),
    tf.layers.lstm({ units: 5, returnSequences: true, name: 'lstm1' }),
    tf.layers.lstm({ units: 4, name: 'lstm2' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'cls' }),
  ] });
}

export const cases = [
  { name: 'mobilenet_like', covers: ['Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'ReLU', 'Add', 'GlobalAveragePooling2D', 'Dense', 'Dropout'],
    description: 'MobileNetV2-like CNN: conv/BN/ReLU6, inverted residual blocks, global pool, softmax',
    build: mobilenetLike, inputs: [{ shape: [2, 32, 32, 3] }] },
  { name: 'efficientnet_like', covers: ['Rescaling', 'Conv2D', 'BatchNormalization', 'Activation', 'Dropout', 'Add', 'GlobalAveragePooling2D', 'Reshape', 'Multiply', 'DepthwiseConv2D', 'Dense'],
    description: 'EfficientNet-like block: swish, squeeze-excite via Reshape, Dropout inside the block, a residual Add of a conv chain and a rescaled input',
    build: efficientnetLike, inputs: [{ shape: [2, 24, 24, 3] }] },
  { name: 'multi_io_shared', covers: ['Dense', 'Concatenate', 'Multiply'],
    description: 'two inputs, a Dense layer shared by both, two outputs',
    build: multiIoShared, inputs: [{ shape: [3, 6] }, { shape: [3, 6] }] },
  { name: 'nested_shared_sequential', covers: ['Sequential', 'Dense', 'Add'],
    description: 'a Sequential used as a layer twice inside a functional model',
    build: nested, inputs: [{ shape: [3, 4] }] },
  { name: 'embedding_lstm_text', covers: ['Embedding', 'LSTM', 'Dense'],
    description: 'Embedding(mask_zero) + 2 LSTMs + softmax, padded token sequences',
    build: textLstm,
    inputs: [{ shape: [3, 7], dtype: 'float32', values: [3, 7, 1, 0, 0, 0, 0, 5, 2, 9, 11, 4, 0, 0, 1, 2, 3, 4, 5, 6, 7] }] },
  { name: 'mobilenet_like_sharded', covers: ['Conv2D', 'DepthwiseConv2D', 'BatchNormalization'],
    description: 'the MobileNet-like model saved in 4 KiB shards (floats straddle shard boundaries)',
    build: mobilenetLike, inputs: [{ shape: [1, 32, 32, 3] }], shardBytes: 4098 },
];
