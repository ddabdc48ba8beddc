// Boots the page: state from the URL hash, precomputed numbers for the first paint, views, and
// the controller that turns state changes into engine requests (cancelling stale ones).
import precomputed from './precomputed.json';
import { PRESETS, keepScore, selectPruned } from './analysis.js';
import { CRITERIA, MANIFEST, alphaStar } from './catalogue.js';
import { EngineClient } from './engine.js';
import { listenHash, readHash, syncHash } from './hash.js';
import { headKey, parseHead, state, subscribe, totalHeads, update } from './state.js';
import { mountAttention } from './views/attention.js';
import { mountCurves } from './views/curves.js';
import { mountPaper } from './views/paper.js';
import { mountGrid } from './views/grid.js';
import { mountPrediction } from './views/prediction.js';
import { mountPrune } from './views/prune.js';
import { mountShare } from './views/share.js';
import { mountStatus } from './views/status.js';
import { mountUpload } from './views/upload.js';

const CALIBRATION_N = 32;
// The engine's ScoreOptions for the page's α, HIS preset and min-max switch.
const scoreOptions = () => ({ alpha: state.alpha, his_norm: PRESETS[state.preset], per_layer_min_max: state.perLayerMinMax });
const ranking = () => ({ alpha: state.alpha, preset: state.preset, per_layer_min_max: state.perLayerMinMax });
const url = (path) => new URL(path, document.baseURI).href;
// The built-in models, classifier and data at the paths the manifest gives (the same under
// `npm run dev`, which serves the repository, and in dist/, where the build copies them): the
// fine-tuned model (the base checkpoint + its LoRA adapter, merged in the engine) and the frozen
// encoder with its linear probe. The base checkpoint's weights come in int8 by default (the
// build writes model.int8.safetensors, a quarter of the bytes) or as the fp32 original.
const files = MANIFEST.checkpoint_files;
const BASE = Object.fromEntries(Object.entries(files).map(([role, name]) => [role, url(`${MANIFEST.model.dir}/${name}`)]));
const INT8 = url(`${MANIFEST.model.dir}/${MANIFEST.model.int8_weights}`);
const adapterFiles = MANIFEST.finetuned.files;
const DEFAULT_DATA = { calibration: url(MANIFEST.data.calibration), evaluation: url(MANIFEST.data.evaluation), validation: url(MANIFEST.data.validation), builtin: true };
const BUILTIN_IDS = ['finetuned', 'probe'];
const sources = {};
/** A built-in model's source with the weights the reader chose (one object per pair, so that
 *  loading another pair reads as another model). */
const builtin = (id, weights = state.weights) => (sources[`${id}:${weights}`] ??= {
  model: { ...BASE, weights: weights === 'int8' ? INT8 : BASE.weights,
    ...(id === 'finetuned'
      ? { adapter: Object.fromEntries(Object.entries(adapterFiles).map(([role, name]) => [role, url(`${MANIFEST.finetuned.dir}/${name}`)])) }
      : { classifier: { weights: url(MANIFEST.classifier.weights), meta: url(MANIFEST.classifier.meta) } }) },
  data: DEFAULT_DATA, meta: { id, custom: false, weights, ...precomputed.models[id].model },
});
/** The precomputed numbers of a built-in model (none for a reader's own). */
const pre = (id) => precomputed.models[id] ?? null;
/** Paper view: the precomputed sweep and check for a built-in model and preset (global min-max only). */
const prePaper = (id, preset, perLayer = false) => (perLayer ? { sweep: null, paperCheck: null }
  : { sweep: pre(id)?.sweep?.[preset] ?? null, paperCheck: pre(id)?.paper_check?.[preset] ?? null });

const client = new EngineClient({
  // `?simd=simd128`: the SIMD128 build even where relaxed SIMD runs (to compare the two; README).
  simd128: new URLSearchParams(location.search).get('simd') === 'simd128',
  onNotice: ({ message, info }) => update({ notice: message, engine: info ?? state.engine, evaluation: null, latency: null }),
});

// ---- first paint: the URL's state over the precomputed numbers of the chosen built-in model ----
const fromHash = readHash();
const firstId = BUILTIN_IDS.includes(fromHash.modelId) ? fromHash.modelId : 'finetuned';
const firstPreset = fromHash.preset ?? state.preset;
update({
  model: builtin(firstId, fromHash.weights ?? state.weights).meta,
  scores: pre(firstId).scores,
  curves: pre(firstId).curves,
  inspection: null,
  alpha: alphaStar(firstId, firstPreset, fromHash.perLayerMinMax),
  ...prePaper(firstId, firstPreset, fromHash.perLayerMinMax),
  ...fromHash,
});
document.body.classList.toggle('embed', state.embed);

mountStatus(document, {
  onBackend: (backend) => { update({ backend }); loadModel(currentSource).catch(() => {}); },
  onModel: (id) => loadModel(builtin(id)).catch(() => {}),
  onWeights: (weights) => update({ weights }),
});
mountGrid(document, { onClick: clickHead });
mountAttention(document, { onSentence: (sentence) => update({ sentence }), onPair: (sentencePair) => update({ sentencePair }) });
mountPrediction(document);
mountPrune(document);
mountCurves(document, { onRun: runCurves, onCancel: () => jobs.curves?.cancel() });
mountPaper(document, { onSweep: runSweep, onCheck: runCheck, onCancel: () => jobs.paper?.cancel() });
mountUpload(document, { onFiles: loadUpload, onDefault: () => loadModel(builtin('finetuned')) });
mountShare(document, { csv: (table) => client.csv(table), exportCheckpoint: (heads) => client.exportCheckpoint(heads) });
subscribe(syncHash);
subscribe(applyHidden);
applyHidden(new Set(['hide']));
listenHash();

function applyHidden(changed) {
  if (!changed.has('hide') && !changed.has('embed')) return;
  document.body.classList.toggle('embed', state.embed);
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-part]'))) {
    if (state.hide.includes(el.dataset.part)) el.setAttribute('data-hidden', '');
    else el.removeAttribute('data-hidden');
  }
  for (const el of document.querySelectorAll('details.explain')) {
    if (state.hide.includes('explain')) el.setAttribute('data-hidden', ''); else el.removeAttribute('data-hidden');
  }
}

function clickHead([l, h]) {
  if (state.clickMode === 'toggle') {
    const k = headKey([l, h]);
    const manual = state.manual.includes(k) ? state.manual.filter((x) => x !== k) : [...state.manual, k];
    update({ manual });
  } else update({ selected: [l, h] });
}

// ---- engine jobs: at most one of each kind; a newer request cancels the older ----
const jobs = {};
function start(kind, promise) {
  jobs[kind]?.cancel();
  jobs[kind] = promise;
  promise.catch(() => {}).finally(() => { if (jobs[kind] === promise) jobs[kind] = null; });
  return promise;
}
const live = () => !!state.engine && state.auto;
const quiet = (e) => e.kind === 'cancelled';

let currentSource = builtin(firstId);
let readyResolve;
const ready = new Promise((r) => { readyResolve = r; });

async function loadModel(source) {
  for (const k of Object.keys(jobs)) jobs[k]?.cancel();
  const seen = {};
  update({ status: { text: source.meta.custom ? 'Loading your model…' : 'Loading the model…', progress: null } });
  let info;
  try {
    info = await client.load(source.model, state.backend, source.data, (p) => {
      if (p.stage) { update({ status: { text: `${p.stage[0].toUpperCase()}${p.stage.slice(1)}…`, progress: null } }); return; }
      seen[p.file] = p;
      const sum = (k) => Object.values(seen).reduce((s, f) => s + f[k], 0);
      const allCached = Object.values(seen).every((f) => f.cached);
      const mb = (n) => (n / 1e6).toFixed(1);
      update({ status: { text: allCached ? 'Reading the model from this browser\'s cache…' : `Downloading the model: ${mb(sum('loaded'))} of ${mb(sum('total'))} MB`, progress: sum('total') ? sum('loaded') / sum('total') : null } });
    });
  } catch (e) {
    // WebGPU asked for where there is none (a link shared from a machine with a GPU): the CPU, said so.
    if (e.kind === 'backend' && state.backend === 'gpu') {
      update({ backend: 'cpu', notice: `WebGPU is not available here (${e.message}); running on the CPU.` });
      return loadModel(source);
    }
    update({ status: { text: `Could not load ${source.meta.custom ? 'your model' : 'the model'}: ${e.message}${state.engine ? ' — the previous model is still loaded.' : ''}`, error: true } });
    throw e;
  }
  // A new session multiplies in f32: the reader's choice carries over (not to the GPU, which is f32 only).
  if (state.compute !== 'exact') {
    try { info = { ...info, ...(await client.setCompute(state.compute)) }; } catch { update({ compute: 'exact' }); }
  }
  const changedModel = source !== currentSource || !state.engine;
  currentSource = source;
  const meta = { ...source.meta, num_hidden_layers: info.num_hidden_layers, num_attention_heads: info.num_attention_heads, labels: info.labels };
  const patch = { engine: info, model: meta, evaluation: null, latency: null, inspection: null, prediction: null, status: { text: 'Ready.', progress: null } };
  // A pair model reads two sentences: a second box, filled from the data's first example.
  if (source.example) Object.assign(patch, { sentence: source.example.text, sentencePair: source.example.pair });
  if (info.sentence_pairs !== ((patch.sentencePair ?? state.sentencePair) !== null)) patch.sentencePair = info.sentence_pairs ? '' : null;
  if (changedModel && (state.model?.id !== source.meta.id || state.model?.weights !== source.meta.weights)) {
    // Another model, or its other weights: nothing measured on the old one applies (the built-in
    // ones have precomputed numbers, from their fp32 weights). The reader's settings carry over
    // to the other weights, so the two can be compared at the same pruning.
    const p = pre(source.meta.id);
    Object.assign(patch, { scores: p?.scores ?? null, scoresLive: false, curves: p?.curves ?? null, curvesLive: false, plan: null,
      ...prePaper(source.meta.id, state.preset, state.perLayerMinMax), paperLive: false, paperProgress: null });
    if (state.model?.id !== source.meta.id) {
      Object.assign(patch, { manual: [], pruned: [], count: Math.round(0.3 * info.num_hidden_layers * info.num_attention_heads), selected: [0, 0],
        alpha: alphaStar(source.meta.id, state.preset, state.perLayerMinMax), modelId: source.meta.custom ? null : source.meta.id });
    }
  }
  if (info.data_note) patch.status = { text: 'Ready: attention and predictions only, until a labelled .tsv for this model’s task is added (section 7).', progress: null };
  update(patch);
  readyResolve(info);
  if (!state.scoresLive || changedModel) rescore();
  refresh(new Set(['pruned', 'sentence', 'sentencePair']));
  return info;
}

async function loadUpload(picked) {
  const meta = { id: `custom-${Date.now()}`, name: picked.name, custom: true };
  const source = { model: picked.model, data: picked.data ?? DEFAULT_DATA, meta, example: picked.example };
  return loadModel(source);
}

function rescore() {
  if (!live() || !state.engine.calibration_size) return;
  jobs.evaluate?.cancel(); // new scores may change the heads; evaluation restarts after them
  jobs.latency?.cancel();
  update({ scoring: { done: 0, total: CALIBRATION_N } });
  start('score', client.score({ n: CALIBRATION_N, seed: state.seed, options: scoreOptions() },
    (p) => update({ scoring: { done: p.done, total: p.total } })))
    .then((scores) => update({ scores, scoresLive: true, scoring: null }))
    .catch((e) => { if (!quiet(e)) update({ scoring: null, status: { text: `Scoring failed: ${e.message}`, error: true } }); });
}

// The criterion's head set: one-shot in the page at once, iterative from the worker.
function replan() {
  if (!state.scores) return update({ plan: null });
  const count = Math.min(state.count, totalHeads());
  const key = `${state.criterion}|${count}|${state.alpha}|${state.preset}|${state.perLayerMinMax}|${state.seed}|${state.iterative}|${state.scoresLive}`;
  if (state.plan?.key === key) return;
  if (!state.iterative || state.criterion === 'random' || state.criterion === 'weight_norm' || count === 0) {
    jobs.plan?.cancel();
    return update({ plan: { key, heads: selectPruned(keepScore(state.criterion, state.scores, ranking(), state.seed), count) } });
  }
  if (!live()) return;
  // The worker runs long jobs one at a time: the stale evaluation makes way for the plan.
  jobs.evaluate?.cancel();
  jobs.latency?.cancel();
  update({ plan: { key, heads: state.plan?.heads ?? [], pending: true } });
  start('plan', client.plan({ n: CALIBRATION_N, seed: state.seed, options: { criterion: state.criterion, ratio: count / totalHeads(), per_layer: false, iterative_step: 0.1, scores: scoreOptions(), random_seed: state.seed } },
    (p) => update({ status: { text: `Iterative pruning: scoring ${p.done}/${p.total}…`, progress: p.done / p.total } })))
    .then((r) => update({ plan: { key, heads: r.pruned }, status: { text: 'Ready.', progress: null } }))
    .catch((e) => { if (!quiet(e)) update({ status: { text: `Iterative pruning failed: ${e.message}`, error: true } }); });
}

function derivePruned() {
  const set = new Set((state.plan?.heads ?? []).map(headKey));
  for (const k of state.manual) { if (set.has(k)) set.delete(k); else set.add(k); }
  const pruned = [...set].map(parseHead).filter(([l, h]) => l < (state.model?.num_hidden_layers ?? 0) && h < (state.model?.num_attention_heads ?? 0))
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pruned.map(headKey).join() !== state.pruned.map(headKey).join()) update({ pruned });
}

const evalKey = () => `${state.compute}|${state.structural ? 's' : 'm'}|${state.pruned.map(headKey).join(',')}`;

function reevaluate() {
  if (!live() || (state.plan?.pending) || !state.engine.evaluation_size) return;
  const key = evalKey();
  if (state.evaluation?.key === key && (state.evaluation.final || state.evaluation.running)) return;
  jobs.latency?.cancel();
  update({ evaluation: { key, done: 0, total: state.engine.evaluation_size, correct: 0, agree: 0, full_correct: 0, final: null, running: true, started: performance.now() } });
  const removal = { heads: state.pruned, structural: state.structural };
  start('evaluate', client.evaluate(removal, (p) => {
    if (state.evaluation?.key === key) update({ evaluation: { ...state.evaluation, ...p, firstMs: state.evaluation.firstMs ?? performance.now() - state.evaluation.started } });
  }))
    .then((final) => {
      if (state.evaluation?.key !== key) return;
      update({ evaluation: { ...state.evaluation, done: state.evaluation.total, final, running: false, totalMs: performance.now() - state.evaluation.started } });
      remeasure(removal, key);
    })
    .catch((e) => {
      if (state.evaluation?.key === key) {
        // Stopped to make way for scoring or planning: it starts again after them.
        update({ evaluation: { ...state.evaluation, running: false } });
        if (quiet(e)) { clearTimeout(evalTimer); evalTimer = setTimeout(reevaluate, 120); }
      }
      if (!quiet(e)) update({ status: { text: `Evaluation failed: ${e.message}`, error: true } });
    });
}

function remeasure(removal, key) {
  if (state.latency?.key === key || !removal.heads.length) return;
  update({ latency: { key, pending: true } });
  start('latency', client.latency({ removal: { ...removal, structural: true }, sentences: 4, rounds: 3 },
    (p) => { if (state.latency?.key === key) update({ latency: { key, pending: true, done: p.done, total: p.total } }); }))
    .then((t) => { if (state.latency?.key === key) update({ latency: { key, ...t } }); })
    .catch((e) => { if (!quiet(e)) update({ latency: { key, error: e.message } }); });
}

// The sentence: one request (one forward and one backward) for everything shown about it. With
// sliced weights the pruned prediction comes from the sliced model, asked for at the same time.
let sentenceTimer = null;
function reinspect() {
  clearTimeout(sentenceTimer);
  sentenceTimer = setTimeout(() => {
    if (!live()) return;
    const text = state.sentence, pair = state.sentencePair, heads = state.pruned, sliced = state.structural && heads.length > 0;
    const same = () => state.sentence === text && state.sentencePair === pair;
    // inspect runs f32 (its gradients need it): on the int8 path both predictions come from predict.
    const q8 = state.engine.compute === 'q8', pairs = pair === null ? null : [pair];
    const inspected = client.inspect(text, sliced || q8 ? [] : heads, pair);
    const full = q8 ? client.predict([text], undefined, pairs) : null;
    const pruned = sliced || (q8 && heads.length) ? client.predict([text], { heads, structural: state.structural }, pairs) : null;
    inspected
      .then((a) => { if (same()) update({ inspection: { ...a, text_pair: pair, live: true } }); })
      .catch((e) => update({ inspection: { text, text_pair: pair, error: e.message } }));
    Promise.all([inspected, full, pruned])
      .then(([a, f, p]) => {
        const fullPrediction = f?.[0] ?? a.full;
        if (same() && state.pruned === heads) update({ prediction: { text, pair, full: fullPrediction, pruned: p?.[0] ?? (q8 ? fullPrediction : a.pruned), heads: heads.length, live: true } });
      })
      .catch((e) => update({ prediction: { text, pair, error: e.message } }));
  }, 250);
}

// The pruned set changed: only the prediction does.
function repredict() {
  if (!live()) return;
  const text = state.sentence, pair = state.sentencePair, heads = state.pruned, structural = state.structural;
  const pairs = pair === null ? null : [pair];
  const same = () => state.sentence === text && state.sentencePair === pair;
  // The inspection's prediction is f32's: reused only on the f32 path.
  const full = state.engine.compute !== 'q8' && state.inspection?.text === text && state.inspection.text_pair === pair && state.inspection.full
    ? Promise.resolve([state.inspection.full]) : client.predict([text], undefined, pairs);
  Promise.all([full, heads.length ? client.predict([text], { heads, structural }, pairs) : null])
    .then(([[f], pruned]) => {
      if (same() && state.pruned === heads) update({ prediction: { text, pair, full: f, pruned: pruned?.[0] ?? f, heads: heads.length, live: true } });
    })
    .catch((e) => update({ prediction: { text, pair, error: e.message } }));
}

function runCurves({ evaluationSize, seeds }) {
  if (!state.engine) return;
  const request = {
    criteria: /** @type {import('./pkg/hies.js').Criterion[]} */ (CRITERIA),
    ratios: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    seeds: Array.from({ length: seeds }, (_, i) => i), n: CALIBRATION_N, per_layer: false, iterative_step: undefined,
    scores: scoreOptions(), evaluation_size: evaluationSize,
  };
  update({ curveProgress: { stage: 'starting', done: 0, total: 1 } });
  start('curves', client.curves(request, (p) => update({ curveProgress: p })))
    .then((curves) => update({ curves, curvesLive: true, curveProgress: null }))
    .catch((e) => update({ curveProgress: quiet(e) ? null : { error: e.message } }));
}

// ---- the paper view: reduced live runs (the full ones are `hies alpha-sweep` and `hies paper-check`) ----
function runSweep() {
  if (!state.engine) return;
  const request = {
    alphas: [0, 0.25, 0.5, 0.75, 1], ratios: [0.1, 0.3, 0.5, 0.7, 0.9], seeds: [0, 1, 2], n: CALIBRATION_N, scores: scoreOptions(),
    validation_size: Math.min(200, state.engine.validation_size),
  };
  update({ paperProgress: { what: 'α sweep', stage: 'starting', done: 0, total: 1 } });
  start('paper', client.alphaSweep(request, (p) => update({ paperProgress: { what: 'α sweep', ...p } })))
    .then((sweep) => update({ sweep, alpha: sweep.alpha_star, paperLive: true, paperProgress: null }))
    .catch((e) => update({ paperProgress: quiet(e) ? null : { error: e.message } }));
}

function runCheck() {
  if (!state.engine) return;
  const request = { alpha: state.alpha, seeds: [0, 1, 2], n: CALIBRATION_N, sizes: [8, CALIBRATION_N, 64], scores: scoreOptions(), evaluation_size: 200 };
  update({ paperProgress: { what: 'paper check', stage: 'starting', done: 0, total: 1 } });
  start('paper', client.paperCheck(request, (p) => update({ paperProgress: { what: 'paper check', ...p } })))
    .then((paperCheck) => update({ paperCheck, paperLive: true, paperProgress: null }))
    .catch((e) => update({ paperProgress: quiet(e) ? null : { error: e.message } }));
}

// The controller: which state changes need which work.
let evalTimer = null;
function refresh(changed) {
  // The URL names another built-in model.
  if (changed.has('modelId') && BUILTIN_IDS.includes(state.modelId) && state.modelId !== state.model?.id && state.engine) loadModel(builtin(state.modelId)).catch(() => {});
  else if (changed.has('weights') && !state.model?.custom && state.model?.weights !== state.weights) {
    // Also while the first model loads: the worker queues the loads, the last one wins.
    loadModel(builtin(state.model.id)).catch(() => update({ weights: state.model?.weights ?? 'int8' })); // the old weights stay loaded
  }
  // Another HIS preset or min-max: its α* (unless the same change sets α, as a shared link does)
  // and, for a built-in model, its precomputed sweep and check.
  if ((changed.has('preset') || changed.has('perLayerMinMax')) && !state.model?.custom) {
    const { preset, perLayerMinMax: perLayer } = state;
    update({ ...(changed.has('alpha') ? {} : { alpha: alphaStar(state.model.id, preset, perLayer) }), ...prePaper(state.model.id, preset, perLayer), paperLive: false });
  }
  if (['scores', 'criterion', 'count', 'alpha', 'preset', 'perLayerMinMax', 'seed', 'iterative'].some((k) => changed.has(k))) replan();
  if (['plan', 'manual', 'model'].some((k) => changed.has(k))) derivePruned();
  if (changed.has('seed') && live()) rescore();
  if (['pruned', 'structural', 'plan', 'engine'].some((k) => changed.has(k))) {
    clearTimeout(evalTimer);
    evalTimer = setTimeout(reevaluate, 120); // a dragged slider settles first
    if ((changed.has('pruned') || changed.has('structural')) && !changed.has('sentence') && !changed.has('sentencePair')) repredict();
  }
  if (changed.has('sentence') || changed.has('sentencePair')) reinspect();
  if (changed.has('compute') && state.engine) recompute();
}

// f32 or int8: the running evaluation and latency were for the other; predictions are redone.
// The switch waits in the worker's queue behind a long job: a newer choice cancels an older one
// still waiting, and the answer is checked against the choice now.
function recompute() {
  jobs.evaluate?.cancel();
  jobs.latency?.cancel();
  const asked = state.compute;
  start('compute', client.setCompute(asked))
    .then((info) => {
      if (state.compute !== asked) return;
      update({ engine: info, evaluation: null, latency: null });
      repredict();
    })
    .catch((e) => {
      if (quiet(e)) return;
      update({ compute: state.engine?.compute ?? 'exact', status: { text: `Could not switch to ${asked}: ${e.message}`, error: true } });
    });
}
subscribe(refresh);
refresh(new Set(['scores']));

loadModel(currentSource).catch(() => {});

// For tests and the console: the same engine, driven directly, and the page's state.
const abs = (u) => (u ? new URL(u, location.href).href : undefined);
window.hies = {
  ready,
  state,
  update,
  info: () => state.engine,
  load: (backend) => { update({ backend }); return loadModel(currentSource); },
  embed: (texts) => client.embed(texts),
  inspect: (text, heads = [], textPair = null) => client.inspect(text, heads, textPair),
  predict: (texts, removal, textPairs = null) => client.predict(texts, removal, textPairs),
  score: (request, onProgress) => client.score(request, onProgress),
  plan: (request, onProgress) => client.plan(request, onProgress),
  data: ({ calibration, evaluation, validation }) => client.data({ calibration: abs(calibration), evaluation: abs(evaluation), validation: abs(validation) }),
  evaluate: (removal, onProgress) => client.evaluate(removal, onProgress),
  curves: (request, onProgress) => client.curves(request, onProgress),
  alphaSweep: (request, onProgress) => client.alphaSweep(request, onProgress),
  paperCheck: (request, onProgress) => client.paperCheck(request, onProgress),
  csv: (table) => client.csv(table),
  exportCheckpoint: (heads) => client.exportCheckpoint(heads),
  setCompute: (compute) => client.setCompute(compute),
  /** Whether this frame's engine is a SharedWorker, shared with the site's other frames. */
  shared: client.shared,
};
