// The foundation demo: load MiniLM in a worker (WebGPU when an adapter exists, else the CPU),
// embed two sentences and show their cosine similarity, the backend and the timings.
import { EngineClient } from './client.js';

const MODEL_BASE = new URL('../assets/models/all-MiniLM-L6-v2', import.meta.url).href;
const HEAD = new URL('../heads/minilm-rotten-tomatoes.safetensors', import.meta.url).href;
const $ = (id) => document.getElementById(id);
const client = new EngineClient();
let loaded = null;

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

async function load(backend) {
  $('run').disabled = true;
  const seen = {};
  status('Loading the model…');
  try {
    loaded = await client.load(MODEL_BASE, backend, HEAD, ({ file, loaded, total }) => {
      seen[file] = { loaded, total };
      const sum = (k) => Object.values(seen).reduce((s, f) => s + f[k], 0);
      const mb = (n) => (n / 1e6).toFixed(1);
      status(`Downloading ${file}: ${mb(sum('loaded'))} of ${mb(sum('total'))} MB`);
    });
  } catch (e) {
    status(`Could not load the model: ${e.message}`, true);
    return;
  }
  const name = loaded.backend === 'gpu' ? 'WebGPU' : 'CPU (wasm SIMD, 1 thread)';
  $('backend').textContent = name + (loaded.fallback ? ` — WebGPU unavailable: ${loaded.fallback}` : '');
  $('model').textContent = `${loaded.layers} layers × ${loaded.heads} heads, hidden ${loaded.hidden}, ${loaded.pooling} pooling${loaded.normalize ? ', L2-normalised' : ''}`;
  $('load-ms').textContent = `${loaded.loadMs.toFixed(0)} ms`;
  status('Ready.');
  $('run').disabled = false;
  await run();
}

async function run() {
  const texts = [$('a').value, $('b').value];
  $('run').disabled = true;
  try {
    const out = await client.embed(texts);
    const d = out.dim;
    const ea = out.embeddings.subarray(0, d), eb = out.embeddings.subarray(d, 2 * d);
    $('cosine').textContent = cosine(ea, eb).toFixed(4);
    $('embed-ms').textContent = `${out.ms.toFixed(0)} ms for 2 sentences`;
    $('tokens').textContent = out.ids.map((ids, i) => `${ids.length} tokens${out.truncated[i] ? ' (truncated)' : ''}`).join(' / ');
    status('Ready.');
  } catch (e) {
    status(`Could not embed: ${e.message}`, true);
  } finally {
    $('run').disabled = false;
  }
}

const params = new URLSearchParams(location.search);
const initial = params.get('backend') ?? 'auto';
for (const radio of document.querySelectorAll('input[name=backend]')) {
  radio.checked = radio.value === initial;
  radio.addEventListener('change', () => load(radio.value));
}
$('run').addEventListener('click', run);
const ready = load(initial);

// For tests and the console: the same engine, driven directly.
window.hies = {
  ready,
  info: () => loaded,
  load: (backend) => load(backend),
  embed: (texts) => client.embed(texts),
  attention: (text) => client.attention(text),
  score: (data, request, onProgress) => client.score(new URL(data, location.href).href, request, onProgress),
  plan: (data, request, onProgress) => client.plan(new URL(data, location.href).href, request, onProgress),
  setDev: (data) => client.setDev(new URL(data, location.href).href),
  evaluate: (heads, structural, onProgress) => client.evaluate(heads, structural, onProgress),
};
