// Accuracy (or agreement) vs share of heads pruned, one line per criterion, ± std bands over
// seeds; precomputed for the built-in models, recomputable live; the current setting as a dot.
import * as d3 from 'd3';
import { interval, metricFormat, presetOf } from '../analysis.js';
import { criterion } from '../catalogue.js';
import { state, subscribe, totalHeads, update } from '../state.js';
import { esc, hideTip, showTipAt } from './tooltip.js';

const color = (id) => criterion(id).color;
const name = (id) => criterion(id).name;

export function mountCurves(root, { onRun, onCancel }) {
  const $ = (id) => root.getElementById(id);
  const box = $('curves');
  $('curve-metric').addEventListener('change', (e) => update({ curveMetric: e.target.value }));
  $('curve-run').addEventListener('click', () => onRun({ evaluationSize: +$('curve-dev').value, seeds: +$('curve-seeds').value }));
  // The live run's sizes follow the evaluation set: 100, 200 and all of it.
  function fillSizes() {
    const n = state.engine?.evaluation_size ?? 800;
    const sizes = [...new Set([100, 200].filter((k) => k < n).concat(n))];
    const select = $('curve-dev');
    const keep = +select.value;
    select.replaceChildren(...sizes.map((k) => new Option(k === n ? `all ${n}${n > 200 ? ' (slow)' : ''}` : `${k} dev sentences`, String(k))));
    select.value = String(sizes.includes(keep) ? keep : Math.min(200, n));
  }
  subscribe((c) => { if (c.has('engine')) fillSizes(); });
  $('curve-cancel').addEventListener('click', onCancel);

  function draw() {
    const c = state.curves;
    const p = state.curveProgress;
    $('curves-badge').textContent = state.curvesLive ? 'live' : c ? 'precomputed · fp32' : 'none yet';
    $('curves-badge').classList.toggle('live', state.curvesLive);
    $('curve-run').disabled = !state.engine || (!!p && !p.error);
    $('curve-cancel').hidden = !p || !!p.error;
    $('curve-progress').hidden = !p || !!p.error;
    if (p && !p.error) $('curve-progress').value = p.total ? p.done / p.total : 0;
    const metric = state.curveMetric;
    $('curve-metric').value = metric;
    // What the `accuracy*` fields hold: accuracy, or Pearson's r for a regression head.
    const task = metricFormat(c?.metric ?? state.engine?.metric);
    $('curve-metric').options[0].textContent = `dev ${task.name}`;
    $('curves-title').textContent = `5 · ${task.name === 'accuracy' ? 'Accuracy' : task.name} vs heads pruned`;
    const fmt = metric === 'accuracy' ? task : metricFormat('accuracy');
    const note = $('curve-note');
    if (p?.error) note.innerHTML = `<span class="error">${esc(p.error)}</span>`;
    else if (p) note.textContent = `Live run: ${p.stage} ${p.done}/${p.total}…`;
    else if (c) note.textContent = `${state.curvesLive ? 'Live' : 'Precomputed'}: ${c.evaluation_size} dev sentences, ${c.options.seeds.length} seed${c.options.seeds.length > 1 ? 's' : ''}, ${c.options.n} calibration sentences, masked one-shot pruning (α = ${c.options.scores.alpha}, ${presetOf(c.options.scores.his_norm)} HIS${c.options.scores.per_layer_min_max ? ', per-layer min-max' : ''}); full model ${task.name} ${task.value(c.full_accuracy)}${c.compute === 'q8' ? '; int8 (q8)' : ''}.`;
    else note.textContent = 'No curves for this model yet: recompute them live.';
    box.replaceChildren();
    if (!c) return;
    const W = 560, H = 300, m = { l: 46, r: 110, t: 10, b: 36 };
    const svg = d3.select(box).append('svg').attr('xmlns', 'http://www.w3.org/2000/svg').attr('viewBox', `0 0 ${W} ${H}`).attr('width', W)
      .attr('role', 'img').attr('aria-label', `${metric === 'accuracy' ? task.name : 'agreement'} vs share of heads pruned`);
    const x = d3.scaleLinear().domain([0, d3.max(c.points, (d) => d.ratio) || 1]).range([m.l, W - m.r]);
    const lo = d3.min(c.points, (d) => d[`${metric}_mean`] - d[`${metric}_std`]);
    const y = d3.scaleLinear().domain([Math.min(0.5, lo), 1]).nice().range([H - m.b, m.t]);
    svg.append('g').attr('transform', `translate(0,${H - m.b})`).call(d3.axisBottom(x).ticks(6).tickFormat(d3.format('.0%')));
    svg.append('g').attr('transform', `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(6).tickFormat(d3.format(fmt.axis)));
    svg.append('text').attr('x', (m.l + W - m.r) / 2).attr('y', H - 4).attr('text-anchor', 'middle').text('share of heads pruned');
    svg.append('text').attr('transform', `translate(12,${(H - m.b) / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(metric === 'accuracy' ? `dev ${task.name}` : 'agreement');
    const criteria = [...new Set(c.points.map((d) => d.criterion))];
    criteria.forEach((crit, k) => {
      const pts = c.points.filter((d) => d.criterion === crit).sort((a, b) => a.ratio - b.ratio);
      const g = svg.append('g').attr('class', `curve curve-${crit}`);
      g.append('path').attr('fill', color(crit)).attr('opacity', 0.13)
        .attr('d', d3.area().x((d) => x(d.ratio)).y0((d) => y(d[`${metric}_mean`] - d[`${metric}_std`])).y1((d) => y(d[`${metric}_mean`] + d[`${metric}_std`]))(pts));
      g.append('path').attr('fill', 'none').attr('stroke', color(crit)).attr('stroke-width', crit === state.criterion ? 3 : 1.6)
        .attr('d', d3.line().x((d) => x(d.ratio)).y((d) => y(d[`${metric}_mean`]))(pts));
      g.selectAll('circle').data(pts).join('circle').attr('cx', (d) => x(d.ratio)).attr('cy', (d) => y(d[`${metric}_mean`])).attr('r', 3).attr('fill', color(crit))
        .on('mouseenter', function (ev, d) { showTipAt(this, `${name(crit)}, ${d.heads_pruned} heads (${(d.ratio * 100).toFixed(0)} %): ${fmt.value(d[`${metric}_mean`])} ± ${fmt.value(d[`${metric}_std`])}`); })
        .on('mouseleave', hideTip);
      g.append('text').attr('x', W - m.r + 8).attr('y', m.t + 12 + k * 16).attr('fill', color(crit)).attr('font-weight', crit === state.criterion ? 700 : 400).text(name(crit));
    });
    // The reader's setting: where it sits on the x axis and, once measured, its value.
    const share = Math.min(state.count, totalHeads()) / totalHeads();
    svg.append('line').attr('x1', x(share)).attr('x2', x(share)).attr('y1', m.t).attr('y2', H - m.b).attr('stroke', '#f0a800').attr('stroke-dasharray', '4 3');
    // The reader's setting: the exact value once measured; while the set streams, the running
    // estimate's 95 % interval (a lone early estimate would mislead).
    const e = state.evaluation;
    if (e?.done) {
      const r = metric === 'accuracy' && e.pearson !== undefined; // a regression head's running r
      const k = metric === 'accuracy' ? e.correct : e.agree;
      const v = r ? e.pearson : k / e.done;
      const cx = x(state.pruned.length / totalHeads());
      if (e.final || e.done >= e.total) {
        svg.append('circle').attr('class', 'you').attr('cx', cx).attr('cy', y(v)).attr('r', 6).attr('fill', '#f0a800').attr('stroke', '#000');
        svg.append('text').attr('x', cx + 8).attr('y', y(v) - 8).text(`you: ${fmt.value(v)}`);
      } else {
        const [lo, hi] = r ? task.interval(v, e.done, e.total) : interval(k, e.done, e.total);
        const top = y(Math.min(hi, y.domain()[1])), bottom = y(Math.max(lo, y.domain()[0]));
        svg.append('line').attr('class', 'you-interval').attr('x1', cx).attr('x2', cx).attr('y1', top).attr('y2', bottom).attr('stroke', '#f0a800').attr('stroke-width', 4).attr('opacity', 0.7);
        svg.append('text').attr('x', cx + 8).attr('y', top + 4).text(`you: estimating (${e.done} of ${e.total})`);
      }
    }
  }
  subscribe((c) => { if (['curves', 'curvesLive', 'curveProgress', 'curveMetric', 'count', 'criterion', 'evaluation', 'engine', 'pruned'].some((k) => c.has(k))) draw(); });
  draw();
}
