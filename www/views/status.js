// The engine bar: what the page is doing, download progress, the backend switch and notices.
import { state, subscribe } from '../state.js';

export function mountStatus(root, { onBackend, onModel, onWeights }) {
  const $ = (id) => root.getElementById(id);
  const pick = /** @type {HTMLSelectElement} */ ($('model-pick'));
  pick.addEventListener('change', () => { if (pick.value !== 'custom') onModel(pick.value); });
  const weights = /** @type {HTMLSelectElement} */ ($('weights-pick'));
  weights.addEventListener('change', () => onWeights(weights.value));
  for (const r of root.querySelectorAll('input[name=backend]')) r.addEventListener('change', () => r.checked && onBackend(r.value));
  function draw() {
    const s = state.status;
    $('status').textContent = s.text;
    $('status').classList.toggle('error', !!s.error);
    $('status-progress').hidden = s.progress === null || s.progress === undefined;
    if (s.progress !== null && s.progress !== undefined) $('status-progress').value = s.progress;
    for (const r of root.querySelectorAll('input[name=backend]')) r.checked = r.value === state.backend;
    const e = state.engine;
    const weightsNote = state.model?.weights ? ` · ${state.model.weights} weights` : '';
    $('backend').textContent = e ? `${e.backend === 'gpu' ? 'WebGPU' : `CPU (wasm SIMD${e.relaxed_simd ? ' + relaxed' : ''}, 1 thread)`}${weightsNote}${e.fallback ? ` — WebGPU unavailable: ${e.fallback}` : ''}` : '–';
    $('notice').hidden = !state.notice;
    $('notice').textContent = state.notice ?? '';
    $('model-name').textContent = state.model?.name ?? '';
    const custom = !!state.model?.custom;
    /** @type {HTMLOptionElement} */ (pick.querySelector('option[value=custom]')).hidden = !custom;
    pick.value = custom ? 'custom' : state.model?.id ?? 'finetuned';
    weights.value = state.weights;
    weights.disabled = custom; // a reader's own checkpoint is what its file holds
  }
  subscribe((c) => { if (['status', 'engine', 'notice', 'backend', 'model', 'weights'].some((k) => c.has(k))) draw(); });
  draw();
}
