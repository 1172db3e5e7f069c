// Builds a MobileNet-v1-sized LayersModel (alpha 1.0, 224x224x3, ~4.2 M parameters), saves it
// to <out_dir>, times tfjs predict (pure-JS CPU backend) and prints one JSON line.
// Usage: node tfjs/bench_layers.mjs <out_dir> [runs]
import fs from 'node:fs';
import { tf, makeRng, setSeededWeights, saveArtifacts } from './lib.mjs';

function mobilenetV1(size = 224, alpha = 1.0) {
  const input = tf.input({ shape: [size, size, 3] });
  const f = (n) => Math.round(n * alpha);
  let x = tf.layers.conv2d({ filters: f(32), kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input);
  x = tf.layers.batchNormalization().apply(x);
  x = tf.layers.reLU({ maxValue: 6 }).apply(x);
  const blocks = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
    [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]];
  for (const [filters, stride] of blocks) {
    x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false }).apply(x);
    x = tf.layers.batchNormalization().apply(x);
    x = tf.layers.reLU({ maxValue: 6 }).apply(x);
    x = tf.layers.conv2d({ filters: f(filters), kernelSize: 1, useBias: false }).apply(x);
    x = tf.layers.batchNormalization().apply(x);
    x = tf.layers.reLU({ maxValue: 6 }).apply(x);
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  x = tf.layers.dense({ units: 1000, activation: 'softmax' }).apply(x);
  return tf.model({ inputs: input, outputs: x });
}

const [outDir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 3);
fs.mkdirSync(outDir, { recursive: true });
const model = mobilenetV1();
setSeededWeights(model, makeRng(1234), { scale: 0.1 });
await saveArtifacts(model, outDir);
const x = tf.randomNormal([1, 224, 224, 3], 0, 1, 'float32', 7);
tf.dispose(model.predict(x));  // warm-up
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const y = model.predict(x);
  await y.data();
  times.push(performance.now() - t0);
  tf.dispose(y);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ runtime: `tfjs ${tf.version.tfjs} (${tf.getBackend()})`, median_ms: times[Math.floor(times.length / 2)], runs, params: model.countParams() }));
