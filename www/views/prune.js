// The pruning panel: criterion, how many heads, one-shot or iterative, masking or slicing, and
// the live readouts (accuracy with its interval while the dev set streams, parameters, latency).
import precomputed from '../precomputed.json';
import { interval, metricFormat } from '../analysis.js';
import { CRITERIA, fillSelect } from '../catalogue.js';
import { state, subscribe, totalHeads, update } from '../state.js';
import { esc } from './tooltip.js';

const pct = (x) => `${(x * 100).toFixed(1)} %`;
const millions = (n) => `${(n / 1e6).toFixed(2)} M`;

export function mountPrune(root) {
  const $ = (id) => root.getElementById(id);
  const criterion = $('criterion'), ratio = $('ratio'), seed = $('seed');
  fillSelect(criterion, CRITERIA);
  criterion.addEventListener('change', () => update({ criterion: criterion.value }));
  ratio.addEventListener('input', () => update({ count: +ratio.value }));
  seed.addEventListener('change', () => update({ seed: Math.max(0, Math.min(999, Math.round(+seed.value) || 0)) }));
  for (const r of root.querySelectorAll('input[name=mode]')) r.addEventListener('change', () => update({ iterative: r.value === 'iterative' && r.checked }));
  for (const r of root.querySelectorAll('input[name=removal]')) r.addEventListener('change', () => update({ structural: r.value === 'structural' && r.checked }));
  for (const r of root.querySelectorAll('input[name=compute]')) r.addEventListener('change', () => { if (r.checked) update({ compute: r.value }); });
  $('reset-manual').addEventListener('click', () => update({ manual: [] }));

  function estimate(k, n, N) {
    const [lo, hi] = interval(k, n, N);
    return n >= N ? `<b>${pct(k / n)}</b>` : `<b>${pct(k / n)}</b> <span class="muted">(95 % interval ${pct(lo)}–${pct(hi)}, ${n} of ${N} sentences so far)</span>`;
  }

  function draw() {
    const total = totalHeads();
    criterion.value = state.criterion;
    ratio.max = total;
    ratio.value = Math.min(state.count, total);
    $('ratio-out').textContent = `${Math.min(state.count, total)} heads (${pct(Math.min(state.count, total) / total)})`;
    seed.value = state.seed;
    for (const r of root.querySelectorAll('input[name=mode]')) r.checked = (r.value === 'iterative') === state.iterative;
    for (const r of root.querySelectorAll('input[name=removal]')) r.checked = (r.value === 'structural') === state.structural;
    for (const r of root.querySelectorAll('input[name=compute]')) {
      r.checked = r.value === state.compute;
      // The GPU multiplies in f32: int8 is a CPU path.
      r.disabled = r.value === 'q8' && state.engine?.backend === 'gpu';
    }
    $('reset-manual').disabled = !state.manual.length;
    const manual = state.manual.length ? `, ${state.manual.length} toggled by hand` : '';
    $('r-heads').textContent = `${state.pruned.length} of ${total}${manual}${state.plan?.pending ? ' (planning…)' : ''}`;

    const e = state.evaluation;
    const bar = $('eval-progress');
    const pre = precomputed.models[state.model?.id]?.prune;
    const prePoint = !state.model?.custom && !state.engine && pre && state.pruned.length === pre.pruned.length
      && state.pruned.every(([l, h], i) => pre.pruned[i][0] === l && pre.pruned[i][1] === h);
    const metric = metricFormat(state.engine?.metric);
    $('r-metric').textContent = `Dev ${metric.name}`;
    if (e && e.done > 0 && e.pearson !== undefined) {
      // A regression head: Pearson's r so far, with Fisher's interval; agreement is within a tolerance.
      const N = e.total;
      const [lo, hi] = metric.interval(e.pearson, e.done, N);
      const r = `<b>${metric.value(e.pearson)}</b>`;
      $('r-accuracy').innerHTML = e.done >= N
        ? `${r}${e.final?.spearman != null ? `, Spearman ${metric.value(e.final.spearman)}` : ''} <span class="muted">(full model ${metric.value(e.full_pearson)}, ${N} dev examples)</span>`
        : `${r} <span class="muted">(95 % interval ${metric.value(lo)}–${metric.value(hi)}, ${e.done} of ${N} so far)</span>`;
      // The 5 % is the engine's AGREEMENT_SHARE (src/evaluate.rs); the tolerance comes from it.
      $('r-agreement').innerHTML = `${estimate(e.agree, e.done, N)}${e.final ? ` <span class="muted">(a score within ±${e.final.agreement_tolerance.toFixed(2)} of the full model's: 5 % of the gold range)</span>` : ''}`;
      bar.value = e.done / N;
    } else if (e && e.done > 0) {
      const N = e.total;
      $('r-accuracy').innerHTML = `${estimate(e.correct, e.done, N)}${e.done >= N ? ` <span class="muted">(full model ${pct(e.full_correct / N)}, ${N} dev sentences)</span>` : ''}`;
      $('r-agreement').innerHTML = estimate(e.agree, e.done, N);
      bar.value = e.done / N;
    } else if (prePoint) {
      $('r-accuracy').innerHTML = `<b>${pct(pre.accuracy)}</b> <span class="muted">(precomputed · fp32; full model ${pct(pre.full_accuracy)})</span>`;
      $('r-agreement').innerHTML = `<b>${pct(pre.agreement)}</b> <span class="muted">(precomputed · fp32)</span>`;
      bar.value = 0;
    } else {
      $('r-accuracy').textContent = !state.engine ? 'waiting for the model…' : state.auto ? 'evaluating…' : 'live analysis is off here (auto=0)';
      $('r-agreement').textContent = '–';
      bar.value = 0;
    }
    const f = e?.final;
    if (f) {
      const smaller = f.parameters < f.parameters_full;
      $('r-params').innerHTML = state.structural
        ? `<b>${millions(f.parameters)}</b> of ${millions(f.parameters_full)} (${smaller ? '−' : ''}${pct(1 - f.parameters / f.parameters_full)})`
        : `<b>${millions(f.parameters_full)}</b> <span class="muted">(masking keeps every weight; slicing would remove them)</span>`;
    } else $('r-params').textContent = '–';

    const t = state.latency;
    const key = e?.key;
    if (!state.pruned.length) $('r-latency').textContent = 'nothing pruned';
    else if (!t || t.key !== key) $('r-latency').textContent = f ? 'measuring…' : 'measured once the accuracy is in';
    else if (t.error) $('r-latency').innerHTML = `<span class="error">${esc(t.error)}</span>`;
    else if (t.pending) $('r-latency').textContent = `measuring… ${t.done ?? 0}/${t.total ?? '?'}`;
    else {
      const speed = t.full_ms / t.structural_ms;
      const verdict = speed >= 1 ? `${speed.toFixed(2)}× faster` : `${(1 / speed).toFixed(2)}× slower`;
      $('r-latency').innerHTML = `full <b>${t.full_ms.toFixed(1)} ms</b> · masked ${t.masked_ms.toFixed(1)} ms (no faster: same work) · sliced <b>${t.structural_ms.toFixed(1)} ms</b>, <b>${verdict}</b> <span class="muted">(median of ${t.runs} runs, ${state.engine?.backend === 'gpu' ? 'WebGPU' : 'CPU'}${state.engine?.compute === 'q8' ? ', int8' : ''}, batch of 1)</span>`;
    }
  }
  subscribe((c) => { if (['criterion', 'count', 'seed', 'iterative', 'structural', 'compute', 'manual', 'pruned', 'plan', 'evaluation', 'latency', 'model', 'engine'].some((k) => c.has(k))) draw(); });
  draw();
}
