// Times a graph model with tfjs (pure-JS CPU backend): used by scripts/graph/time_tf1_loops.py.
//
//   node tfjs/time_graph_model.mjs <case_dir> <runs>
//
// Inputs as in run_graph_model.mjs (case.json "inputs": [{file, name}]). Prints one JSON line:
// load_ms, first_ms (the first executeAsync call), median_ms and best_ms of <runs> further calls.
import fs from 'node:fs';
import path from 'node:path';
import { folderHandler, readNpy, tf } from './lib.mjs';

const [dir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 5);
await tf.setBackend('cpu');
let t0 = performance.now();
const { json, handler } = folderHandler(dir);
const model = await tf.loadGraphModel(handler);
const loadMs = performance.now() - t0;
const meta = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
const feed = {};
for (const spec of meta.inputs) feed[spec.name] = readNpy(path.join(dir, spec.file));
const outputNames = Object.keys(json.signature?.outputs ?? {});

async function once() {
  const start = performance.now();
  const out = await model.executeAsync(feed, outputNames);
  const arrays = Array.isArray(out) ? out : [out];
  await Promise.all(arrays.map((t) => t.data()));  // wait for the values, as a caller would
  tf.dispose(arrays);
  return performance.now() - start;
}
const firstMs = await once();
const times = [];
for (let i = 0; i < runs; i++) times.push(await once());
times.sort((a, b) => a - b);
console.log(JSON.stringify({ load_ms: loadMs, first_ms: firstMs, median_ms: times[Math.floor(times.length / 2)],
                             best_ms: times[0] }));
