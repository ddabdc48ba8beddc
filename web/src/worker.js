// The engine's Web Worker. It fetches (or is handed) the model files, builds the wasm engine and
// answers requests, so the page never blocks on the model.
//
// In:  { id, type, ...body }. Long jobs (score, plan, evaluate, latency, curves, setDev) run one at
//      a time in order and can be cancelled: { type: 'cancel', target: id }. Short ones
//      (attention, classify, embed) run at once, between the long job's batches.
// Out: { id, type: 'progress', ... }   while a request runs
//      { id, type: 'ready', value }    the engine is loaded (answer to 'load')
//      { id, type: 'result', value }   any other answer
//      { id, type: 'error', message, cancelled }
//      { type: 'notice', message }     unasked: e.g. the GPU was lost and the CPU took over
import init, { HiesEngine } from '../pkg/hies.js';
import { dropOldCaches, fetchBytes, fetchText } from './assets.js';

const wasmReady = init();
dropOldCaches().catch(() => {});

let engine = null;
let files = null;      // the loaded model's bytes, to rebuild on the CPU if the GPU is lost
let data = null;       // { train, dev }: label<TAB>text of the calibration and evaluation sets
let running = null;    // { id, cancelled } of the long job in progress

const post = (msg) => postMessage(msg);
const progress = (id) => (p) => post({ id, type: 'progress', ...p });
// A long job's progress callback: returning false tells the engine to stop at its next batch.
const tick = (id, job, shape) => (...args) => {
  post({ id, type: 'progress', ...shape(...args) });
  return !job.cancelled;
};
const counts = (done, total) => ({ done, total });
const tsvLine = (label, text) => `${label}\t${text.replace(/[\t\r\n]+/g, ' ')}`;

async function bytesOf(source, key, onProgress, optional = false) {
  const v = source[key];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw new Error(`${key} is missing`);
  }
  if (typeof v === 'string') return fetchBytes(v, onProgress, { optional });
  return new Uint8Array(await v.arrayBuffer()); // a File or Blob the reader picked
}

async function build(f, backend) {
  const next = await HiesEngine.create(f.config, f.weights, f.tokenizer, f.modules, f.pooling, backend);
  try {
    if (f.head) next.setHead(f.head, f.headMeta);
    const info = next.info();
    if (!info.classifier) throw new Error('model.safetensors: this checkpoint has no classifier (classifier.weight / classifier.bias), which importance scores and accuracy need: use a BertForSequenceClassification checkpoint');
    return next;
  } catch (e) {
    next.free();
    throw e;
  }
}

/** Texts of the data files, checked against the model's labels before anything is replaced. */
async function loadData(next, source, onProgress) {
  const train = typeof source.train === 'string' ? await fetchText(source.train, onProgress) : await source.train.text();
  const dev = source.dev === source.train ? train : typeof source.dev === 'string' ? await fetchText(source.dev, onProgress) : await source.dev.text();
  const devSize = next.setDev(dev);
  return { train, dev, devSize };
}

async function load(id, { model, backend, data: dataSource }) {
  await wasmReady;
  const onProgress = progress(id);
  const f = {
    config: await bytesOf(model, 'config', onProgress),
    tokenizer: await bytesOf(model, 'tokenizer', onProgress),
    modules: await bytesOf(model, 'modules', onProgress, true),
    pooling: await bytesOf(model, 'pooling', onProgress, true),
    weights: await bytesOf(model, 'weights', onProgress),
    head: await bytesOf(model, 'head', onProgress, true),
  };
  if (f.head) f.headMeta = new TextDecoder().decode(await bytesOf(model, 'headMeta', onProgress));
  const t0 = performance.now();
  post({ id, type: 'progress', stage: 'building the engine' });
  const next = await build(f, backend);
  const buildMs = performance.now() - t0;
  let d;
  try {
    d = dataSource ? await loadData(next, dataSource, onProgress) : null;
  } catch (e) {
    next.free();
    throw new Error(`data file: ${e.message.replace(/^input: /, '')}`);
  }
  // Only now is the old engine replaced: a failed load leaves the previous model working.
  if (engine) engine.free();
  engine = next;
  files = f;
  if (d) data = d;
  return { ...engine.info(), buildMs, devSize: d?.devSize ?? null, trainSize: d ? d.train.split('\n').filter((l) => l.trim()).length : null };
}

/** Median of repeated timings of the full, masked and sliced model on a few dev sentences. */
async function latency(id, { heads, rounds = 3, sentences = 4 }, job) {
  const texts = data.dev.split('\n').filter((l) => l.includes('\t')).slice(0, sentences).map((l) => l.split('\t')[1]);
  const variants = [['full', [], false], ['masked', heads, false], ['structural', heads, true]];
  const times = { full: [], masked: [], structural: [] };
  const total = (rounds + 1) * variants.length * texts.length;
  let done = 0;
  for (let round = 0; round <= rounds; round++) { // round 0 warms up
    for (const [name, h, structural] of variants) {
      for (const t of texts) {
        if (job.cancelled) throw new Error('cancelled: the job was cancelled');
        const t0 = performance.now();
        await engine.classify([t], JSON.stringify(h), structural);
        if (round > 0) times[name].push(performance.now() - t0);
        post({ id, type: 'progress', done: ++done, total });
        await new Promise((r) => setTimeout(r, 0)); // let a cancel in
      }
    }
  }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  return { full: med(times.full), masked: med(times.masked), structural: med(times.structural), samples: times.full.length, sentences: texts.length };
}

const textOf = async (url) => (url ? fetchText(url) : data.train);

const longJobs = {
  async score(id, { data: url, request }, job) {
    const t0 = performance.now();
    const out = await engine.score(await textOf(url), JSON.stringify(request), tick(id, job, counts));
    return { ...out, ms: performance.now() - t0 };
  },
  async plan(id, { data: url, request }, job) {
    return engine.plan(await textOf(url), JSON.stringify(request), tick(id, job, counts));
  },
  async setDev(id, { data: url }) {
    const dev = await fetchText(url);
    const n = engine.setDev(dev);
    data = { ...data, dev };
    return n;
  },
  async evaluate(id, { heads, structural }, job) {
    const t0 = performance.now();
    const out = await engine.evaluate(JSON.stringify(heads), structural, tick(id, job, (p) => p));
    return { ...out, ms: performance.now() - t0 };
  },
  latency,
  async curves(id, { devSize, options }, job) {
    const lines = data.dev.split('\n').filter((l) => l.includes('\t'));
    const dev = lines.slice(0, devSize ?? lines.length).join('\n');
    const t0 = performance.now();
    const out = await engine.curves(data.train, dev, JSON.stringify(options), tick(id, job, (stage, done, total) => ({ stage, done, total })));
    return { ...out, devSize: Math.min(devSize ?? lines.length, lines.length), ms: performance.now() - t0 };
  },
};

const shortJobs = {
  async attention(id, { text }) {
    const t0 = performance.now();
    const a = await engine.attention(text);
    const probs = await engine.classify([text], '[]', false);
    const label = probs.indexOf(Math.max(...probs));
    // This sentence's own |∂L/∂ξ| per head, with the model's prediction as the label.
    const s = await engine.score(tsvLine(label, text), JSON.stringify({ n: 1, seed: 0 }));
    return { ...a, importance: s.his_raw, predicted: label, ms: performance.now() - t0 };
  },
  async classify(id, { texts, heads = [], structural = false }) {
    return engine.classify(texts, JSON.stringify(heads), structural);
  },
  async embed(id, { texts }) {
    const t0 = performance.now();
    return { ...(await engine.embed(texts)), ms: performance.now() - t0 };
  },
  info: () => engine.info(),
};

/** A lost GPU device: rebuild the same model on the CPU and say so. Returns true if it did. */
async function recoverFromGpuLoss(e) {
  if (!engine || engine.info().backend !== 'gpu' || !/^backend:/.test(e?.message ?? '')) return false;
  const next = await build(files, 'cpu');
  if (data) next.setDev(data.dev);
  engine.free();
  engine = next;
  post({ type: 'notice', message: `The GPU stopped working (${e.message}); continuing on the CPU.`, info: engine.info() });
  return true;
}

async function run(id, fn, body, job) {
  try {
    let value;
    try {
      value = await fn(id, body, job);
    } catch (e) {
      if (!(await recoverFromGpuLoss(e))) throw e;
      value = await fn(id, body, job);
    }
    post({ id, type: fn === load ? 'ready' : 'result', value });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    post({ id, type: 'error', message, cancelled: /^cancelled:/.test(message) || !!job?.cancelled });
  }
}

// Long jobs (and loads) form one queue; short ones run as soon as they arrive.
const queue = [];
async function pump() {
  if (running || !queue.length) return;
  const { id, type, body } = queue.shift();
  running = { id, cancelled: false };
  const fn = type === 'load' ? load : longJobs[type];
  if (type !== 'load' && !engine) post({ id, type: 'error', message: 'no model loaded yet' });
  else await run(id, fn, body, running);
  running = null;
  pump();
}

onmessage = async ({ data: msg }) => {
  const { id, type, ...body } = msg;
  if (type === 'cancel') {
    const i = queue.findIndex((q) => q.id === body.target);
    if (i >= 0) {
      queue.splice(i, 1);
      post({ id: body.target, type: 'error', message: 'cancelled: before it started', cancelled: true });
    } else if (running?.id === body.target) {
      running.cancelled = true; // seen by the job's next progress callback
    }
    return;
  }
  if (type === 'load' || longJobs[type]) {
    queue.push({ id, type, body });
    pump();
    return;
  }
  if (!shortJobs[type]) return post({ id, type: 'error', message: `unknown request ${type}` });
  await wasmReady;
  if (!engine) return post({ id, type: 'error', message: 'no model loaded yet' });
  await run(id, shortJobs[type], body, null);
};
