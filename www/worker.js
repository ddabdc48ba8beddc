// The engine's Web Worker: it fetches the model files (with byte progress), builds the wasm
// engine and answers one request at a time, so the page never blocks on the model.
//
// Messages in:  {id, type: 'load', base, backend, head?}  {id, type: 'embed', texts}
//               {id, type: 'attention', text}  {id, type: 'score', data, request}
//               {id, type: 'plan', data, request}  {id, type: 'setDev', data}
//               {id, type: 'evaluate', heads, structural}
//               (data: URL of a label<TAB>text file; head: URL of a classifier head .safetensors
//               whose sidecar is the same path with .json)
// Messages out: {id, type: 'progress', loaded, total, file?}  {id, type: 'result', value}
//               {id, type: 'error', message}
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

async function fetchText(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  return res.text();
}

const progressOf = (id) => (loaded, total) => postMessage({ id, type: 'progress', loaded, total });

async function load(id, { base, backend, head }) {
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
  if (head) next.setHead(await fetchBytes(head, id), await fetchText(head.replace(/\.safetensors$/, '.json')));
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
  async score(id, { data, request }) {
    const t0 = performance.now();
    const out = await engine.score(await fetchText(data), JSON.stringify(request), progressOf(id));
    return { ...out, ms: performance.now() - t0 };
  },
  async plan(id, { data, request }) {
    return engine.plan(await fetchText(data), JSON.stringify(request), progressOf(id));
  },
  async setDev(id, { data }) {
    return engine.setDev(await fetchText(data));
  },
  async evaluate(id, { heads, structural }) {
    const t0 = performance.now();
    const out = await engine.evaluate(JSON.stringify(heads), structural, progressOf(id));
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
