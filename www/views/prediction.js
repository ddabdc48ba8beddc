// The reader's sentence through the full and the pruned model, side by side.
import { state, subscribe } from '../state.js';
import { esc } from './tooltip.js';

export function mountPrediction(root) {
  const note = root.getElementById('pred-note');
  /** @param {HTMLElement} el @param {import('../pkg/hies.js').Prediction | null} p */
  function card(el, p) {
    const labels = state.model?.labels ?? [];
    if (!p) { el.querySelector('.label').textContent = '–'; el.querySelector('.bars').replaceChildren(); return; }
    if (!p.probs) {
      // A regression head: its one output is the score (no softmax, no label).
      el.querySelector('.label').textContent = `score ${p.logits[0].toFixed(3)}`;
      el.querySelector('.bars').replaceChildren();
      return;
    }
    const { probs, label: best } = p;
    el.querySelector('.label').textContent = `${labels[best] ?? best} (${(probs[best] * 100).toFixed(1)} %)`;
    el.querySelector('.bars').innerHTML = probs.map((p, i) => `<div class="row"><span>${esc(labels[i] ?? i)}</span><div class="track"><div class="fill" style="width:${(p * 100).toFixed(1)}%"></div></div><span>${(p * 100).toFixed(1)} %</span></div>`).join('');
  }
  function draw() {
    const p = state.prediction;
    const same = p && p.text === state.sentence && (p.pair ?? null) === state.sentencePair;
    const fresh = same && !p.error;
    card(root.getElementById('pred-full'), fresh ? p.full : null);
    card(root.getElementById('pred-pruned'), fresh ? p.pruned : null);
    root.getElementById('pred-pruned').querySelector('h3').textContent = `Pruned model (${state.pruned.length} heads off)`;
    if (same && p.error) note.innerHTML = `<span class="error">${esc(p.error)}</span>`;
    else if (!state.engine) note.textContent = 'Predictions appear when the model is ready.';
    else if (!fresh) note.textContent = state.auto ? 'Classifying…' : 'Live analysis is off here (auto=0).';
    else {
      note.textContent = !p.full.probs
        ? (state.pruned.length ? `Pruning moved the score by ${(p.pruned.logits[0] - p.full.logits[0]).toFixed(3)}` : 'Nothing is pruned') + ' (a regression model: one score per input, no labels).'
        : p.full.label === p.pruned.label ? 'Both models agree on this sentence.' : 'Pruning changed the prediction for this sentence.';
    }
  }
  subscribe((c) => { if (['prediction', 'sentence', 'sentencePair', 'pruned', 'engine', 'model'].some((k) => c.has(k))) draw(); });
  draw();
}
