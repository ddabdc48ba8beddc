// Export (scores and curves as JSON/CSV, charts as SVG/PNG), the share link and the embed snippet.
import { rescore } from '../analysis.js';
import { state, subscribe, update } from '../state.js';
import { writeHash } from '../hash.js';

function download(name, blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function svgText(svg) {
  const copy = svg.cloneNode(true);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const style = document.createElementNS('http://www.w3.org/2000/svg', 'style');
  style.textContent = 'text{font:11px system-ui,sans-serif;fill:#1d1d1f}';
  copy.prepend(style);
  return new XMLSerializer().serializeToString(copy);
}

async function svgToPng(svg) {
  const text = svgText(svg);
  const vb = svg.viewBox.baseVal;
  const scale = 2;
  const img = new Image();
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  await new Promise((ok, fail) => { img.onload = ok; img.onerror = () => fail(new Error('could not render the chart')); img.src = url; });
  const canvas = document.createElement('canvas');
  canvas.width = vb.width * scale; canvas.height = vb.height * scale;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  URL.revokeObjectURL(url);
  return new Promise((ok) => canvas.toBlob(ok, 'image/png'));
}

/**
 * @param {Document} root
 * @param {{ csv: (table: import('../pkg/hies.js').CsvTable) => Promise<string>, exportCheckpoint: (heads: [number, number][]) => Promise<any> }} engine
 *   writes CSV in the CLI's schema; exports the model as a Hugging Face checkpoint
 */
export function mountShare(root, { csv, exportCheckpoint }) {
  const $ = (id) => /** @type {HTMLInputElement} */ (root.getElementById(id));
  // The pruned model as a Hugging Face folder: three files (a browser cannot write a folder).
  // Only a model with its own classification head is a …ForSequenceClassification.
  subscribe((c) => {
    if (!c.has('engine')) return;
    const ok = state.engine?.classifier === 'checkpoint';
    $('export-checkpoint').disabled = !ok;
    $('export-checkpoint').title = ok ? 'config.json (with pruned_heads), model.safetensors and tokenizer.json: a …ForSequenceClassification folder of the model’s family that transformers loads'
      : 'only a model with its own classifier (the fine-tuned one, or a …ForSequenceClassification upload) exports as a Hugging Face checkpoint';
  });
  $('export-checkpoint').addEventListener('click', async () => {
    const button = $('export-checkpoint');
    button.disabled = true;
    try {
      const c = await exportCheckpoint(state.pruned);
      download('config.json', new Blob([c.config], { type: 'application/json' }));
      download('model.safetensors', new Blob([c.weights], { type: 'application/octet-stream' }));
      download('tokenizer.json', new Blob([c.tokenizer], { type: 'application/json' }));
    } catch (e) {
      update({ status: { text: `Export failed: ${e.message}`, error: true } });
    } finally {
      button.disabled = false;
    }
  });
  const charts = { grid: 'grid', attention: 'att-matrix', curves: 'curves' };
  for (const b of /** @type {NodeListOf<HTMLButtonElement>} */ (root.querySelectorAll('[data-export]'))) {
    b.addEventListener('click', async () => {
      const [what, ext] = b.dataset.export.split('.');
      const json = (v) => new Blob([JSON.stringify(v, null, 1)], { type: 'application/json' });
      const text = (t) => new Blob([t], { type: 'text/csv' });
      if (what === 'scores' && state.scores) {
        // HIS and HIES for the page's α and preset, as the grid shows them.
        const s = rescore(state.scores, { alpha: state.alpha, preset: state.preset, per_layer_min_max: state.perLayerMinMax });
        download(`hies-scores.${ext}`, ext === 'json' ? json({ ...s, source: state.scoresLive ? 'live' : 'precomputed', model: state.model?.name, weights: state.scoresLive ? state.model?.weights ?? null : 'fp32' }) : text(await csv({ scores: s })));
      } else if (what === 'curves' && (ext === 'json' || ext === 'csv') && state.curves) {
        download(`hies-curves.${ext}`, ext === 'json' ? json(state.curves) : text(await csv({ curves: state.curves })));
      } else {
        const svg = $(charts[what])?.querySelector('svg');
        if (!svg) return;
        download(`hies-${what}.${ext}`, ext === 'svg' ? new Blob([svgText(svg)], { type: 'image/svg+xml' }) : await svgToPng(svg));
      }
    });
  }
  function draw() {
    const base = location.href.split('#')[0];
    $('share-link').value = `${base}#${writeHash()}`;
    const embed = new URLSearchParams(writeHash());
    embed.set('embed', '1');
    if (!embed.has('hide')) embed.set('hide', 'header,upload,share,footer');
    $('embed-code').value = `<iframe src="${base}#${embed}" width="100%" height="720" style="border:0" title="HIES Lab" loading="lazy"></iframe>`;
  }
  subscribe(draw);
  draw();
}
