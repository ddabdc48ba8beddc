// One page, one thread each: our wasm CPU engine and transformers.js (onnxruntime-web, wasm, 1
// thread, fp32 and q8, the ONNX export of the same weights from local files) on the same dev
// sentences, batched alike; our structural pruning speedups; the page's wasm SIMD mul+add ceiling.
// Results land in window.bench (bench/browser.mjs collects them).
import initPlain, * as simd128Build from '/www/pkg/hies.js';
import initRelaxed, * as relaxedBuild from '/www/pkg-relaxed/hies.js';
import { env, pipeline } from '/bench/node_modules/@huggingface/transformers/dist/transformers.web.js';
import { keepScore, selectPruned } from '/www/analysis.js';

const params = new URLSearchParams(location.search);
const RUNS = Number(params.get('runs') ?? 3);
const PRUNE_SENTENCES = Number(params.get('prune') ?? 200);
const log = (s) => { document.getElementById('log').textContent += `\n${s}`; console.log(s); };
const bytes = async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// src/batch.rs `plan`, to batch both engines the same way.
function plan(lens, maxTokens, maxBatch) {
  const order = lens.map((_, i) => i).sort((a, b) => lens[a] - lens[b] || a - b);
  const out = [];
  let cur = [];
  for (const i of order) {
    if (cur.length && ((cur.length + 1) * lens[i] > maxTokens || cur.length >= maxBatch)) { out.push(cur); cur = []; }
    cur.push(i);
  }
  if (cur.length) out.push(cur);
  return out;
}

// src/flops.rs `encoder_flops`.
function flops(c, kept, b, t) {
  const dh = c.hidden_size / c.num_attention_heads;
  return kept.reduce((s, k) => s + 6 * b * t * c.hidden_size * k * dh + 4 * b * t * t * k * dh + 2 * b * t * k * dh * c.hidden_size + 4 * b * t * c.hidden_size * c.intermediate_size, 0);
}

async function time(runs, f) {
  await f(); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); await f(); times.push((performance.now() - t0) / 1000); }
  return { median_s: median(times), runs_s: times };
}

async function simdCeiling() {
  const { instance } = await WebAssembly.instantiate(await bytes('/bench/.cache/simd-probe.wasm'));
  const iters = 20_000_000;
  instance.exports.run(1000);
  const times = [];
  for (let i = 0; i < 5; i++) { const t0 = performance.now(); instance.exports.run(iters); times.push((performance.now() - t0) / 1000); }
  return { gflop_per_s: (iters * instance.exports.flops_per_iter()) / median(times) / 1e9, flops_per_iter: instance.exports.flops_per_iter() };
}

async function main() {
  const out = { user_agent: navigator.userAgent, hardware_concurrency: navigator.hardwareConcurrency };
  out.simd = await simdCeiling();
  log(`wasm SIMD mul+add ceiling: ${out.simd.gflop_per_s.toFixed(2)} GFLOP/s`);

  const dev = (await (await fetch('/assets/data/rotten-tomatoes/dev.tsv')).text()).split('\n').filter((l) => l.includes('\t'));
  const texts = dev.map((l) => l.split('\t')[1]).slice(0, Number(params.get('n') ?? dev.length));
  const base = '/assets/models/all-MiniLM-L6-v2';
  const configBytes = await bytes(`${base}/config.json`);
  const config = JSON.parse(new TextDecoder().decode(configBytes));
  // The build the page runs here (www/worker.js): the relaxed-SIMD one where the browser
  // validates it, else SIMD128's. The other is timed on q8 below.
  await initPlain();
  let build = simd128Build;
  try { await initRelaxed(); build = relaxedBuild; } catch (e) { log(`no relaxed SIMD here (${e.message}): the SIMD128 build`); }
  const files = { config: configBytes, weights: await bytes(`${base}/model.safetensors`), tokenizer: await bytes(`${base}/tokenizer.json`),
    modules: await bytes(`${base}/modules.json`), pooling: await bytes(`${base}/1_Pooling/config.json`),
    classifier: { weights: await bytes('/classifiers/minilm-rotten-tomatoes.safetensors'), meta: await (await fetch('/classifiers/minilm-rotten-tomatoes.json')).json() } };
  const t0 = performance.now();
  const engine = await build.HiesSession.create(files, 'cpu');
  out.hies_load_ms = performance.now() - t0;
  out.relaxed_simd = engine.info().relaxed_simd;

  // Ours: `embed` batches internally exactly as `plan(lens, 4096, 64)`.
  const ours = await engine.embed(texts);
  const lens = Array.from(ours.lengths);
  const batches = plan(lens, 4096, 64);
  const kept = Array(config.num_hidden_layers).fill(config.num_attention_heads);
  const totalFlops = batches.reduce((s, b) => s + flops(config, kept, b.length, Math.max(...b.map((i) => lens[i]))), 0);
  // The share of the SIMD ceiling pair by pair: a probe right before each timed forward. This
  // shared machine's clock moves between minutes (probes from 28 to 48 GFLOP/s in one hour);
  // each pair sees the same one. (The warm-up was the `embed` above.)
  const times = [], probes = [], shares = [];
  for (let i = 0; i < RUNS; i++) {
    const p = (await simdCeiling()).gflop_per_s;
    const t0 = performance.now();
    await engine.embed(texts);
    const t = (performance.now() - t0) / 1000;
    times.push(t); probes.push(p); shares.push(totalFlops / t / 1e9 / p);
  }
  out.forward_hies = { median_s: median(times), runs_s: times, sentences_per_s: texts.length / median(times) };
  out.simd_probes_gflop_per_s = probes;
  out.share_of_simd_ceiling = median(shares);
  out.forward_hies.gflop_per_s = totalFlops / out.forward_hies.median_s / 1e9;
  out.encoder_gflop = totalFlops / 1e9;
  log(`hies wasm: ${out.forward_hies.sentences_per_s.toFixed(2)} sentences/s, ${out.forward_hies.gflop_per_s.toFixed(2)} GFLOP/s, ${(100 * out.share_of_simd_ceiling).toFixed(0)} % of the probes beside it (${probes.map((p) => p.toFixed(1)).join(', ')} GFLOP/s)`);

  // transformers.js on the same sentences in the same batches.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = '/bench/.cache/models/';
  env.backends.onnx.wasm.numThreads = 1;
  env.backends.onnx.wasm.proxy = false;
  env.backends.onnx.wasm.wasmPaths = '/bench/node_modules/onnxruntime-web/dist/';
  // One transformers.js pipeline over the same batches as ours, rows in sentence order.
  const runWith = (extractor) => async () => {
    const rows = new Array(texts.length);
    for (const b of batches) {
      const t = await extractor(b.map((i) => texts[i]), { pooling: 'mean', normalize: true });
      const d = t.dims[1];
      b.forEach((i, r) => { rows[i] = t.data.subarray(r * d, (r + 1) * d); });
    }
    return rows;
  };
  const theirs = runWith(await pipeline('feature-extraction', 'minilm', { dtype: 'fp32', device: 'wasm' }));
  const rows = await theirs();
  let diff = 0;
  rows.forEach((r, i) => r.forEach((x, k) => { diff = Math.max(diff, Math.abs(x - ours.embeddings[i * ours.dim + k])); }));
  out.max_abs_diff_vs_transformers_js = diff;
  out.forward_transformers_js = await time(RUNS, theirs);
  out.forward_transformers_js.sentences_per_s = texts.length / out.forward_transformers_js.median_s;
  log(`transformers.js: ${out.forward_transformers_js.sentences_per_s.toFixed(2)} sentences/s (max |diff| ${diff.toExponential(1)})`);

  // int8: our q8 path against transformers.js's dtype 'q8' (onnxruntime's quantize_dynamic of the
  // same ONNX export, as Hugging Face's q8 files are made), timed pair by pair so that both see
  // the same clock; each one's embeddings against its own f32 ones.
  const cos = (a, b) => { let d = 0, x = 0, y = 0; for (let k = 0; k < a.length; k++) { d += a[k] * b[k]; x += a[k] * a[k]; y += b[k] * b[k]; } return d / Math.sqrt(x * y); };
  const minCos = (rowsOf) => Math.min(...texts.map((_, i) => cos(rowsOf(i), ours.embeddings.subarray(i * ours.dim, (i + 1) * ours.dim))));
  const theirsQ8 = runWith(await pipeline('feature-extraction', 'minilm', { dtype: 'q8', device: 'wasm' }));
  engine.setCompute('q8');
  const oursQ8 = await engine.embed(texts); // also the warm-up
  const theirsQ8Rows = await theirsQ8();
  out.q8_min_cosine_hies = minCos((i) => oursQ8.embeddings.subarray(i * ours.dim, (i + 1) * ours.dim));
  out.q8_min_cosine_transformers_js = Math.min(...texts.map((_, i) => cos(theirsQ8Rows[i], rows[i])));
  // The SIMD128 build's q8 (what browsers without relaxed SIMD run), in the same pairs.
  const other = out.relaxed_simd ? await simd128Build.HiesSession.create(files, 'cpu') : null;
  other?.setCompute('q8');
  const otherQ8 = await other?.embed(texts); // also its warm-up
  if (otherQ8) out.q8_simd128_equals_relaxed = otherQ8.embeddings.every((v, k) => Object.is(v, oursQ8.embeddings[k]));
  const q8Ours = [], q8Theirs = [], q8Other = [];
  for (let i = 0; i < RUNS; i++) {
    let t0 = performance.now(); await engine.embed(texts); q8Ours.push((performance.now() - t0) / 1000);
    t0 = performance.now(); await theirsQ8(); q8Theirs.push((performance.now() - t0) / 1000);
    if (other) { t0 = performance.now(); await other.embed(texts); q8Other.push((performance.now() - t0) / 1000); }
  }
  engine.setCompute('exact');
  other?.free();
  const rate = (runs) => ({ median_s: median(runs), runs_s: runs, sentences_per_s: texts.length / median(runs) });
  out.forward_hies_q8 = rate(q8Ours);
  out.forward_transformers_js_q8 = rate(q8Theirs);
  if (other) out.forward_hies_q8_simd128 = rate(q8Other);
  log(`q8: hies ${out.forward_hies_q8.sentences_per_s.toFixed(2)} sentences/s (${out.relaxed_simd ? 'relaxed SIMD' : 'SIMD128'}; min cosine to f32 ${out.q8_min_cosine_hies.toFixed(4)}), transformers.js ${out.forward_transformers_js_q8.sentences_per_s.toFixed(2)} (min cosine ${out.q8_min_cosine_transformers_js.toFixed(4)})${other ? `; SIMD128 build ${out.forward_hies_q8_simd128.sentences_per_s.toFixed(2)}, same bits: ${out.q8_simd128_equals_relaxed}` : ''}`);

  // Structural pruning in HIES order on a dev subset: measured vs FLOP-predicted speedup.
  engine.data({ calibration: await (await fetch('/assets/data/rotten-tomatoes/train.tsv')).text() });
  const scores = await engine.score({ n: 32, seed: 0 });
  const keep = keepScore('hies', scores, { alpha: 0.5, preset: 'paper', per_layer_min_max: false }, 0);
  const sub = texts.slice(0, PRUNE_SENTENCES);
  const subBatches = plan(lens.slice(0, PRUNE_SENTENCES), 4096, 64);
  const run = (heads, structural) => async () => { for (const b of subBatches) await engine.predict({ texts: b.map((i) => sub[i]), removal: { heads, structural } }); };
  const subFlops = (k) => subBatches.reduce((s, b) => s + flops(config, k, b.length, Math.max(...b.map((i) => lens[i]))), 0);
  out.pruning = [];
  for (const ratio of [0.3, 0.5, 0.7]) {
    const count = Math.round(ratio * 72);
    const off = selectPruned(keep, count);
    const k = kept.map((h, l) => h - off.filter((x) => x[0] === l).length);
    await run(off, true)(); // builds the sliced model once
    const full = [], small = [];
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now(); await run([], false)(); full.push((performance.now() - t) / 1000);
      t = performance.now(); await run(off, true)(); small.push((performance.now() - t) / 1000);
    }
    const predicted = subFlops(kept) / subFlops(k);
    const measured = median(full) / median(small);
    out.pruning.push({ ratio, heads_pruned: count, full_s: median(full), structural_s: median(small), measured_speedup: measured,
      flop_predicted_speedup: predicted, share_of_predicted: (measured - 1) / (predicted - 1) });
    log(`prune ${count}: ${measured.toFixed(2)}× measured, ${predicted.toFixed(2)}× predicted`);
  }
  window.bench = out;
  log('done');
}

main().catch((e) => { window.bench = { error: e.message, stack: e.stack }; log(`error: ${e.message}`); });
