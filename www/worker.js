// The engine's Web Worker: it fetches the model files (with byte progress), builds the wasm
// engine and answers one request at a time, so the page never blocks on the model.
//
// Messages in:  {id, type: 'load', base, backend}  {id, type: 'embed', texts}  {id, type: 'attention', text}
// Messages out: {id, type: 'progress', loaded, total, file}  {id, type: 'result', value}  {id, type: 'error', message}
import init, { HiesEngine } from './pkg/hies.js';

let engine = null;
const wasmReady = init();

async function fetchBytes(url, id, optional = false) {
  const res = await fetch(url);
  if (!res.ok) {
    if (optional) return undefined;
    throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  }
  const total = Number(res.headers.get('content-length')) || 0;
  const reader = res.body.getReader();
  const parts = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    postMessage({ id, type: 'progress', file: url.split('/').pop(), loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) { bytes.set(p, at); at += p.length; }
  return bytes;
}

async function load(id, { base, backend }) {
  await wasmReady;
  const [config, tokenizer, modules, pooling] = await Promise.all([
    fetchBytes(`${base}/config.json`, id),
    fetchBytes(`${base}/tokenizer.json`, id),
    fetchBytes(`${base}/modules.json`, id, true),
    fetchBytes(`${base}/1_Pooling/config.json`, id, true),
  ]);
  const weights = await fetchBytes(`${base}/model.safetensors`, id);
  const t0 = performance.now();
  const next = await HiesEngine.create(config, weights, tokenizer, modules, pooling, backend);
  const loadMs = performance.now() - t0;
  if (engine) engine.free();
  engine = next;
  return { ...engine.info(), loadMs };
}

const handlers = {
  load,
  async embed(id, { texts }) {
    const t0 = performance.now();
    const out = await engine.embed(texts);
    return { ...out, ms: performance.now() - t0 };
  },
  async attention(id, { text }) {
    const t0 = performance.now();
    const out = await engine.attention(text);
    return { ...out, ms: performance.now() - t0 };
  },
};

// One request in flight: chain them so a second waits for the first.
let queue = Promise.resolve();
onmessage = ({ data }) => {
  const { id, type } = data;
  queue = queue.then(async () => {
    try {
      if (!handlers[type]) throw new Error(`unknown request ${type}`);
      if (type !== 'load' && !engine) throw new Error('no model loaded yet');
      const value = await handlers[type](id, data);
      postMessage({ id, type: 'result', value });
    } catch (e) {
      postMessage({ id, type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
};
