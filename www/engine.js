// @ts-check
// The one module that talks to the engine worker: requests become promises (with a cancel
// handle), progress becomes a callback, unasked notices go to `onNotice`. Errors are `Error`s
// with the engine's `kind` ("weights", "data", "cancelled", …).

/** @typedef {import('./pkg/hies.js').ScoreRequest} ScoreRequest */
/** @typedef {import('./pkg/hies.js').PlanRequest} PlanRequest */
/** @typedef {import('./pkg/hies.js').Removal} Removal */
/** @typedef {import('./pkg/hies.js').LatencyRequest} LatencyRequest */
/** @typedef {import('./pkg/hies.js').CurvesRequest} CurvesRequest */
/** @typedef {import('./pkg/hies.js').CsvTable} CsvTable */
/** @typedef {import('./pkg/hies.js').SweepRequest} SweepRequest */
/** @typedef {import('./pkg/hies.js').PaperCheckRequest} PaperCheckRequest */
/** @typedef {import('./pkg/hies.js').Sweep} Sweep */
/** @typedef {import('./pkg/hies.js').PaperCheck} PaperCheck */
/** @typedef {import('./pkg/hies.js').Scores} Scores */
/** @typedef {import('./pkg/hies.js').Plan} Plan */
/** @typedef {import('./pkg/hies.js').Evaluation} Evaluation */
/** @typedef {import('./pkg/hies.js').Latency} Latency */
/** @typedef {import('./pkg/hies.js').Curves} Curves */
/** @typedef {import('./pkg/hies.js').Inspection} Inspection */
/** @typedef {import('./pkg/hies.js').Prediction} Prediction */
/** @typedef {import('./pkg/hies.js').EmbeddingBatch} EmbeddingBatch */
/** @typedef {import('./pkg/hies.js').ModelInfo} ModelInfo */
/** @typedef {import('./pkg/hies.js').DataSizes} DataSizes */
/** @typedef {import('./pkg/hies.js').BackendChoice} BackendChoice */
/** @typedef {string | Blob} Source  a URL to fetch, or a file the reader picked */
/** @typedef {{ config: Source, weights?: Source, weights_index?: Source, shards?: Source[], tokenizer: Source, modules?: Source, pooling?: Source, sentence_bert_config?: Source, classifier?: { weights: Source, meta: Source }, adapter?: { config: Source, weights: Source, training: Source } }} ModelSource */
/** @typedef {{ calibration?: Source, evaluation?: Source, validation?: Source, builtin?: boolean }} DataSource */
/**
 * @template T
 * @typedef {Promise<T> & { id: number, cancel: () => void }} Job
 */
/** @typedef {Error & { kind?: string }} EngineError */

export class EngineClient {
  /** @param {{ onNotice?: (notice: { message: string, info: ModelInfo }) => void, simd128?: boolean }} [options]
   *  `simd128`: keep to the SIMD128 build even where relaxed SIMD would run (worker.js). */
  constructor({ onNotice, simd128 = false } = {}) {
    // One engine for all the site's frames where the browser has SharedWorker (five embeds on a
    // page hold one model, not five); else a worker per frame. The same worker code serves both.
    // (globalThis: this file's types are also read in the worker's scope, which has no SharedWorker.)
    const { SharedWorker } = /** @type {any} */ (globalThis);
    /** @type {any} */
    let worker = null;
    const name = simd128 ? 'hies-engine simd128' : 'hies-engine';
    try {
      if (typeof SharedWorker === 'function') worker = new SharedWorker(new URL('./worker.js', import.meta.url), { type: 'module', name });
    } catch { /* e.g. a sandboxed frame (SecurityError): a worker of its own */ }
    worker ??= new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name });
    /** @type {{ postMessage: (msg: any) => void, onmessage: ((e: MessageEvent) => void) | null }} */
    this.port = worker instanceof Worker ? worker : worker.port;
    this.shared = !(worker instanceof Worker);
    /** @type {Map<number, { resolve: (v: any) => void, reject: (e: EngineError) => void, onProgress?: (p: any) => void }>} */
    this.pending = new Map();
    this.nextId = 1;
    // The shared worker lets this frame's session go when the frame does (a frame restored from
    // the back/forward cache starts again).
    addEventListener('pagehide', () => this.port.postMessage({ type: 'close' }));
    addEventListener('pageshow', (/** @type {any} */ e) => { if (e.persisted) /** @type {any} */ (globalThis).location.reload(); });
    this.port.onmessage = ({ data }) => {
      if (data.type === 'notice') { onNotice?.(data); return; }
      const p = this.pending.get(data.id);
      if (!p) return;
      if (data.type === 'progress') { p.onProgress?.(data.progress); return; }
      this.pending.delete(data.id);
      if (data.type === 'result') p.resolve(data.value);
      else p.reject(Object.assign(new Error(data.message), { kind: data.kind }));
    };
    worker.onerror = (/** @type {any} */ e) => {
      for (const p of this.pending.values()) p.reject(new Error(`the engine worker failed: ${e.message ?? 'unknown error'}`));
      this.pending.clear();
    };
  }

  /**
   * Sends a request; the promise carries `cancel()` and `id`.
   * @template T
   * @param {string} type
   * @param {object} body
   * @param {(progress: any) => void} [onProgress]
   * @returns {Job<T>}
   */
  request(type, body = {}, onProgress) {
    const id = this.nextId++;
    const promise = /** @type {Job<T>} */ (new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.port.postMessage({ id, type, ...body });
    }));
    promise.id = id;
    promise.cancel = () => this.port.postMessage({ type: 'cancel', target: id });
    return promise;
  }

  /** @param {ModelSource} model @param {BackendChoice} backend @param {DataSource} [data] @param {(p: any) => void} [onProgress]
   *  @returns {Job<ModelInfo & { build_ms: number, data_note?: string | null }>} */
  load(model, backend, data, onProgress) { return this.request('load', { model, backend, data }, onProgress); }
  /** @param {DataSource} data @returns {Job<DataSizes>} */
  data(data) { return this.request('data', data); }
  /** @param {ScoreRequest} request @param {(p: { done: number, total: number }) => void} [onProgress] @returns {Job<Scores>} */
  score(request, onProgress) { return this.request('score', { request }, onProgress); }
  /** @param {PlanRequest} request @param {(p: { done: number, total: number }) => void} [onProgress] @returns {Job<Plan>} */
  plan(request, onProgress) { return this.request('plan', { request }, onProgress); }
  /** @param {Removal} removal @param {(p: import('./pkg/hies.js').EvalProgress) => void} [onProgress] @returns {Job<Evaluation>} */
  evaluate(removal, onProgress) { return this.request('evaluate', { removal }, onProgress); }
  /** @param {LatencyRequest} request @param {(p: { done: number, total: number }) => void} [onProgress] @returns {Job<Latency>} */
  latency(request, onProgress) { return this.request('latency', { request }, onProgress); }
  /** @param {CurvesRequest} request @param {(p: import('./pkg/hies.js').CurveProgress) => void} [onProgress] @returns {Job<Curves>} */
  curves(request, onProgress) { return this.request('curves', { request }, onProgress); }
  /** @param {SweepRequest} request @param {(p: import('./pkg/hies.js').CurveProgress) => void} [onProgress] @returns {Job<Sweep>} */
  alphaSweep(request, onProgress) { return this.request('alpha_sweep', { request }, onProgress); }
  /** @param {PaperCheckRequest} request @param {(p: import('./pkg/hies.js').CurveProgress) => void} [onProgress] @returns {Job<PaperCheck>} */
  paperCheck(request, onProgress) { return this.request('paper_check', { request }, onProgress); }
  /** @param {string} text @param {[number, number][]} heads @param {string | null} [textPair] the second sentence of a pair task
   *  @returns {Job<Inspection>} */
  inspect(text, heads = [], textPair = null) { return this.request('inspect', { request: { text, heads, ...(textPair === null ? {} : { text_pair: textPair }) } }); }
  /** @param {string[]} texts @param {Removal} [removal] @param {string[] | null} [textPairs] one second sentence per text, for a pair task
   *  @returns {Job<import('./pkg/hies.js').Classified[]>} */
  predict(texts, removal = { heads: [], structural: false }, textPairs = null) {
    return this.request('predict', { request: { texts, removal, ...(textPairs === null ? {} : { text_pairs: textPairs }) } });
  }
  /** How inference multiplies from now on (queued behind the running long job).
   *  @param {import('./pkg/hies.js').Compute} compute @returns {Job<ModelInfo>} */
  setCompute(compute) { return this.request('compute', { compute }); }
  /** @param {string[]} texts @returns {Job<EmbeddingBatch>} */
  embed(texts) { return this.request('embed', { texts }); }
  /** @param {[number, number][]} heads @returns {Job<import('./pkg/hies.js').ExportedCheckpoint>} */
  exportCheckpoint(heads) { return this.request('export', { heads }); }
  /** @param {CsvTable} table @returns {Job<string>} */
  csv(table) { return this.request('csv', { table }); }
}
