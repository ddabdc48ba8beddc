// The page's one state store. Views read `state` and subscribe; changes go through `update`,
// which tells every subscriber which keys changed.
export const CRITERIA = ['hies', 'his', 'entropy', 'confidence', 'weight_norm', 'random'];
export const METRICS = ['hies', 'his', 'entropy', 'confidence', 'weight_norm'];

export const state = {
  // Engine and model
  backend: 'auto',            // what the reader asked for
  engine: null,               // info from the worker once live: { backend, fallback, layers, heads, labels, params, … }
  status: { text: 'Starting…', error: false, progress: null },
  notice: null,
  model: null,                // { id, name, layers, heads, labels, custom }
  // Scores
  scores: null,               // the engine's Scores ([L][H] grids), precomputed until the live ones arrive
  scoresLive: false,
  scoring: null,              // { done, total } while live scores are computed
  metric: 'hies',
  alpha: 0.5,
  clickMode: 'inspect',
  // Sentence and head
  sentence: 'A gripping, beautifully acted film that never lets go.',
  selected: [0, 0],
  attention: null,            // { text, tokens, len, layers, heads, probs, entropy, importance, live }
  prediction: null,           // { text, full: [p], pruned: [p], live }
  // Pruning setting
  criterion: 'hies',
  count: 22,                  // heads to prune by the criterion
  iterative: false,
  structural: true,
  seed: 0,
  manual: [],                 // heads the reader toggled: 'l.h' strings, flipped relative to the criterion's set
  plan: null,                 // { key, heads: [[l, h]] } the criterion's set (iterative plans come from the worker)
  pruned: [],                 // the heads removed: plan ⊕ manual, sorted
  evaluation: null,           // { key, done, total, correct, agree, fullCorrect, final }
  latency: null,              // { key, full, masked, structural } medians in ms
  // Curves
  curves: null,
  curvesLive: false,
  curveProgress: null,        // { stage, done, total }
  curveMetric: 'accuracy',
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
export const totalHeads = () => (state.model ? state.model.layers * state.model.heads : 72);
