// The heads grid: layers × heads coloured by the chosen score, exact values on hover/focus,
// pruned heads struck out, the selected head outlined. Arrow keys move, Enter clicks.
import * as d3 from 'd3';
import { normalizeHis, rescore } from '../analysis.js';
import { METRICS, criterion, fillSelect } from '../catalogue.js';
import { headKey, state, subscribe, update } from '../state.js';
import { esc, hideTip, showTipAt } from './tooltip.js';

const scale = (metric) => criterion(metric).scale;

export function metricGrid(metric = state.metric) {
  const s = state.scores;
  if (!s) return null;
  const o = { alpha: state.alpha, preset: state.preset, per_layer_min_max: state.perLayerMinMax };
  return metric === 'hies' ? rescore(s, o).hies : metric === 'his' ? normalizeHis(s, state.preset) : s[metric];
}

export function mountGrid(root, { onClick }) {
  const box = root.getElementById('grid');
  const legend = root.getElementById('grid-legend');
  const metric = root.getElementById('metric');
  const alpha = root.getElementById('alpha');
  const alphaOut = root.getElementById('alpha-out');
  const preset = /** @type {HTMLSelectElement} */ (root.getElementById('preset'));
  const perLayer = /** @type {HTMLInputElement} */ (root.getElementById('per-layer-mm'));
  const clickMode = root.getElementById('click-mode');
  const badge = root.getElementById('scores-badge');
  const scoring = root.getElementById('scoring');
  fillSelect(metric, METRICS);
  metric.addEventListener('change', () => update({ metric: metric.value }));
  alpha.addEventListener('input', () => update({ alpha: +alpha.value }));
  preset.addEventListener('change', () => update({ preset: /** @type {any} */ (preset.value) }));
  perLayer.addEventListener('change', () => update({ perLayerMinMax: perLayer.checked }));
  clickMode.addEventListener('change', () => update({ clickMode: clickMode.value }));
  let focus = null; // [l, h] of the focused cell, kept across redraws

  function draw() {
    metric.value = state.metric;
    alpha.value = state.alpha;
    alphaOut.textContent = state.alpha.toFixed(2);
    preset.value = state.preset;
    perLayer.checked = state.perLayerMinMax;
    alpha.disabled = state.metric !== 'hies' && state.criterion !== 'hies';
    clickMode.value = state.clickMode;
    badge.textContent = state.scoresLive ? 'live' : state.scores ? 'precomputed · fp32' : 'computing…';
    badge.classList.toggle('live', state.scoresLive);
    const n = state.scores?.n;
    scoring.textContent = state.scoring
      ? `Scoring live on ${state.scoring.total} calibration sentences: ${state.scoring.done}/${state.scoring.total}…`
      : state.scores ? `${state.scoresLive ? 'Live' : 'Precomputed'} scores from ${n} calibration sentences (seed ${state.scores.seed ?? 0}).` : '';
    const g = metricGrid();
    const hadFocus = box.contains(document.activeElement);
    box.replaceChildren();
    legend.replaceChildren();
    if (!g) { box.textContent = 'Scores appear when the model is ready.'; return; }
    const L = g.length, H = g[0].length;
    const cell = 34, left = 34, top = 22;
    const svg = d3.select(box).append('svg').attr('viewBox', `0 0 ${left + H * cell + 2} ${top + L * cell + 2}`)
      .attr('width', left + H * cell + 2).attr('role', 'grid').attr('aria-label', `heads coloured by ${scale(state.metric)}`)
      .attr('xmlns', 'http://www.w3.org/2000/svg');
    const flat = g.flat();
    const color = d3.scaleSequential(d3.interpolateViridis).domain([d3.min(flat), d3.max(flat)]);
    const pruned = new Set(state.pruned.map(headKey));
    const manual = new Set(state.manual);
    svg.append('g').selectAll('text').data(d3.range(H)).join('text')
      .attr('x', (h) => left + h * cell + cell / 2).attr('y', 14).attr('text-anchor', 'middle').attr('fill', '#555').text((h) => h);
    svg.append('g').selectAll('text').data(d3.range(L)).join('text')
      .attr('x', left - 6).attr('y', (l) => top + l * cell + cell / 2 + 4).attr('text-anchor', 'end').attr('fill', '#555').text((l) => `L${l}`);
    const cells = svg.append('g').selectAll('g').data(flat.map((v, i) => ({ l: Math.floor(i / H), h: i % H, v }))).join('g')
      .attr('class', (d) => `cell${d.l === state.selected[0] && d.h === state.selected[1] ? ' selected' : ''}`)
      .attr('transform', (d) => `translate(${left + d.h * cell},${top + d.l * cell})`)
      .attr('tabindex', (d) => ((focus ? focus[0] === d.l && focus[1] === d.h : d.l === state.selected[0] && d.h === state.selected[1]) ? 0 : -1))
      .attr('role', 'gridcell')
      .attr('data-head', (d) => `${d.l}.${d.h}`)
      .attr('aria-label', (d) => `layer ${d.l} head ${d.h}: ${d.v.toFixed(3)}${pruned.has(`${d.l}.${d.h}`) ? ', pruned' : ''}`);
    cells.append('rect').attr('class', 'fill').attr('width', cell - 2).attr('height', cell - 2).attr('rx', 3)
      .attr('fill', (d) => color(d.v)).attr('opacity', (d) => (pruned.has(`${d.l}.${d.h}`) ? 0.35 : 1));
    cells.filter((d) => pruned.has(`${d.l}.${d.h}`)).append('path').attr('class', 'strike')
      .attr('d', `M4,4L${cell - 6},${cell - 6}M${cell - 6},4L4,${cell - 6}`).attr('stroke', '#b00020').attr('stroke-width', 2);
    cells.filter((d) => manual.has(`${d.l}.${d.h}`)).append('circle').attr('cx', cell - 8).attr('cy', 6).attr('r', 3.5).attr('fill', '#f0a800').attr('stroke', '#fff');
    const tipHtml = (d) => {
      const s = state.scores;
      const all = METRICS.map((m) => `${m === state.metric ? '<b>' : ''}${esc(scale(m))}: ${metricGrid(m)[d.l][d.h].toFixed(4)}${m === state.metric ? '</b>' : ''}`);
      return `<b>Layer ${d.l}, head ${d.h}</b>${pruned.has(`${d.l}.${d.h}`) ? ' — pruned' : ''}<br>${all.join('<br>')}<br>|∂L/∂ξ| (raw): ${s.his_raw[d.l][d.h].toExponential(3)}<br>entropy in nats: ${s.entropy_nats[d.l][d.h].toFixed(3)}`;
    };
    cells.on('mouseenter focus', function (ev, d) { showTipAt(this, tipHtml(d)); })
      .on('mouseleave blur', hideTip)
      .on('click', (ev, d) => { focus = [d.l, d.h]; onClick([d.l, d.h]); })
      .on('keydown', (ev, d) => {
        const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
        if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); focus = [d.l, d.h]; onClick([d.l, d.h]); return; }
        const m = moves[ev.key];
        if (!m) return;
        ev.preventDefault();
        focus = [Math.min(L - 1, Math.max(0, d.l + m[0])), Math.min(H - 1, Math.max(0, d.h + m[1]))];
        const next = box.querySelector(`[data-head="${focus[0]}.${focus[1]}"]`);
        box.querySelectorAll('[role=gridcell]').forEach((c) => c.setAttribute('tabindex', '-1'));
        next.setAttribute('tabindex', '0');
        next.focus();
      });
    if (hadFocus && focus) box.querySelector(`[data-head="${focus[0]}.${focus[1]}"]`)?.focus({ preventScroll: true });
    // Legend: the colour ramp with its extremes.
    const lw = 240;
    const lsvg = d3.select(legend).append('svg').attr('viewBox', `0 0 ${lw + 80} 30`).attr('width', lw + 80).attr('xmlns', 'http://www.w3.org/2000/svg');
    const grad = lsvg.append('defs').append('linearGradient').attr('id', 'ramp');
    d3.range(0, 1.01, 0.1).forEach((t) => grad.append('stop').attr('offset', t).attr('stop-color', d3.interpolateViridis(t)));
    lsvg.append('rect').attr('x', 40).attr('y', 4).attr('width', lw).attr('height', 10).attr('fill', 'url(#ramp)');
    lsvg.append('text').attr('x', 36).attr('y', 13).attr('text-anchor', 'end').text(d3.min(flat).toFixed(2));
    lsvg.append('text').attr('x', 44 + lw).attr('y', 13).text(d3.max(flat).toFixed(2));
    lsvg.append('text').attr('x', 40 + lw / 2).attr('y', 27).attr('text-anchor', 'middle').attr('fill', '#555').text(scale(state.metric));
  }
  subscribe((c) => {
    if (['scores', 'scoresLive', 'scoring', 'metric', 'alpha', 'preset', 'perLayerMinMax', 'pruned', 'manual', 'selected', 'clickMode', 'criterion'].some((k) => c.has(k))) draw();
    const e = state.engine;
    if (c.has('engine') && e) root.getElementById('model-shape').textContent = `${e.num_attention_heads} per layer, ${e.num_hidden_layers} layers`;
  });
  draw();
}
