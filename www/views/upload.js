// "Your own model": pick or drop config.json + model.safetensors + tokenizer.json (+ a
// label<TAB>text file). Files are checked by name here and by content in the engine; any
// problem is reported and the previous model keeps working.
import { state, subscribe } from '../state.js';
import { esc } from './tooltip.js';

function sortFiles(list) {
  const files = [...list];
  const byName = (re) => files.find((f) => re.test(f.name));
  const model = {
    config: byName(/(^|\/)config\.json$/i),
    weights: byName(/\.safetensors$/i),
    tokenizer: byName(/tokenizer\.json$/i),
  };
  const missing = Object.entries({ config: 'config.json', weights: 'model.safetensors', tokenizer: 'tokenizer.json' })
    .filter(([k]) => !model[k]).map(([, name]) => name);
  const tsv = byName(/\.(tsv|txt)$/i);
  const unknown = files.filter((f) => !Object.values(model).includes(f) && f !== tsv).map((f) => f.name);
  // A picked folder names the model; single files do not.
  const folder = model.config?.webkitRelativePath?.split('/').slice(-2, -1)[0];
  return { model, data: tsv ? { calibration: tsv, evaluation: tsv } : null, missing, unknown, name: folder ? `your model (${folder})` : 'your model' };
}

export function mountUpload(root, { onFiles, onDefault }) {
  const $ = (id) => root.getElementById(id);
  const drop = $('drop'), input = $('files'), out = $('upload-status');
  const say = (html, error = false) => { out.innerHTML = html; out.classList.toggle('error', error); };

  async function take(list) {
    const picked = sortFiles(list);
    if (picked.missing.length) {
      say(`Missing: ${picked.missing.map(esc).join(', ')}. Pick all three files together${picked.unknown.length ? ` (not used: ${picked.unknown.map(esc).join(', ')})` : ''}.`, true);
      return;
    }
    say(`Loading ${esc(picked.name)}${picked.data ? ` with ${esc(picked.data.evaluation.name)}` : ' with the default Rotten Tomatoes sentences'}…`);
    try {
      const info = await onFiles(picked);
      const absent = info.absent_heads.length
        ? ` Note: ${info.absent_heads.length} heads were already sliced out of this checkpoint (its config.json's pruned_heads); their cells show zeros, and the normalisation and the pruning order still count them.`
        : '';
      say(`Loaded: ${info.num_hidden_layers} layers × ${info.num_attention_heads} heads, hidden ${info.hidden_size}, labels ${info.labels.map(esc).join(' / ')}; ${info.evaluation_size} sentences for evaluation. Everything below now uses it.${absent}`, !!absent);
    } catch (e) {
      say(`Your model was not loaded: ${esc(e.message)}. The previous model is still in use.`, true);
    }
  }
  input.addEventListener('change', () => { if (input.files.length) take(input.files); input.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); take(e.dataTransfer.files); });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  $('default-model').addEventListener('click', () => onDefault().catch(() => {}));
  subscribe((c) => { if (c.has('model')) $('default-model').hidden = !state.model?.custom; });
}
