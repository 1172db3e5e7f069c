// Shared helpers for the torch_tfjs fixture generators (pure-JS @tensorflow/tfjs, CPU backend).
// A case = an artifact saved by tfjs's own serialiser + seeded inputs + tfjs's own outputs,
// written to tests/fixtures/<kind>/<family>/<name>/ (format: tests/fixtures/README.md).

import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { tf };
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = path.join(REPO, 'tests', 'fixtures');

// --- deterministic randomness -------------------------------------------------------------------

export function hashString(text) {
  let h = 2166136261 >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

// mulberry32: small, fast, good enough for test data
export function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => {
    const u = Math.max(next(), 1e-12);
    const v = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  return {
    next,
    normal,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo)),
  };
}

const size = (shape) => shape.reduce((a, b) => a * b, 1);

export function randomTensor(rng, spec) {
  const { shape, dtype = 'float32', range } = spec;
  const n = size(shape);
  if (dtype === 'int32') {
    const [lo, hi] = range ?? [0, 10];
    const data = new Int32Array(n);
    for (let i = 0; i < n; i++) data[i] = spec.values ? spec.values[i % spec.values.length] : rng.int(lo, hi);
    return tf.tensor(data, shape, 'int32');
  }
  if (dtype === 'bool') {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.next() < 0.5 ? 1 : 0;
    return tf.tensor(data, shape, 'bool');
  }
  const data = new Float32Array(n);
  if (spec.values) {
    for (let i = 0; i < n; i++) data[i] = spec.values[i % spec.values.length];
  } else if (range) {
    for (let i = 0; i < n; i++) data[i] = rng.uniform(range[0], range[1]);
  } else {
    for (let i = 0; i < n; i++) data[i] = rng.normal();
  }
  return tf.tensor(data, shape, 'float32');
}

// Replace every weight with seeded values so regeneration is deterministic.
export function setSeededWeights(model, rng, { scale = 0.4 } = {}) {
  for (const w of model.weights) {
    const name = w.originalName ?? w.name;
    const shape = w.shape;
    const n = size(shape);
    const data = new Float32Array(n);
    const positive = /moving_variance|gamma/.test(name);
    for (let i = 0; i < n; i++) {
      data[i] = positive ? rng.uniform(0.5, 1.5) : rng.uniform(-scale, scale) * 2;
    }
    if (w.dtype !== 'float32') continue;
    w.write(tf.tensor(data, shape, 'float32'));
  }
}

// --- .npy ---------------------------------------------------------------------------------------

const NPY_DESCR = { float32: '<f4', int32: '<i4', bool: '|b1' };

export function npyBytes(values, shape, dtype) {
  const descr = NPY_DESCR[dtype];
  if (!descr) throw new Error(`npy: unsupported dtype ${dtype}`);
  const shapeText = shape.length === 0 ? '()' : shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  let body;
  if (dtype === 'float32') body = Buffer.from(new Float32Array(values).buffer);
  else if (dtype === 'int32') body = Buffer.from(new Int32Array(values).buffer);
  else body = Buffer.from(Uint8Array.from(values, (v) => (v ? 1 : 0)));
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

export async function writeNpy(file, tensor) {
  const data = await tensor.data();
  fs.writeFileSync(file, npyBytes(Array.from(data), tensor.shape, tensor.dtype));
}

export function readNpy(file) {
  const buf = fs.readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const body = buf.subarray(10 + headerLen);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.length);
  if (descr === '<f4') return tf.tensor(new Float32Array(copy), shape, 'float32');
  if (descr === '<i4') return tf.tensor(new Int32Array(copy), shape, 'int32');
  if (descr === '<i8') return tf.tensor(Int32Array.from(new BigInt64Array(copy), (v) => Number(v)), shape, 'int32');
  if (descr === '|b1') return tf.tensor(new Uint8Array(copy), shape, 'bool');
  throw new Error(`npy: unsupported descr ${descr} in ${file}`);
}

// --- artifacts ----------------------------------------------------------------------------------

function concatWeightData(weightData) {
  const parts = Array.isArray(weightData) ? weightData : [weightData];
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

// The model.json tfjs's own savers write (tfjs-core io_utils getModelJSONForModelArtifacts).
export function modelJSONFor(artifacts, paths) {
  const json = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
  };
  for (const key of ['signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature', 'trainingConfig']) {
    if (artifacts[key] != null) json[key] = artifacts[key];
  }
  return json;
}

// Save with tfjs's serialiser; `shardBytes` splits the weight file (a float may straddle shards).
export async function saveArtifacts(model, dir, { shardBytes = 0, includeOptimizer = false } = {}) {
  let saved;
  await model.save({
    save: async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  }, { includeOptimizer });
  const data = concatWeightData(saved.weightData);
  const paths = [];
  if (shardBytes > 0 && data.length > shardBytes) {
    const n = Math.ceil(data.length / shardBytes);
    for (let i = 0; i < n; i++) {
      const name = `group1-shard${i + 1}of${n}.bin`;
      fs.writeFileSync(path.join(dir, name), data.subarray(i * shardBytes, (i + 1) * shardBytes));
      paths.push(name);
    }
  } else {
    fs.writeFileSync(path.join(dir, 'weights.bin'), data);
    paths.push('weights.bin');
  }
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJSONFor(saved, paths)));
  return { artifacts: saved, data };
}

// A tfjs IOHandler reading a saved folder (model.json + every shard of its manifest, in
// order), with every model.json field tfjs understands. Returns {json, handler}.
export function folderHandler(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const groups = json.weightsManifest ?? [];
  const data = Buffer.concat(groups.flatMap((g) => g.paths).map((p) => fs.readFileSync(path.join(dir, p))));
  const handler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: groups.flatMap((g) => g.weights),
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length),
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      trainingConfig: json.trainingConfig,
      signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
      modelInitializer: json.modelInitializer,
      initializerSignature: json.initializerSignature,
    }),
  };
  return { json, handler };
}

export async function loadSaved(dir) {
  return tf.loadLayersModel(folderHandler(dir).handler);
}

// --- cases --------------------------------------------------------------------------------------

const asList = (x) => (Array.isArray(x) ? x : [x]);

async function maxAbsDiff(a, b) {
  const d = await tf.max(tf.abs(tf.sub(tf.cast(a, 'float32'), tf.cast(b, 'float32')))).data();
  return d[0];
}

export async function saveCase(kind, family, c) {
  const dir = path.join(FIXTURES, kind, family, c.name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const rng = makeRng(hashString(`${family}/${c.name}`));
  const model = c.build(tf);
  if (c.seedWeights !== false) setSeededWeights(model, rng, { scale: c.weightScale ?? 0.4 });
  if (c.prepare) await c.prepare(model, tf);
  const inputs = c.inputs.map((spec) => randomTensor(rng, spec));
  const feed = inputs.length === 1 ? inputs[0] : inputs;
  const outputs = asList(c.training ? model.apply(feed, { training: true }) : model.predict(feed));
  await saveArtifacts(model, dir, { shardBytes: c.shardBytes ?? 0 });

  const notes = c.notes ? [c.notes] : [];
  if (!c.training && c.checkReload !== false) {
    try {
      const reloaded = await loadSaved(dir);
      const again = asList(reloaded.predict(feed));
      for (let i = 0; i < outputs.length; i++) {
        const diff = await maxAbsDiff(outputs[i], again[i]);
        if (!(diff <= 1e-6)) notes.push(`tfjs reload changes output ${i} by ${diff}`);
      }
    } catch (err) {
      notes.push(`tfjs cannot reload its own save: ${String(err.message ?? err).split('\n')[0]}`);
    }
  }
  const meta = {
    name: c.name,
    kind: 'layers-model',
    family,
    covers: c.covers ?? [],
    description: c.description ?? '',
    generator: `tfjs-layers ${tf.version.tfjs}`,
    reference: c.training ? `tfjs ${tf.version.tfjs} apply(training=true)` : `tfjs ${tf.version.tfjs} predict`,
    inputs: [],
    outputs: [],
  };
  for (let i = 0; i < inputs.length; i++) {
    const file = `input_${i}.npy`;
    await writeNpy(path.join(dir, file), inputs[i]);
    meta.inputs.push({ file, name: model.inputNames?.[i] ?? null });
  }
  for (let i = 0; i < outputs.length; i++) {
    const file = `output_${i}.npy`;
    await writeNpy(path.join(dir, file), outputs[i]);
    meta.outputs.push({ file, name: model.outputNames?.[i] ?? null });
  }
  if (c.tolerance) meta.tolerance = c.tolerance;
  if (c.follows) meta.follows = c.follows;
  if (c.training) meta.training = true;
  if (c.xfail) meta.xfail = c.xfail;
  if (c.zeroGradient) meta.zero_gradient = c.zeroGradient;
  if (notes.length) meta.notes = notes.join(' | ');
  fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify(meta, null, 2) + '\n');
  tf.dispose([...inputs, ...outputs]);
  return { dir, notes };
}

export function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : true;
  }
  return args;
}
