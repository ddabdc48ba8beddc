// The one module that talks to the engine worker: requests become promises, progress becomes a callback.
export class EngineClient {
  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.pending = new Map();
    this.nextId = 1;
    this.worker.onmessage = ({ data }) => {
      const p = this.pending.get(data.id);
      if (!p) return;
      if (data.type === 'progress') p.onProgress?.(data);
      else {
        this.pending.delete(data.id);
        if (data.type === 'result') p.resolve(data.value);
        else p.reject(new Error(data.message));
      }
    };
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new Error(`engine worker failed: ${e.message}`));
      this.pending.clear();
    };
  }

  request(type, body = {}, onProgress) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, type, ...body });
    });
  }

  load(base, backend, head, onProgress) { return this.request('load', { base, backend, head }, onProgress); }
  embed(texts) { return this.request('embed', { texts }); }
  attention(text) { return this.request('attention', { text }); }
  score(data, request, onProgress) { return this.request('score', { data, request }, onProgress); }
  plan(data, request, onProgress) { return this.request('plan', { data, request }, onProgress); }
  setDev(data) { return this.request('setDev', { data }); }
  evaluate(heads, structural, onProgress) { return this.request('evaluate', { heads, structural }, onProgress); }
}
