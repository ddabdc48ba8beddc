// The shareable part of the state lives in the URL hash: #s=…&head=2.7&c=hies&a=0.5&k=22&…
import { CRITERIA, METRICS } from './catalogue.js';
import { state, update } from './state.js';

const num = (v, lo, hi) => (v !== null && v !== '' && Number.isFinite(+v) ? Math.min(hi, Math.max(lo, +v)) : undefined);

export function readHash(hash = location.hash) {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const patch = {};
  if (p.has('s')) patch.sentence = p.get('s').slice(0, 20000);
  if (p.has('s2')) patch.sentencePair = p.get('s2').slice(0, 20000);
  if (p.has('head')) {
    const [l, h] = p.get('head').split('.').map(Number);
    if (Number.isInteger(l) && Number.isInteger(h) && l >= 0 && h >= 0) patch.selected = [l, h];
  }
  if (CRITERIA.includes(p.get('c'))) patch.criterion = p.get('c');
  if (METRICS.includes(p.get('metric'))) patch.metric = p.get('metric');
  const a = num(p.get('a'), 0, 1); if (a !== undefined) patch.alpha = a;
  if (['paper', 'bertology'].includes(p.get('p'))) patch.preset = p.get('p');
  if (['finetuned', 'probe'].includes(p.get('model'))) patch.modelId = p.get('model');
  if (['int8', 'fp32'].includes(p.get('w'))) patch.weights = p.get('w');
  if (p.has('lmm')) patch.perLayerMinMax = p.get('lmm') === '1';
  const k = num(p.get('k'), 0, 10000); if (k !== undefined) patch.count = Math.round(k);
  const seed = num(p.get('seed'), 0, 999); if (seed !== undefined) patch.seed = Math.round(seed);
  if (p.has('it')) patch.iterative = p.get('it') === '1';
  if (p.has('st')) patch.structural = p.get('st') !== '0';
  if (['exact', 'q8'].includes(p.get('q'))) patch.compute = p.get('q');
  if (p.has('m')) patch.manual = p.get('m').split(',').filter((x) => /^\d+\.\d+$/.test(x));
  if (['auto', 'gpu', 'cpu'].includes(p.get('backend'))) patch.backend = p.get('backend');
  if (p.has('embed')) patch.embed = p.get('embed') !== '0';
  if (p.has('auto')) patch.auto = p.get('auto') !== '0';
  if (p.has('hide')) patch.hide = p.get('hide').split(',').filter(Boolean);
  return patch;
}

export function writeHash() {
  const p = new URLSearchParams();
  p.set('s', state.sentence);
  if (state.sentencePair !== null) p.set('s2', state.sentencePair);
  p.set('head', state.selected.join('.'));
  p.set('metric', state.metric);
  p.set('c', state.criterion);
  p.set('a', String(+state.alpha.toFixed(2)));
  p.set('p', state.preset);
  if (state.model && !state.model.custom) p.set('model', state.model.id);
  if (state.weights !== 'int8') p.set('w', state.weights);
  if (state.perLayerMinMax) p.set('lmm', '1');
  p.set('k', String(state.count));
  p.set('seed', String(state.seed));
  p.set('it', state.iterative ? '1' : '0');
  p.set('st', state.structural ? '1' : '0');
  if (state.compute !== 'exact') p.set('q', state.compute);
  if (state.manual.length) p.set('m', state.manual.join(','));
  if (state.backend !== 'cpu') p.set('backend', state.backend);
  if (state.embed) p.set('embed', '1');
  if (state.hide.length) p.set('hide', state.hide.join(','));
  if (!state.auto) p.set('auto', '0');
  return p.toString();
}

const SHARED = ['model', 'weights', 'sentence', 'sentencePair', 'selected', 'metric', 'criterion', 'alpha', 'preset', 'perLayerMinMax', 'count', 'seed', 'iterative', 'structural', 'compute', 'manual', 'backend', 'embed', 'hide'];

/** Keeps the hash in step with the state (replaceState: no history entry per slider step). */
export function syncHash(changed) {
  if (![...changed].some((k) => SHARED.includes(k))) return;
  const next = `#${writeHash()}`;
  if (location.hash !== next) history.replaceState(null, '', next);
}

export function listenHash() {
  addEventListener('hashchange', () => update(readHash()));
}
