// Regenerate the training-parity fixtures (tests/fixtures/training/<case>/) with tfjs model.fit.
//
//   node tfjs/make_training_fixtures.mjs                 # every case
//   node tfjs/make_training_fixtures.mjs --case cnn_adam # one case
//
// Each case: a small seeded model compiled with one optimizer + loss, then trained with
// `fit(x, y, {batchSize: N, epochs, shuffle: false})`. Files written:
//   model.json, weights.bin   the INITIAL model (saved with includeOptimizer when tfjs can:
//                             then model.json carries trainingConfig and the `iter` weight)
//   mid/model.json, mid/weights.bin
//                             the model after the first `mid_steps` batches, saved with
//                             includeOptimizer (slot variables in the manifest, group "optimizer")
//                             -- absent for Adamax, whose getWeights() tfjs does not implement
//   x.npy, y.npy              the training data (validation rows last, as fit slices them)
//   losses.npy                logs.loss of every batch (onBatchEnd), in order, over all epochs
//   final/<i>.npy             model.weights after training, in tfjs order
//   case.json                 optimizer (class_name + getConfig), loss, metrics, batch size,
//                             epochs, steps, validation split, history (per-epoch logs),
//                             final weight index [{name, file, shape}]
// The mid save is produced by splitting fit into two calls (first mid_steps batches, then the
// rest); tfjs keeps optimizer and BatchNorm state across fit calls, so the batch sequence and
// every update are those of a single fit over all batches (epochs=1 cases only).

import fs from 'node:fs';
import path from 'node:path';
import {
  FIXTURES, hashString, makeRng, parseArgs, randomTensor, saveArtifacts, setSeededWeights, tf, writeNpy,
} from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
await tf.setBackend('cpu');
const OUT = path.join(FIXTURES, 'training');

// The conv has no bias: before a training-mode BatchNorm its gradient is exactly zero, so float
// round-off alone would drive Adam/RMSProp (which normalise the gradient) and no parity holds.
function buildCnn() {
  const m = tf.sequential({ name: 'cnn' });
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, useBias: false, name: 'conv' }));
  m.add(tf.layers.batchNormalization({ name: 'bn' }));
  m.add(tf.layers.activation({ activation: 'relu', name: 'relu' }));
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'dense' }));
  return m;
}

function buildLstm() {
  const m = tf.sequential({ name: 'lstm_model' });
  m.add(tf.layers.lstm({ inputShape: [5, 3], units: 4, name: 'lstm' }));
  m.add(tf.layers.dense({ units: 2, name: 'dense' }));
  return m;
}

function oneHot(rng, n, k) {
  const data = new Float32Array(n * k);
  for (let i = 0; i < n; i++) data[i * k + rng.int(0, k)] = 1;
  return tf.tensor(data, [n, k], 'float32');
}

const CNN = {
  build: buildCnn, loss: 'categoricalCrossentropy', metrics: ['accuracy'],
  data: (rng, n) => [randomTensor(rng, { shape: [n, 8, 8, 1] }), oneHot(rng, n, 3)],
};
const LSTM = {
  build: buildLstm, loss: 'meanSquaredError', metrics: ['mae'],
  data: (rng, n) => [randomTensor(rng, { shape: [n, 5, 3] }), randomTensor(rng, { shape: [n, 2] })],
};

const cases = [
  { name: 'cnn_sgd', model: CNN, optimizer: () => tf.train.sgd(0.1) },
  { name: 'cnn_momentum', model: CNN, optimizer: () => tf.train.momentum(0.05, 0.9) },
  { name: 'cnn_adam', model: CNN, optimizer: () => tf.train.adam(0.01) },
  { name: 'cnn_rmsprop', model: CNN, optimizer: () => tf.train.rmsprop(0.01) },
  { name: 'lstm_momentum_nesterov', model: LSTM, optimizer: () => tf.train.momentum(0.05, 0.9, true) },
  { name: 'lstm_adam', model: LSTM, optimizer: () => tf.train.adam(0.01) },
  { name: 'lstm_rmsprop_momentum', model: LSTM, optimizer: () => tf.train.rmsprop(0.01, 0.9, 0.5) },
  { name: 'lstm_rmsprop_centered', model: LSTM, optimizer: () => tf.train.rmsprop(0.01, 0.8, 0.3, -1e-6, true), notes: 'tfjs centered RMSProp computes sqrt(ms - (mg^2 + epsilon)): a positive epsilon makes it NaN where a gradient is ~0, so this case uses epsilon = -1e-6' },
  { name: 'lstm_adagrad', model: LSTM, optimizer: () => tf.train.adagrad(0.1) },
  { name: 'lstm_adadelta', model: LSTM, optimizer: () => tf.train.adadelta(1.0, 0.9, 1e-3) },
  { name: 'lstm_adamax', model: LSTM, optimizer: () => tf.train.adamax(0.01, 0.9, 0.999, undefined, 0.01), noOptimizerSave: true },
  // fit() semantics: several epochs, validationSplit (last rows), a short last batch, history.
  { name: 'lstm_fit_validation', model: LSTM, optimizer: () => tf.train.adam(0.01), samples: 22, epochs: 2, validationSplit: 0.2, mid: false },
];

const K = 5; // batches per epoch in the plain cases
const N = 4; // batch size
const MID = 2; // batches before the mid save

function clean(value) {
  return value == null ? null : value;
}

async function trainSlice(model, x, y, start, end, fitArgs, losses, history) {
  const xs = x.slice([start], [end - start]);
  const ys = y.slice([start], [end - start]);
  const h = await model.fit(xs, ys, {
    ...fitArgs,
    callbacks: { onBatchEnd: async (_batch, logs) => { losses.push(logs.loss); } },
  });
  for (const [key, values] of Object.entries(h.history)) {
    history[key] = (history[key] ?? []).concat(values.map(Number));
  }
  tf.dispose([xs, ys]);
}

for (const c of cases) {
  if (args.case && args.case !== c.name) continue;
  const dir = path.join(OUT, c.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const rng = makeRng(hashString(`training/${c.name}`));
  const model = c.model.build();
  setSeededWeights(model, rng);
  const optimizer = c.optimizer();
  model.compile({ optimizer, loss: c.model.loss, metrics: c.model.metrics });
  const samples = c.samples ?? K * N;
  const epochs = c.epochs ?? 1;
  const [x, y] = c.model.data(rng, samples);
  const notes = c.notes ? [c.notes] : [];
  await saveArtifacts(model, dir, { includeOptimizer: !c.noOptimizerSave });
  if (c.noOptimizerSave) notes.push(`${optimizer.getClassName()}.getWeights() is not implemented in tfjs: saved without optimizer`);

  const fitArgs = { batchSize: N, epochs, shuffle: false, verbose: 0 };
  if (c.validationSplit) fitArgs.validationSplit = c.validationSplit;
  const losses = [];
  const history = {};
  const useMid = c.mid !== false && epochs === 1 && !c.noOptimizerSave;
  if (useMid) {
    await trainSlice(model, x, y, 0, MID * N, fitArgs, losses, {});
    fs.mkdirSync(path.join(dir, 'mid'));
    await saveArtifacts(model, path.join(dir, 'mid'), { includeOptimizer: true });
    await trainSlice(model, x, y, MID * N, samples, fitArgs, losses, {});
  } else {
    await trainSlice(model, x, y, 0, samples, fitArgs, losses, history);
  }

  await writeNpy(path.join(dir, 'x.npy'), x);
  await writeNpy(path.join(dir, 'y.npy'), y);
  await writeNpy(path.join(dir, 'losses.npy'), tf.tensor(losses, [losses.length], 'float32'));
  fs.mkdirSync(path.join(dir, 'final'));
  const finalWeights = [];
  for (let i = 0; i < model.weights.length; i++) {
    const w = model.weights[i];
    const file = `final/${i}.npy`;
    await writeNpy(path.join(dir, file), w.read());
    finalWeights.push({ name: w.originalName, file, shape: w.shape, trainable: w.trainable });
  }
  const meta = {
    name: c.name,
    kind: 'training',
    generator: `tfjs-layers ${tf.version.tfjs}`,
    reference: `tfjs ${tf.version.tfjs} LayersModel.fit (shuffle: false)`,
    optimizer: { class_name: optimizer.getClassName(), config: optimizer.getConfig() },
    loss: c.model.loss,
    metrics: c.model.metrics,
    batch_size: N,
    epochs,
    samples,
    validation_split: clean(c.validationSplit),
    steps: losses.length,
    mid_steps: useMid ? MID : null,
    history: useMid ? null : history,
    final_weights: finalWeights,
  };
  if (notes.length) meta.notes = notes.join(' | ');
  fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(`ok    training/${c.name}  losses=${losses.map((v) => v.toFixed(5)).join(',')}`);
  tf.dispose([x, y]);
  model.dispose();
}
