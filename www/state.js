// The page's one state store. Views read `state` and subscribe; changes go through `update`,
// which tells every subscriber which keys changed. Values from the engine keep its snake_case
// names (those of the CLI's JSON); the store's own keys are camelCase.

export const state = {
  // Engine and model
  backend: /** @type {import('./pkg/hies.js').BackendChoice} */ ('cpu'), // what the reader asked for (WebGPU loads a second build)
  engine: null,               // the engine's ModelInfo once live: { backend, fallback, num_hidden_layers, labels, parameters, … }
  status: { text: 'Starting…', error: false, progress: null },
  notice: null,
  model: null,                // { id, name, custom, num_hidden_layers, num_attention_heads, labels }
  modelId: null,              // the built-in model the URL asks for ('finetuned' | 'probe')
  weights: 'int8',            // the built-in models' weights file: 'int8' (hies-int8-v1, 23.6 MB) or 'fp32' (90.9 MB)
  // Scores
  scores: null,               // the engine's Scores ([L][H] grids), precomputed until the live ones arrive
  scoresLive: false,
  scoring: null,              // { done, total } while live scores are computed
  metric: 'hies',
  alpha: 0.5,
  preset: /** @type {import('./pkg/hies.js').Preset} */ ('paper'), // how HIS is normalised (src/analysis.rs Preset)
  perLayerMinMax: false,      // HIES min-max within each layer (the paper's own ambiguity)
  clickMode: 'inspect',
  // Sentence and head
  sentence: 'A gripping, beautifully acted film that never lets go.',
  sentencePair: null,         // the second sentence when the model reads pairs (text_pair), else null
  selected: [0, 0],
  inspection: null,           // the engine's Inspection of the sentence (+ live), or the precomputed one
  prediction: null,           // { text, full: Prediction, pruned: Prediction, heads, live } as the pruned set changes
  // Pruning setting
  criterion: /** @type {import('./pkg/hies.js').Criterion} */ ('hies'),
  count: 22,                  // heads to prune by the criterion
  iterative: false,
  structural: true,
  compute: /** @type {import('./pkg/hies.js').Compute} */ ('exact'), // how inference multiplies: f32, or int8 (q8)
  seed: 0,
  manual: [],                 // heads the reader toggled: 'l.h' strings, flipped relative to the criterion's set
  plan: null,                 // { key, heads: [[l, h]] } the criterion's set (iterative plans come from the worker)
  pruned: [],                 // the heads removed: plan ⊕ manual, sorted
  evaluation: null,           // { key, done, total, correct, agree, full_correct, pearson?, full_pearson?, final: Evaluation }
  latency: null,              // { key, ...Latency } medians in ms
  // Curves
  curves: null,
  curvesLive: false,
  curveProgress: null,        // CurveProgress { stage, done, total }
  curveMetric: 'accuracy',
  // The paper view
  sweep: null,                // the engine's Sweep (α → wAUC on the validation split)
  paperCheck: null,           // the engine's PaperCheck (claims and verdicts)
  paperLive: false,
  paperProgress: null,        // { what, stage, done, total } or { error }
  // Embedding
  embed: false,
  hide: [],
  auto: true,                 // run the live analysis by itself (auto=0: only when asked, for tests)
};

const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function update(patch) {
  const changed = new Set();
  for (const [k, v] of Object.entries(patch)) {
    if (state[k] !== v) { state[k] = v; changed.add(k); }
  }
  if (changed.size) for (const fn of listeners) fn(changed);
}

export const headKey = ([l, h]) => `${l}.${h}`;
export const parseHead = (s) => s.split('.').map(Number);
export const totalHeads = () => (state.model ? state.model.num_hidden_layers * state.model.num_attention_heads : 72);
