// One head on the reader's sentence: the attention matrix (row i = where token i looks) and
// bertviz-style lines, with the head's entropy and importance for this sentence.
import * as d3 from 'd3';
import precomputed from '../precomputed.json';
import { state, subscribe } from '../state.js';
import { esc, hideTip, showTipAt } from './tooltip.js';

const SHOWN = 64; // tokens drawn; longer sentences are summarised, not frozen

/** The inspection of the current sentence: live, or precomputed for an example sentence. */
export function currentInspection() {
  const a = state.inspection;
  if (a && a.text === state.sentence && (a.text_pair ?? null) === state.sentencePair && !a.error) return a;
  if (state.sentencePair !== null) return null;
  const p = precomputed.models[state.model?.id]?.inspections.find((x) => x.text === state.sentence);
  return p ? { ...p, live: false } : null;
}

export function mountAttention(root, { onSentence, onPair }) {
  const input = root.getElementById('sentence');
  const pairInput = root.getElementById('sentence-pair');
  pairInput.addEventListener('input', () => onPair(pairInput.value));
  const facts = root.getElementById('head-facts');
  const matrix = root.getElementById('att-matrix');
  const lines = root.getElementById('att-lines');
  const badge = root.getElementById('attention-badge');
  input.value = state.sentence;
  input.addEventListener('input', () => onSentence(input.value));
  const examples = root.getElementById('examples');
  for (const text of precomputed.examples) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'example';
    b.textContent = text;
    b.addEventListener('click', () => onSentence(text));
    examples.append(b);
  }
  subscribe((c) => { if (c.has('model')) examples.hidden = !!state.model?.custom; });

  function draw() {
    if (input.value !== state.sentence) input.value = state.sentence;
    const pairs = state.sentencePair !== null;
    for (const el of root.querySelectorAll('.pair-only')) el.hidden = !pairs;
    if (pairs && pairInput.value !== state.sentencePair) pairInput.value = state.sentencePair;
    const a = currentInspection();
    const [l, h] = state.selected;
    matrix.replaceChildren();
    lines.replaceChildren();
    badge.textContent = a?.live ? 'live' : a ? 'precomputed · fp32' : 'computing…';
    badge.classList.toggle('live', !!a?.live);
    if (state.inspection?.error && state.inspection.text === state.sentence && (state.inspection.text_pair ?? null) === state.sentencePair) {
      facts.innerHTML = `<span class="error">${esc(state.inspection.error)}</span>`;
      return;
    }
    if (!a) { facts.textContent = state.sentence.trim() ? 'Computing this sentence’s attention…' : 'Type a sentence.'; return; }
    if (l >= a.layers || h >= a.heads) { facts.textContent = 'Pick a head in the grid.'; return; }
    const T = a.len, n = Math.min(T, SHOWN);
    const row = (i) => Array.from({ length: T }, (_, j) => a.attentions[((l * a.heads + h) * T + i) * T + j]);
    const rows = Array.from({ length: n }, (_, i) => row(i));
    const imp = a.importance;
    const flatImp = imp.flat();
    const rank = 1 + flatImp.filter((x) => x > imp[l][h]).length;
    const ent = a.entropy[l][h];
    const segB = a.segments?.some((x) => x === 1);
    facts.innerHTML = `<b>Layer ${l}, head ${h}</b> on this ${segB ? 'pair' : 'sentence'} (${T} tokens${segB ? `, the second sentence’s in <i class="segment-b-text">italics</i>` : ''}${a.truncated ? ', truncated to the model’s limit' : ''}): entropy <b>${ent.toFixed(3)}</b> (0 = one token, 1 = all equally) · importance ${state.engine?.problem_type === 'regression' ? '|∂ŷ/∂ξ|' : '|∂L/∂ξ|'} <b>${imp[l][h].toExponential(2)}</b>, rank ${rank} of ${flatImp.length}${n < T ? ` · showing the first ${n} tokens` : ''}`;
    const tokens = a.tokens.slice(0, n);

    // Matrix
    const cell = Math.max(8, Math.min(22, Math.floor(420 / n)));
    const pad = 72;
    const svg = d3.select(matrix).append('svg').attr('xmlns', 'http://www.w3.org/2000/svg')
      .attr('viewBox', `0 0 ${pad + n * cell + 4} ${pad + n * cell + 4}`).attr('width', pad + n * cell + 4)
      .attr('role', 'img').attr('aria-label', `attention matrix of layer ${l} head ${h}`);
    const color = d3.scaleSequential(d3.interpolateBlues).domain([0, 1]);
    // Tokens of a pair's second sentence (token type 1) are marked in both views.
    const seg = (_, i) => (a.segments?.[i] === 1 ? 'segment-b' : null);
    svg.append('g').selectAll('text').data(tokens).join('text').attr('x', pad - 4).attr('y', (_, i) => pad + i * cell + cell * 0.7)
      .attr('text-anchor', 'end').attr('font-size', Math.min(11, cell - 1)).attr('class', seg).text((t) => t);
    svg.append('g').selectAll('text').data(tokens).join('text')
      .attr('transform', (_, j) => `translate(${pad + j * cell + cell * 0.7},${pad - 4}) rotate(-60)`)
      .attr('font-size', Math.min(11, cell - 1)).attr('class', seg).text((t) => t);
    const cells = svg.append('g').selectAll('rect').data(rows.flatMap((r, i) => r.slice(0, n).map((p, j) => ({ i, j, p })))).join('rect')
      .attr('class', 'att-cell').attr('x', (d) => pad + d.j * cell).attr('y', (d) => pad + d.i * cell)
      .attr('width', cell - 1).attr('height', cell - 1).attr('fill', (d) => color(d.p));
    cells.on('mouseenter', function (ev, d) { showTipAt(this, `${esc(tokens[d.i])} → ${esc(tokens[d.j])}: ${d.p.toFixed(4)}`); }).on('mouseleave', hideTip);

    // Lines
    const lh = Math.max(14, Math.min(22, Math.floor(480 / n)));
    const w = 320;
    const lsvg = d3.select(lines).append('svg').attr('xmlns', 'http://www.w3.org/2000/svg')
      .attr('viewBox', `0 0 ${w} ${n * lh + 10}`).attr('width', w).attr('role', 'img').attr('aria-label', `attention lines of layer ${l} head ${h}`);
    const links = rows.flatMap((r, i) => r.slice(0, n).map((p, j) => ({ i, j, p }))).filter((d) => d.p > 0.01);
    lsvg.append('g').selectAll('line').data(links).join('line')
      .attr('x1', 100).attr('x2', w - 100).attr('y1', (d) => 8 + d.i * lh + lh / 2).attr('y2', (d) => 8 + d.j * lh + lh / 2)
      .attr('stroke', '#2457c5').attr('stroke-opacity', (d) => d.p).attr('stroke-width', (d) => 0.5 + 2.5 * d.p);
    for (const [x, anchor] of [[94, 'end'], [w - 94, 'start']]) {
      lsvg.append('g').selectAll('text').data(tokens).join('text').attr('x', x).attr('y', (_, i) => 8 + i * lh + lh / 2 + 4)
        .attr('text-anchor', anchor).attr('font-size', 11).attr('class', seg).text((t) => t);
    }
  }
  subscribe((c) => { if (['inspection', 'selected', 'sentence', 'sentencePair', 'model'].some((k) => c.has(k))) draw(); });
  draw();
}
