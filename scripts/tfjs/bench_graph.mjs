// Times a converted GraphModel with tfjs (pure-JS CPU backend) and prints one JSON line.
// Usage: node tfjs/bench_graph.mjs <model_dir> <input.npy> [runs] [output.npy]
// Loads model.json + shards through a custom IOHandler (as run_graph_model.mjs does), feeds the
// .npy input to the first signature input, times `predict` (synchronous execute) and
// `executeAsync` (median and best of `runs` each, after one warm-up), and writes the output to output.npy.
import fs from 'node:fs';
import path from 'node:path';
import { readNpy, tf, writeNpy } from './lib.mjs';

const [dir, inputFile, runsArg, outFile] = process.argv.slice(2);
if (!dir || !inputFile) {
  console.error('usage: node tfjs/bench_graph.mjs <model_dir> <input.npy> [runs] [output.npy]');
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
await tf.setBackend('cpu');
const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
const groups = json.weightsManifest ?? [];
const data = Buffer.concat(groups.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(dir, p))));
const model = await tf.loadGraphModel({
  load: async () => ({
    modelTopology: json.modelTopology,
    weightSpecs: groups.flatMap((g) => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    signature: json.signature, userDefinedMetadata: json.userDefinedMetadata,
  }),
});
const inputName = Object.keys(json.signature?.inputs ?? {})[0];
const x = readNpy(inputFile);
const feed = { [inputName]: x };

async function median(fn) {
  tf.dispose(await fn());  // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const y = await fn();
    await y.data();
    times.push(performance.now() - t0);
    tf.dispose(y);
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(times.length / 2)], times[0]];
}

const [predictMs, predictMin] = await median(async () => model.predict(feed));
const [asyncMs, asyncMin] = await median(async () => model.executeAsync(feed));
if (outFile) {
  const y = model.predict(feed);
  await writeNpy(outFile, y);
  tf.dispose(y);
}
const params = groups.flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
console.log(JSON.stringify({ runtime: `tfjs ${tf.version.tfjs} (${tf.getBackend()})`, predict_ms: predictMs,
  predict_min_ms: predictMin, execute_async_ms: asyncMs, execute_async_min_ms: asyncMin, runs, params }));
