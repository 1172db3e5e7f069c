// tfjs worker of scripts/bench.py: times a saved model with tfjs (pure-JS CPU backend) and prints
// one JSON line.
// Usage: node tfjs/bench.mjs <graph|layers> <model_dir> <runs> <out_dir> <input.npy>...
// Loads model.json + shards through lib.mjs's folderHandler (loadGraphModel / loadLayersModel),
// then for each input: one warm-up call, whose output is written to
// <out_dir>/tfjs_<format>_<input file name>, and the median and best of `runs` timed calls
// (`predict`; a graph model whose ops need it runs `executeAsync`). A model tfjs cannot load or
// run prints {"error": ...}.
import path from 'node:path';
import { folderHandler, readNpy, tf, writeNpy } from './lib.mjs';

const [format, dir, runsArg, outDir, ...inputs] = process.argv.slice(2);
if (!['graph', 'layers'].includes(format) || !dir || !outDir || inputs.length === 0) {
  console.error('usage: node tfjs/bench.mjs <graph|layers> <model_dir> <runs> <out_dir> <input.npy>...');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
await tf.setBackend('cpu');
const runtime = `tfjs ${tf.version.tfjs} (${tf.getBackend()})`;
const firstLine = (err) => String(err?.message ?? err).split('\n')[0].split('. This may be due')[0].slice(0, 160);

let model;
let loadMs;
try {
  const t0 = performance.now();
  const { handler } = folderHandler(dir);
  model = format === 'graph' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  loadMs = performance.now() - t0;
} catch (err) {
  console.log(JSON.stringify({ runtime, error: `load: ${firstLine(err)}` }));
  process.exit(0);
}

const asOne = (y) => (Array.isArray(y) ? y[0] : y instanceof tf.Tensor ? y : Object.values(y)[0]);
let method = 'predict';
async function call(x) {
  if (method === 'executeAsync') return model.executeAsync(x);
  try {
    return model.predict(x);
  } catch (err) {
    if (format !== 'graph') throw err;
    method = 'executeAsync';  // dynamic ops / control flow: predict (synchronous execute) refuses
    return model.executeAsync(x);
  }
}

const results = {};
try {
  for (const file of inputs) {
    const x = readNpy(file);
    const warm = await call(x);  // warm-up; its output is the one written
    await writeNpy(path.join(outDir, `tfjs_${format}_${path.basename(file)}`), asOne(warm));
    tf.dispose(warm);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const y = await call(x);
      await asOne(y).data();
      times.push(performance.now() - t0);
      tf.dispose(y);
    }
    tf.dispose(x);
    times.sort((a, b) => a - b);
    results[String(x.shape[0])] = { median_ms: times[Math.floor(times.length / 2)], min_ms: times[0] };
  }
} catch (err) {
  console.log(JSON.stringify({ runtime, error: `run: ${firstLine(err)}` }));
  process.exit(0);
}
console.log(JSON.stringify({ runtime, method, load_ms: loadMs, runs, results }));
