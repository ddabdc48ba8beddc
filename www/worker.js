// @ts-check
// The engine's Web Worker. It fetches (or is handed) the model files, builds the wasm session and
// answers requests, so the page never blocks on the model. Values pass through as the engine
// returns them (types in pkg/hies.d.ts, generated from the Rust structs).
//
// In:  { id, type, ...body }. Long jobs (score, plan, evaluate, latency, curves, alpha_sweep,
//      paper_check, data) run one at a time in order and can be cancelled: { type: 'cancel', target: id }. Short ones
//      (inspect, predict, embed, info, csv, export) run at once, between the long job's batches.
// Out: { id, type: 'progress', progress }   while a request runs
//      { id, type: 'result', value }         the answer
//      { id, type: 'error', message, kind }  kind: the engine's error kind ("weights", "cancelled", …)
//      { type: 'notice', message, info }     unasked: e.g. the GPU was lost and the CPU took over
import init, { HiesSession, csv } from './pkg/hies.js';
import { dropOldCaches, fetchBytes } from './assets.js';

/** @typedef {import('./pkg/hies.js').CheckpointBytes} CheckpointBytes */
/** @typedef {import('./pkg/hies.js').ModelInfo} ModelInfo */
/** @typedef {import('./pkg/hies.js').BackendChoice} BackendChoice */
/** @typedef {import('./engine.js').Source} Source */
/** @typedef {import('./engine.js').ModelSource} ModelSource */
/** @typedef {import('./engine.js').DataSource} DataSource */
/** @typedef {{ id: number, cancelled: boolean }} Job */

const wasmReady = init();
dropOldCaches().catch(() => {});

/** @type {HiesSession | null} */
let session = null;
/** @type {CheckpointBytes | null} the loaded model's bytes, to rebuild on the CPU if the GPU is lost */
let files = null;
/** @type {import('./pkg/hies.js').DataText} the data texts (and file names) now set */
let data = {};
/** @type {Job | null} */
let running = null;

const post = (/** @type {any} */ msg) => postMessage(msg);
/** A long job's progress callback: returning false tells the engine to stop at its next batch. */
const tick = (/** @type {number} */ id, /** @type {Job | null} */ job) => (/** @type {any} */ progress) => {
  post({ id, type: 'progress', progress });
  return !job?.cancelled;
};

/** An error with the engine's kinds plus "network" for a file that could not be fetched. */
const fail = (/** @type {string} */ kind, /** @type {string} */ message) => Object.assign(new Error(message), { kind });

/** Bytes of a URL (with byte progress, through the Cache API; `undefined` when an optional one
 *  is absent) or of a picked file. */
async function bytesOf(/** @type {Source} */ source, /** @type {(p: any) => void} */ onProgress, optional = false) {
  if (typeof source !== 'string') return new Uint8Array(await source.arrayBuffer());
  try {
    return await fetchBytes(source, onProgress, { optional });
  } catch (e) {
    throw fail('network', e.message);
  }
}
const textOf = async (/** @type {Source} */ source, /** @type {(p: any) => void} */ onProgress) =>
  new TextDecoder().decode(await bytesOf(source, onProgress));
/** A file's name for messages: the picked file's, or the URL's last part. */
const nameOf = (/** @type {Source | undefined} */ source) =>
  (source === undefined ? undefined : typeof source === 'string' ? decodeURIComponent(new URL(source).pathname.split('/').pop() ?? source) : /** @type {File} */ (source).name);

/** Every file of a model, fetched in parallel (the sentence-transformers files are optional). */
async function fetchModel(/** @type {ModelSource} */ m, /** @type {(p: any) => void} */ onProgress) {
  const get = (/** @type {Source | undefined} */ s, optional = false) => (s === undefined ? Promise.resolve(undefined) : bytesOf(s, onProgress, optional));
  const [config, weights, index, tokenizer, modules, pooling, sentenceBert, cw, cm, ac, aw, at, ...shards] = await Promise.all([
    get(m.config), get(m.weights), get(m.weights_index), get(m.tokenizer), get(m.modules, true), get(m.pooling, true), get(m.sentence_bert_config, true),
    get(m.classifier?.weights), get(m.classifier?.meta),
    get(m.adapter?.config), get(m.adapter?.weights), get(m.adapter?.training),
    ...(m.shards ?? []).map((s) => get(s)),
  ]);
  if (!config || !(weights || index) || !tokenizer) throw fail('input', 'config.json, model.safetensors and tokenizer.json are all needed');
  /** @type {CheckpointBytes} */
  const f = { config, weights: weights ?? new Uint8Array(), tokenizer, modules, pooling, sentence_bert_config: sentenceBert };
  if (index) {
    f.weights_index = index;
    f.shards = (m.shards ?? []).map((s, i) => ({ name: /** @type {string} */ (nameOf(s)), bytes: /** @type {Uint8Array} */ (shards[i]) }));
  }
  if (cw && cm) {
    let meta;
    try {
      meta = JSON.parse(new TextDecoder().decode(cm));
    } catch (e) {
      throw fail('classifier', `classifier: its sidecar is not JSON (${e.message})`);
    }
    f.classifier = { weights: cw, meta };
  }
  if (ac && aw && at) f.adapter = { config: ac, weights: aw, training: at };
  return f;
}

async function build(/** @type {CheckpointBytes} */ f, /** @type {BackendChoice} */ backend) {
  const next = await HiesSession.create(f, backend);
  if (!next.info().classifier) {
    next.free();
    throw fail('classifier', 'classifier: this checkpoint has no classifier (classifier.weight / classifier.bias), which importance scores and accuracy need: use a …ForSequenceClassification checkpoint (BERT, DistilBERT, RoBERTa, XLM-RoBERTa or ELECTRA)');
  }
  return next;
}

/** Loads a model and its data; only when all of it works is the old session replaced. */
async function load(/** @type {number} */ id, /** @type {{ model: ModelSource, backend: BackendChoice, data?: DataSource }} */ { model, backend, data: source }) {
  await wasmReady;
  const onProgress = (/** @type {any} */ p) => post({ id, type: 'progress', progress: p });
  const [f, texts] = await Promise.all([fetchModel(model, onProgress), readData(source ?? {}, onProgress)]);
  post({ id, type: 'progress', progress: { stage: 'building the engine' } });
  const next = await build(f, backend);
  // Only this model's data: another model's splits (the built-in validation split, say) would be
  // read with this model's labels. Built-in data that does not fit the model's labels is left
  // out: the model loads without data (attention and predictions work) and says why.
  let nextData = texts, dataNote = null;
  try {
    next.data(nextData);
  } catch (e) {
    if (!(texts.builtin && /** @type {any} */ (e).kind === 'data')) {
      next.free();
      throw e;
    }
    dataNote = /** @type {Error} */ (e).message;
    nextData = {};
  }
  if (session) session.free();
  session = next;
  files = f;
  data = nextData;
  return { ...session.info(), data_note: dataNote };
}

/** The texts (and names) of the data files given; one file for both is read once. */
async function readData(/** @type {DataSource} */ source, /** @type {(p: any) => void} */ onProgress) {
  const { calibration, evaluation, validation, builtin } = source;
  const [c, e, v] = await Promise.all([calibration && textOf(calibration, onProgress), evaluation && evaluation !== calibration && textOf(evaluation, onProgress),
    validation && textOf(validation, onProgress)]);
  /** @type {import('./pkg/hies.js').DataText} */
  const out = {};
  if (calibration) Object.assign(out, { calibration: c, calibration_name: nameOf(calibration) });
  if (evaluation) Object.assign(out, { evaluation: evaluation === calibration ? c : e, evaluation_name: nameOf(evaluation) });
  if (validation) Object.assign(out, { validation: v, validation_name: nameOf(validation) });
  if (builtin) out.builtin = true;
  return out;
}

/** Replaces the evaluation and/or calibration data of the loaded model. */
async function setData(/** @type {number} */ id, /** @type {DataSource} */ source) {
  const next = await readData(source, (p) => post({ id, type: 'progress', progress: p }));
  const sizes = live().data(next);
  data = { ...data, ...next };
  return sizes;
}

const live = () => {
  if (!session) throw fail('input', 'no model loaded yet');
  return session;
};

/** @type {Record<string, (id: number, body: any, job: Job) => Promise<any>>} */
const longJobs = {
  data: setData,
  score: (id, { request }, job) => live().score(request, tick(id, job)),
  plan: (id, { request }, job) => live().plan(request, tick(id, job)),
  evaluate: (id, { removal }, job) => live().evaluate(removal, tick(id, job)),
  latency: (id, { request }, job) => live().latency(request, tick(id, job)),
  curves: (id, { request }, job) => live().curves(request, tick(id, job)),
  alpha_sweep: (id, { request }, job) => live().alpha_sweep(request, tick(id, job)),
  paper_check: (id, { request }, job) => live().paper_check(request, tick(id, job)),
  // A long job, so that it never lands in the middle of a pass.
  compute: async (id, { compute }) => { live().setCompute(compute); return live().info(); },
};

/** @type {Record<string, (id: number, body: any) => Promise<any> | any>} */
const shortJobs = {
  inspect: (id, { request }) => live().inspect(request),
  predict: (id, { request }) => live().predict(request),
  embed: (id, { texts }) => live().embed(texts),
  info: () => live().info(),
  csv: (id, { table }) => csv(table),
  // The checkpoint's own tokenizer.json goes with it (a copy: the original stays for a rebuild).
  export: async (id, { heads }) => ({ ...(await live().export_checkpoint({ config: files.config, heads })), tokenizer: files.tokenizer.slice() }),
};

/** A lost GPU device: rebuild the same model on the CPU and say so. Returns true if it did. */
async function recoverFromGpuLoss(/** @type {any} */ e) {
  if (!session || !files || session.info().backend !== 'gpu' || e?.kind !== 'backend') return false;
  const next = await build(files, 'cpu');
  next.data(data);
  next.setCompute(session.info().compute);
  session.free();
  session = next;
  post({ type: 'notice', message: `The GPU stopped working (${e.message}); continuing on the CPU.`, info: session.info() });
  return true;
}

async function run(/** @type {number} */ id, /** @type {Function} */ fn, /** @type {any} */ body, /** @type {Job | null} */ job) {
  try {
    let value;
    try {
      value = await fn(id, body, job);
    } catch (e) {
      if (!(await recoverFromGpuLoss(e))) throw e;
      value = await fn(id, body, job);
    }
    // Typed arrays (attention maps, embeddings) move to the page instead of being copied.
    const transfer = [value?.attentions, value?.embeddings, value?.weights, value?.tokenizer].filter((a) => a instanceof Float32Array || a instanceof Uint8Array).map((a) => a.buffer);
    postMessage({ id, type: 'result', value }, { transfer });
  } catch (e) {
    const err = /** @type {any} */ (e);
    post({ id, type: 'error', message: err instanceof Error ? err.message : String(err), kind: err?.kind ?? (job?.cancelled ? 'cancelled' : undefined) });
  }
}

// Long jobs (and loads) form one queue; short ones run as soon as they arrive.
/** @type {{ id: number, type: string, body: any }[]} */
const queue = [];
async function pump() {
  if (running || !queue.length) return;
  const next = queue.shift();
  if (!next) return;
  const { id, type, body } = next;
  running = { id, cancelled: false };
  await run(id, type === 'load' ? load : longJobs[type], body, running);
  running = null;
  pump();
}

onmessage = async ({ data: msg }) => {
  const { id, type, ...body } = msg;
  if (type === 'cancel') {
    const i = queue.findIndex((q) => q.id === body.target);
    if (i >= 0) {
      queue.splice(i, 1);
      post({ id: body.target, type: 'error', message: 'cancelled: before it started', kind: 'cancelled' });
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
  if (!shortJobs[type]) return post({ id, type: 'error', message: `unknown request ${type}`, kind: 'input' });
  await wasmReady;
  await run(id, shortJobs[type], body, null);
};
