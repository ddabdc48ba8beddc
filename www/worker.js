// @ts-check
// The engine's worker. It fetches (or is handed) the model files, builds the wasm session and
// answers requests, so the page never blocks on the model. Values pass through as the engine
// returns them (types in pkg/hies.d.ts, generated from the Rust structs).
//
// One engine for every embed: where the browser has SharedWorker, the page's frames (several
// embeds on one page, or tabs of the site) connect to one worker, and frames that ask for the
// same model, backend, data and compute share one session (one copy of the weights). A frame
// that changes its data or compute moves to a session of its own, built from the bytes already
// here. Elsewhere each frame has a dedicated worker, the same code with one client.
//
// In:  { id, type, ...body } (ids are per frame). Long jobs (score, plan, evaluate, latency, curves, alpha_sweep,
//      paper_check, data) run one at a time in order and can be cancelled: { type: 'cancel', target: id }. Short ones
//      (inspect, predict, embed, info, csv, export) run at once, between the long job's batches.
// Out: { id, type: 'progress', progress }   while a request runs
//      { id, type: 'result', value }         the answer
//      { id, type: 'error', message, kind }  kind: the engine's error kind ("weights", "cancelled", …)
//      { type: 'notice', message, info }     unasked: e.g. the GPU was lost and the CPU took over
//      { type: 'close' } from the page when it goes away (pagehide): its session is let go
import { dropOldCaches, fetchBytes } from './assets.js';

/** @typedef {import('./pkg/hies.js').CheckpointBytes} CheckpointBytes */
/** @typedef {import('./pkg/hies.js').ModelInfo} ModelInfo */
/** @typedef {import('./pkg/hies.js').BackendChoice} BackendChoice */
/** @typedef {import('./pkg/hies.js').HiesSession} HiesSession */
/** @typedef {import('./engine.js').Source} Source */
/** @typedef {import('./engine.js').ModelSource} ModelSource */
/** @typedef {import('./engine.js').DataSource} DataSource */
/** @typedef {{ id: number, cancelled: boolean, client: Client }} Job */
/** @typedef {import('./pkg/hies.js').DataText} DataText */
/** @typedef {import('./pkg/hies.js').Compute} Compute */
/**
 * A session and what it was built from: frames that ask for the same model (`model`, its sources'
 * names), backend, data and compute share it.
 * @typedef {{ session: HiesSession, files: CheckpointBytes, model: string, backend: BackendChoice,
 *   data: DataText, dataNote: string | null, compute: Compute, clients: Set<Client> }} Entry
 */
/** @typedef {{ port: { postMessage: (msg: any, transfer?: Transferable[]) => void }, entry: Entry | null, closed: boolean }} Client */

/** @typedef {typeof import('./pkg/hies.js')} Build */
// Three builds of the same engine. The CPU one starts at once: pkg-relaxed/ where the browser
// validates relaxed SIMD (its q8 kernel multiplies int8 with `i32x4.relaxed_dot_i8x16_i7x16_add_s`,
// 1.5× the q8 forward of SIMD128's i16 dot product in Chromium), else pkg/ (the same numbers to
// the bit). The one with burn's wgpu backend (pkg-gpu/, 18.9 MB, 4.7 MB gzip) is fetched the
// first time WebGPU is asked for, and only where the browser offers an adapter. A worker named
// "… simd128" (engine.js, `?simd=simd128` on the page) keeps to pkg/: the tests and the bench
// measure both.
const RELAXED_SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 17, 65, 0, 253, 17, 65, 0, 253, 17, 253, 147, 2, 11]); // (func (result v128) (i32x4.relaxed_dot_i8x16_i7x16_add_s …))
/** The CPU build: the relaxed-SIMD one where it validates, loads and computes the SIMD128 one's
 *  bits on a fixed product (a browser can validate it and still compile it wrong), else pkg/. */
async function cpuBuild() {
  if (!self.name.endsWith(' simd128') && WebAssembly.validate(RELAXED_SIMD_PROBE)) {
    try {
      const m = await import('./pkg-relaxed/hies.js');
      await m.default();
      if (m.relaxed_simd_check()) return /** @type {Build} */ (/** @type {unknown} */ (m));
      console.warn('HIES Lab: the relaxed-SIMD engine computed a different q8 product in this browser; using the SIMD128 one');
    } catch (e) {
      console.warn(`HIES Lab: the relaxed-SIMD engine did not load (${e.message}); using the SIMD128 one`);
    }
  }
  const m = await import('./pkg/hies.js');
  await m.default();
  return m;
}
/** @type {Promise<Build>} */
const cpuReady = cpuBuild();
/** @type {Promise<Build> | null} */
let gpuReady = null;
dropOldCaches().catch(() => {});

/** Why "auto" runs on the CPU, per session, where the worker chose that (no adapter, the GPU
 *  build missing); the engine reports its own reasons in `info().fallback`. */
const fallbacks = new WeakMap();

/** The build for a backend choice, the choice to hand it, and why "auto" became the CPU.
 *  `onStage` hears when the WebGPU build is being fetched. */
async function buildFor(/** @type {BackendChoice} */ backend, /** @type {(stage: string) => void} */ onStage) {
  let fallback = null;
  if (backend === 'cpu') return { build: await cpuReady, backend, fallback };
  let adapter = null;
  const { gpu } = /** @type {any} */ (navigator);
  try { adapter = await gpu?.requestAdapter(); } catch { /* as none */ }
  if (!adapter) {
    const why = gpu ? 'the browser offers no WebGPU adapter' : 'this browser has no WebGPU here (in this worker)';
    if (backend === 'gpu') throw fail('backend', `no usable GPU adapter (${why})`);
    return { build: await cpuReady, backend: /** @type {BackendChoice} */ ('cpu'), fallback: why };
  }
  if (!gpuReady) onStage('loading the WebGPU engine');
  // The same API as pkg/ (one Rust source); its InitOutput type lists more wasm exports.
  gpuReady ??= import('./pkg-gpu/hies.js').then(async (m) => { await m.default(); return /** @type {Build} */ (/** @type {unknown} */ (m)); });
  try {
    return { build: await gpuReady, backend, fallback };
  } catch (e) {
    gpuReady = null;
    if (backend === 'gpu') throw fail('network', `cannot load the GPU engine: ${e.message}`);
    fallback = `the GPU engine could not be loaded (${e.message})`;
    return { build: await cpuReady, backend: /** @type {BackendChoice} */ ('cpu'), fallback };
  }
}

/** The session's ModelInfo, with the worker's own reason when "auto" chose the CPU build. */
const infoOf = (/** @type {HiesSession} */ s) => {
  const info = s.info();
  const fallback = fallbacks.get(s);
  return fallback && !info.fallback ? { ...info, fallback } : info;
};

/** @type {Set<Entry>} */
const entries = new Set();
/** @type {Job | null} */
let running = null;
/** Long jobs and loads of every client, one at a time (the engine is single-threaded, and a
 *  long job yields between its batches). @type {{ client: Client, id: number, type: string, body: any }[]} */
const queue = [];

/** Posts a request's progress to its frame. */
const progressTo = (/** @type {Client} */ client, /** @type {number} */ id) => (/** @type {any} */ progress) =>
  client.port.postMessage({ id, type: 'progress', progress });
/** A long job's progress callback: returning false tells the engine to stop at its next batch. */
const tick = (/** @type {Client} */ client, /** @type {number} */ id, /** @type {Job | null} */ job) => (/** @type {any} */ progress) => {
  progressTo(client, id)(progress);
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

/** Picked files get a key of their own (never shared); URLs are shared by name. */
let picked = 0;
const sourceKey = (/** @type {any} */ s) => (s === undefined || s === null ? null : typeof s === 'string' ? s
  : s instanceof Blob ? `picked:${++picked}` : Array.isArray(s) ? s.map(sourceKey) : Object.fromEntries(Object.entries(s).map(([k, v]) => [k, sourceKey(v)])));
/** Whether two sets of data texts are the same, text for text (no hash: never another's data). */
const sameData = (/** @type {any} */ a, /** @type {any} */ b) => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
};
/** The entry that has exactly this model, backend, data and compute, if one does. */
const find = (/** @type {string} */ model, /** @type {BackendChoice} */ backend, /** @type {DataText} */ data, /** @type {Compute} */ compute) =>
  [...entries].find((e) => e.model === model && e.backend === backend && e.compute === compute && sameData(e.data, data));

/** A session over `files`. Every session of every frame lives in this worker's one wasm memory
 *  (4 GB at most): each one more gets half the evaluation cache of the one before (256 MB, the
 *  engine's default, then 128, … down to 32). */
async function build(/** @type {CheckpointBytes} */ f, /** @type {BackendChoice} */ choice, /** @type {(stage: string) => void} */ onStage = () => {}) {
  const { build: engine, backend, fallback } = await buildFor(choice, onStage);
  const next = await engine.HiesSession.create(f, backend, Math.max(32, 256 >> entries.size));
  if (fallback) fallbacks.set(next, fallback);
  if (!next.info().classifier) {
    next.free();
    throw fail('classifier', 'classifier: this checkpoint has no classifier (classifier.weight / classifier.bias), which importance scores and accuracy need: use a …ForSequenceClassification checkpoint (BERT, DistilBERT, RoBERTa, XLM-RoBERTa or ELECTRA)');
  }
  return next;
}

/** A new entry, registered: a session over `files` with `texts` set and `compute`. On a load
 *  (`lenient`), built-in data that does not fit the model's labels is left out: the model loads
 *  without data (attention and predictions work) and says why. */
async function newEntry(/** @type {CheckpointBytes} */ files, /** @type {string} */ model, /** @type {BackendChoice} */ backend, /** @type {DataText} */ texts, /** @type {Compute} */ compute,
  lenient = false, /** @type {(stage: string) => void} */ onStage = () => {}) {
  const session = await build(files, backend, onStage);
  // Only this model's data: another model's splits (the built-in validation split, say) would be
  // read with this model's labels.
  let data = texts, dataNote = null;
  try {
    try {
      session.data(data);
    } catch (e) {
      if (!(lenient && texts.builtin && /** @type {any} */ (e).kind === 'data')) throw e;
      dataNote = /** @type {Error} */ (e).message;
      data = {};
    }
    if (compute !== 'exact') session.setCompute(compute);
  } catch (e) {
    session.free();
    throw e;
  }
  /** @type {Entry} */
  const entry = { session, files, model, backend, data, dataNote, compute, clients: new Set() };
  entries.add(entry);
  return entry;
}

/** Moves a client to `entry` (to none once it has closed: a load that ends after its frame
 *  went away leaves nothing behind); an entry no one uses any more is freed. */
function attach(/** @type {Client} */ client, /** @type {Entry | null} */ entry) {
  const next = client.closed ? null : entry;
  for (const e of new Set([client.entry, entry])) {
    if (!e || e === next) continue;
    e.clients.delete(client);
    if (!e.clients.size) {
      entries.delete(e);
      try {
        e.session.free();
      } catch { /* a call still holds it: wasm-bindgen frees it when that call returns */ }
    }
  }
  next?.clients.add(client);
  client.entry = next;
}

/** The entry for what `client` has with its data or compute changed: another frame's that has
 *  exactly that, else its own changed in place when no one shares it (`apply`), else a new one
 *  built from the bytes already here. */
async function changed(/** @type {Client} */ client, /** @type {{ data?: DataText, compute?: Compute }} */ change, /** @type {(s: HiesSession) => void} */ apply) {
  const from = live(client);
  const data = change.data ?? from.data, compute = change.compute ?? from.compute;
  const there = find(from.model, from.backend, data, compute);
  if (there) return there;
  if (from.clients.size === 1) {
    apply(from.session);
    return Object.assign(from, { data, compute, dataNote: change.data ? null : from.dataNote });
  }
  return newEntry(from.files, from.model, from.backend, data, compute);
}

/** Loads a model and its data (or joins a frame that has them); only when all of it works does
 *  the client leave its old session. */
async function load(/** @type {Client} */ client, /** @type {number} */ id, /** @type {{ model: ModelSource, backend: BackendChoice, data?: DataSource }} */ { model, backend, data: source }) {
  const onProgress = progressTo(client, id);
  const modelKey = JSON.stringify(sourceKey(model));
  // The model's files download beside the data unless another frame has this model here (then
  // the data decide whether its session serves).
  const shared = [...entries].some((e) => e.model === modelKey && e.backend === backend);
  const fetching = shared ? null : fetchModel(model, onProgress);
  fetching?.catch(() => {}); // awaited below; a failed read of the data must not leave it unhandled
  const texts = await readData(source ?? {}, onProgress);
  let entry = find(modelKey, backend, texts, 'exact');
  if (!entry) {
    const files = await (fetching ?? fetchModel(model, onProgress));
    onProgress({ stage: 'building the engine' });
    entry = await newEntry(files, modelKey, backend, texts, 'exact', true, (stage) => onProgress({ stage }));
  }
  attach(client, entry);
  return { ...infoOf(entry.session), data_note: entry.dataNote };
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

/** Replaces the evaluation and/or calibration data of the client's model; the sizes now set. */
async function setData(/** @type {Client} */ client, /** @type {number} */ id, /** @type {DataSource} */ source) {
  const next = await readData(source, progressTo(client, id));
  const entry = await changed(client, { data: { ...live(client).data, ...next } }, (s) => s.data(next));
  attach(client, entry);
  const { calibration_size, evaluation_size, validation_size } = entry.session.info();
  return { calibration_size, evaluation_size, validation_size };
}

const live = (/** @type {Client} */ client) => {
  if (!client.entry) throw fail('input', 'no model loaded yet');
  return client.entry;
};
const session = (/** @type {Client} */ client) => live(client).session;

/** @type {Record<string, (client: Client, id: number, body: any, job: Job) => Promise<any>>} */
const longJobs = {
  data: setData,
  score: (c, id, { request }, job) => session(c).score(request, tick(c, id, job)),
  plan: (c, id, { request }, job) => session(c).plan(request, tick(c, id, job)),
  evaluate: (c, id, { removal }, job) => session(c).evaluate(removal, tick(c, id, job)),
  latency: (c, id, { request }, job) => session(c).latency(request, tick(c, id, job)),
  curves: (c, id, { request }, job) => session(c).curves(request, tick(c, id, job)),
  alpha_sweep: (c, id, { request }, job) => session(c).alpha_sweep(request, tick(c, id, job)),
  paper_check: (c, id, { request }, job) => session(c).paper_check(request, tick(c, id, job)),
  // A long job, so that it never lands in the middle of a pass.
  compute: async (c, id, { compute }) => {
    attach(c, await changed(c, { compute }, (s) => s.setCompute(compute)));
    return infoOf(session(c));
  },
};

/** @type {Record<string, (client: Client, id: number, body: any) => Promise<any> | any>} */
const shortJobs = {
  inspect: (c, id, { request }) => session(c).inspect(request),
  predict: (c, id, { request }) => session(c).predict(request),
  embed: (c, id, { texts }) => session(c).embed(texts),
  info: (c) => infoOf(session(c)),
  csv: async (c, id, { table }) => (await cpuReady).csv(table),
  // The checkpoint's own tokenizer.json goes with it (a copy: the original stays for a rebuild).
  export: async (c, id, { heads }) => {
    const { session: s, files } = live(c);
    return { ...(await s.export_checkpoint({ config: files.config, heads })), tokenizer: files.tokenizer.slice() };
  },
};

/** A lost GPU device: rebuild the client's model on the CPU, for every frame that shares it, and
 *  say so. Returns true if it did. */
async function recoverFromGpuLoss(/** @type {Client} */ client, /** @type {any} */ e) {
  const entry = client.entry;
  if (!entry || entry.session.info().backend !== 'gpu' || e?.kind !== 'backend') return false;
  const next = await build(entry.files, 'cpu');
  next.data(entry.data);
  next.setCompute(entry.compute);
  entry.session.free();
  entry.session = next;
  entry.backend = 'cpu'; // frames that change data or compute later build on the CPU too
  for (const c of entry.clients) c.port.postMessage({ type: 'notice', message: `The GPU stopped working (${e.message}); continuing on the CPU.`, info: infoOf(next) });
  return true;
}

async function run(/** @type {Client} */ client, /** @type {number} */ id, /** @type {Function} */ fn, /** @type {any} */ body, /** @type {Job | null} */ job) {
  try {
    let value;
    try {
      value = await fn(client, id, body, job);
    } catch (e) {
      if (!(await recoverFromGpuLoss(client, e))) throw e;
      value = await fn(client, id, body, job);
    }
    // Typed arrays (attention maps, embeddings) move to the page instead of being copied.
    const transfer = [value?.attentions, value?.embeddings, value?.weights, value?.tokenizer].filter((a) => a instanceof Float32Array || a instanceof Uint8Array).map((a) => a.buffer);
    client.port.postMessage({ id, type: 'result', value }, transfer);
  } catch (e) {
    const err = /** @type {any} */ (e);
    client.port.postMessage({ id, type: 'error', message: err instanceof Error ? err.message : String(err), kind: err?.kind ?? (job?.cancelled ? 'cancelled' : undefined) });
    if (err instanceof WebAssembly.RuntimeError) crashed(err);
  }
}

/** A trap (a Rust panic) leaves the wasm instance unusable for every frame: say so to all of them
 *  and end the worker, so that reloading starts a fresh one even while other tabs are open. */
function crashed(/** @type {Error} */ e) {
  const message = `The engine stopped (${e.message}); reload the page to start it again.`;
  for (const c of clients) c.port.postMessage({ type: 'notice', message, info: null });
  globalThis.close();
}

async function pump() {
  if (running || !queue.length) return;
  const next = queue.shift();
  if (!next) return;
  const { client, id, type, body } = next;
  running = { id, cancelled: false, client };
  await run(client, id, type === 'load' ? load : longJobs[type], body, running);
  running = null;
  pump();
}

/** @type {Set<Client>} every frame connected */
const clients = new Set();

/** Serves one frame: its messages, answered on its port. */
function connect(/** @type {Client['port'] & { onmessage: any }} */ port) {
  /** @type {Client} */
  const client = { port, entry: null, closed: false };
  clients.add(client);
  port.onmessage = async (/** @type {MessageEvent} */ { data: msg }) => {
    const { id, type, ...body } = msg;
    if (type === 'close') {
      client.closed = true;
      clients.delete(client);
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i].client === client) queue.splice(i, 1);
      if (running?.client === client) running.cancelled = true;
      attach(client, null);
      return;
    }
    if (type === 'cancel') {
      const i = queue.findIndex((q) => q.client === client && q.id === body.target);
      if (i >= 0) {
        queue.splice(i, 1);
        port.postMessage({ id: body.target, type: 'error', message: 'cancelled: before it started', kind: 'cancelled' });
      } else if (running?.id === body.target && running.client === client) {
        running.cancelled = true; // seen by the job's next progress callback
      }
      return;
    }
    if (type === 'load' || longJobs[type]) {
      queue.push({ client, id, type, body });
      pump();
      return;
    }
    if (!shortJobs[type]) return port.postMessage({ id, type: 'error', message: `unknown request ${type}`, kind: 'input' });
    await cpuReady;
    await run(client, id, shortJobs[type], body, null);
  };
}

if ('onconnect' in globalThis) {
  // A SharedWorker: one port per frame.
  /** @type {any} */ (globalThis).onconnect = (/** @type {MessageEvent} */ e) => {
    const port = /** @type {MessagePort} */ (e.ports[0]);
    connect(/** @type {any} */ (port));
    port.start();
  };
} else {
  connect(/** @type {any} */ (globalThis));
}
