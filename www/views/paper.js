// "Does the paper hold here?": the α sweep (α → weighted AUC on the validation split, ± std
// over seeds, α* marked, the reader's α as a line) and the paper's claims with our figures and a
// verdict each. Precomputed for the built-in models; a reduced live run for any model.
import * as d3 from 'd3';
import { metricFormat } from '../analysis.js';
import { state, subscribe } from '../state.js';
import { esc, hideTip, showTipAt } from './tooltip.js';

const VERDICT = { holds: 'holds', does_not_hold: 'does not hold', within_seed_spread: 'within the seed spread' };
const pct = (x) => `${(x * 100).toFixed(1)} %`;

/**
 * @param {Document} root
 * @param {{ onSweep: () => void, onCheck: () => void, onCancel: () => void }} actions
 */
export function mountPaper(root, { onSweep, onCheck, onCancel }) {
  const $ = (id) => /** @type {HTMLElement} */ (root.getElementById(id));
  $('sweep-run').addEventListener('click', onSweep);
  $('check-run').addEventListener('click', onCheck);
  $('paper-cancel').addEventListener('click', onCancel);

  function drawSweep() {
    const box = $('sweep');
    box.replaceChildren();
    const s = state.sweep;
    if (!s) return;
    const task = metricFormat(s.metric);
    const fmt = s.metric === 'pearson' ? task.value : (x) => pct(x);
    const W = 560, H = 240, m = { l: 66, r: 16, t: 22, b: 38 };
    const svg = d3.select(box).append('svg').attr('xmlns', 'http://www.w3.org/2000/svg').attr('viewBox', `0 0 ${W} ${H}`).attr('width', W)
      .attr('role', 'img').attr('aria-label', `weighted AUC of validation ${task.name} against α`);
    const x = d3.scaleLinear().domain([0, 1]).range([m.l, W - m.r]);
    const lo = d3.min(s.curve, (d) => d.wauc_mean - d.wauc_std), hi = d3.max(s.curve, (d) => d.wauc_mean + d.wauc_std);
    const y = d3.scaleLinear().domain([lo, hi]).nice().range([H - m.b, m.t]);
    svg.append('g').attr('transform', `translate(0,${H - m.b})`).call(d3.axisBottom(x).ticks(5));
    svg.append('g').attr('transform', `translate(${m.l},0)`).call(d3.axisLeft(y).ticks(5).tickFormat(d3.format(s.metric === 'pearson' ? '.3f' : '.1%')));
    svg.append('text').attr('x', (m.l + W - m.r) / 2).attr('y', H - 4).attr('text-anchor', 'middle').text('α (0 = entropy only, 1 = HIS only)');
    svg.append('text').attr('transform', `translate(14,${(H - m.b) / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(`wAUC of ${task.name} (validation)`);
    svg.append('path').attr('fill', '#d62728').attr('opacity', 0.13)
      .attr('d', d3.area().x((d) => x(d.alpha)).y0((d) => y(d.wauc_mean - d.wauc_std)).y1((d) => y(d.wauc_mean + d.wauc_std))(s.curve));
    svg.append('path').attr('fill', 'none').attr('stroke', '#d62728').attr('stroke-width', 2).attr('d', d3.line().x((d) => x(d.alpha)).y((d) => y(d.wauc_mean))(s.curve));
    svg.selectAll('circle.pt').data(s.curve).join('circle').attr('class', 'pt').attr('cx', (d) => x(d.alpha)).attr('cy', (d) => y(d.wauc_mean)).attr('r', 3).attr('fill', '#d62728')
      .on('mouseenter', function (ev, d) { showTipAt(this, `α = ${d.alpha}: wAUC ${fmt(d.wauc_mean)} ± ${fmt(d.wauc_std)}`); })
      .on('mouseleave', hideTip);
    const best = s.curve.find((d) => d.alpha === s.alpha_star);
    if (best) {
      svg.append('circle').attr('class', 'alpha-star').attr('cx', x(best.alpha)).attr('cy', y(best.wauc_mean)).attr('r', 6).attr('fill', 'none').attr('stroke', '#000').attr('stroke-width', 2);
      // Labels near an edge grow inwards, so that none is cut off.
      const anchor = best.alpha > 0.85 ? 'end' : best.alpha < 0.15 ? 'start' : 'middle';
      const dx = anchor === 'end' ? 8 : anchor === 'start' ? -8 : 0;
      svg.append('text').attr('x', x(best.alpha) + dx).attr('y', y(best.wauc_mean) - 10).attr('text-anchor', anchor).attr('font-weight', 700).text(`α* = ${best.alpha}`);
    }
    svg.append('line').attr('x1', x(state.alpha)).attr('x2', x(state.alpha)).attr('y1', m.t).attr('y2', H - m.b).attr('stroke', '#f0a800').attr('stroke-dasharray', '4 3');
    // At the foot of its line, clear of α*'s label at the top of the curve.
    const right = state.alpha > 0.7;
    svg.append('text').attr('x', x(state.alpha) + (right ? -4 : 4)).attr('y', H - m.b - 6).attr('text-anchor', right ? 'end' : 'start').text(`your α = ${state.alpha.toFixed(2)}`);
  }

  function drawClaims() {
    const c = state.paperCheck;
    const table = $('claims');
    if (!c) { table.innerHTML = '<p class="muted">No check for this model yet: run it live.</p>'; return; }
    const rows = c.claims.map((k) => `<tr data-claim="${esc(k.id)}"><td>${esc(k.claim)}</td><td>${esc(k.paper)}</td><td>${esc(k.ours)}</td>`
      + `<td class="verdict verdict-${esc(k.verdict)}"><b>${VERDICT[k.verdict] ?? esc(k.verdict)}</b><br><span class="muted">${esc(k.how)}</span></td></tr>`).join('');
    const ratios = c.ratios.map((r) => `<tr><td>${(r.ratio * 100).toFixed(0)} %</td><td>${r.quality == null ? '–' : `${r.quality.toFixed(3)}×`}</td><td>${r.stability.toFixed(3)}×</td><td>${r.spread == null ? '– (HIES did not vary)' : `${r.spread.toFixed(2)}×`}</td></tr>`).join('');
    table.innerHTML = `<table class="claims"><thead><tr><th>Claim</th><th>The paper</th><th>Here (mean ± std over ${c.options.seeds.length} seeds)</th><th>Verdict</th></tr></thead><tbody>${rows}</tbody></table>`
      + `<table class="ratios"><caption>HIES / HIS, as the paper's headline figures (up to 1.152× quality, 2.04× stability) compare them</caption>`
      + `<thead><tr><th>pruned</th><th>${metricFormat(c.curves?.metric).name}</th><th>agreement</th><th>seed spread (HIS std ÷ HIES std)</th></tr></thead><tbody>${ratios}</tbody></table>`;
  }

  function draw() {
    const p = state.paperProgress;
    const busy = !!p && !p.error;
    // α is chosen on held-out validation sentences, never the evaluation set: a reader's own
    // model without a validation split cannot be swept (a validation*.tsv beside train*.tsv and
    // dev*.tsv in its folder gives it one; the CLI takes --validation).
    $('sweep-run').toggleAttribute('disabled', !state.engine || busy || !state.engine.validation_size);
    $('sweep-run').title = state.engine && !state.engine.validation_size ? 'needs a validation split: the built-in models have one; for your own model add validation*.tsv (with train*.tsv and dev*.tsv) to its folder, or use hies alpha-sweep --validation FILE' : '';
    $('check-run').toggleAttribute('disabled', !state.engine || busy);
    $('paper-cancel').hidden = !busy;
    const bar = /** @type {HTMLProgressElement} */ ($('paper-progress'));
    bar.hidden = !busy;
    if (busy) bar.value = p.total ? p.done / p.total : 0;
    $('paper-badge').textContent = state.paperLive ? 'live' : state.paperCheck || state.sweep ? 'precomputed · fp32' : 'none yet';
    $('paper-badge').classList.toggle('live', state.paperLive);
    const s = state.sweep, c = state.paperCheck;
    const note = [];
    if (p?.error) note.push(`<span class="error">${esc(p.error)}</span>`);
    else if (busy) note.push(`Live run: ${esc(p.what)}, ${esc(p.stage)} ${p.done}/${p.total}…`);
    if (s) note.push(`α sweep: ${s.validation_size} validation sentences (never the dev set), ${s.options.seeds.length} calibration seeds of ${s.options.n}, pruning ${s.ratios.map((r) => `${Math.round(r * 100)}`).join('/')} %; wAUC weights ∝ ratio; ${s.evaluations} distinct head sets${s.compute === 'q8' ? '; int8 (q8)' : ''}.`);
    if (c && c.options.alpha >= 1) note.push('<b>α = 1 here: the validation split preferred HIS alone, so HIES ranks exactly as HIS and every HIES–HIS difference is zero by construction.</b> Move α and check the claims live to see what entropy adds or costs.');
    if (c && c.options.alpha <= 0) note.push('<b>α = 0 here: HIES is attention entropy alone.</b>');
    if (c) note.push(`Claims: HIES at α = ${c.options.alpha} vs HIS on ${c.evaluation_size} dev sentences${c.curves?.compute === 'q8' ? ' (int8, q8)' : ''}. “Stability” is agreement with the unpruned model's predictions: the paper gives no definition, this is ours.`);
    $('paper-note').innerHTML = note.join(' ');
    drawSweep();
    drawClaims();
  }
  subscribe((c) => { if (['sweep', 'paperCheck', 'paperLive', 'paperProgress', 'alpha', 'engine'].some((k) => c.has(k))) draw(); });
  draw();
}
