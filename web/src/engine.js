// The one module that talks to the engine worker: requests become promises (with a cancel
// handle), progress becomes a callback, unasked notices go to `onNotice`.
export class EngineClient {
  constructor({ onNotice } = {}) {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => {
      if (data.type === 'notice') { onNotice?.(data); return; }
      const p = this.pending.get(data.id);
      if (!p) return;
      if (data.type === 'progress') { p.onProgress?.(data); return; }
      this.pending.delete(data.id);
      if (data.type === 'result' || data.type === 'ready') p.resolve(data.value);
      else {
        const e = new Error(data.message);
        e.cancelled = !!data.cancelled;
        p.reject(e);
      }
    };
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new Error(`the engine worker failed: ${e.message ?? 'unknown error'}`));
      this.pending.clear();
    };
  }

  /** Sends a request; the promise carries `cancel()` and `id`. */
  request(type, body = {}, onProgress) {
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...body });
    });
    promise.id = id;
    promise.cancel = () => this.worker.postMessage({ type: 'cancel', target: id });
    return promise;
  }

  /** model: { config, weights, tokenizer, modules?, pooling?, head?, headMeta? } as URLs or Files;
   * data: { train, dev } as URLs or Files. */
  load(model, backend, data, onProgress) { return this.request('load', { model, backend, data }, onProgress); }
  score(request, onProgress, data) { return this.request('score', { request, data }, onProgress); }
  plan(request, onProgress, data) { return this.request('plan', { request, data }, onProgress); }
  setDev(data) { return this.request('setDev', { data }); }
  evaluate(heads, structural, onProgress) { return this.request('evaluate', { heads, structural }, onProgress); }
  latency(heads, onProgress) { return this.request('latency', { heads }, onProgress); }
  curves(options, devSize, onProgress) { return this.request('curves', { options, devSize }, onProgress); }
  attention(text) { return this.request('attention', { text }); }
  classify(texts, heads, structural) { return this.request('classify', { texts, heads, structural }); }
  embed(texts) { return this.request('embed', { texts }); }
}
