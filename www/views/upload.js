// "Your own model": pick or drop a checkpoint folder (or its files). Files are recognised by
// their Hugging Face / sentence-transformers names and the rest are listed as not used; the
// engine then checks every file's content. Any problem is reported by file and the previous
// model keeps working.
import { MANIFEST } from '../catalogue.js';
import { state, subscribe } from '../state.js';
import { esc } from './tooltip.js';

/** Float32 weights a tab can hold: the engine keeps the file's bytes and f32 tensors at once in
 *  a 4 GiB wasm memory, so about 3× this at the peak (bert-base: 0.44 GB; bert-large: 1.34 GB). */
export const MAX_F32_BYTES = 1.2e9;

/** A file's path inside the picked or dropped folder ('' parts for loose files). */
const pathOf = (f) => f.hiesPath || f.webkitRelativePath || f.name;
/** The path below the folder's own name: `minilm/1_Pooling/config.json` → `1_Pooling/config.json`. */
function inner(f, depth) {
  const parts = pathOf(f).split('/');
  return parts.slice(depth).join('/');
}

/** The checkpoint, data and unused files among `list`, by name. */
export function sortFiles(list) {
  const files = [...list];
  // A folder pick or drop prefixes every path with the folder's name; loose files have none.
  const depth = files.every((f) => pathOf(f).includes('/')) ? 1 : 0;
  const named = (path) => files.find((f) => inner(f, depth).toLowerCase() === path);
  const model = {
    config: named('config.json'),
    weights: named('model.safetensors'),
    weights_index: named('model.safetensors.index.json'),
    tokenizer: named('tokenizer.json'),
    modules: named('modules.json'),
    pooling: named('1_pooling/config.json'),
    sentence_bert_config: named('sentence_bert_config.json'),
  };
  const shards = model.weights || !model.weights_index ? [] : files.filter((f) => /^model-\d+-of-\d+\.safetensors$/i.test(inner(f, depth)));
  if (shards.length) model.shards = shards;
  const formats = /** @type {[number, string][]} */ (files.map((f) => otherFormat(inner(f, depth))).filter(Boolean));
  const other = formats.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1))[0]?.[1] ?? null;
  const missing = [[model.config, 'config.json'], [model.weights ?? model.weights_index, 'model.safetensors'], [model.tokenizer, 'tokenizer.json']]
    .filter(([f]) => !f).map(([, name]) => name);
  // Data: label<TAB>text or label<TAB>text_a<TAB>text_b in .tsv files (never vocab.txt or
  // merges.txt, which are the tokenizer's). One file serves both; train*/dev* split the roles, and
  // a validation* file is the α sweep's split.
  const tsv = files.filter((f) => /\.tsv$/i.test(f.name));
  const role = (re) => tsv.find((f) => re.test(f.name));
  let data = null, dataProblem = null;
  if (tsv.length === 1) data = { calibration: tsv[0], evaluation: tsv[0] };
  else if (tsv.length > 1) {
    // Without a dev*/test* file, the validation file is the evaluation set (and no α sweep).
    const calibration = role(/^train/i), validation = role(/^valid/i), evaluation = role(/^(dev|test)/i);
    if (calibration && !evaluation && validation) data = { calibration, evaluation: validation };
    else if (calibration && evaluation) data = { calibration, evaluation, ...(validation ? { validation } : {}) };
    else dataProblem = `${tsv.length} data files (${tsv.map((f) => f.name).join(', ')}): pick one, or name them train*.tsv, dev*.tsv and (for the α sweep) validation*.tsv`;
  }
  const used = new Set([...Object.values(model).flat(), ...(data ? Object.values(data) : [])]);
  const unused = files.filter((f) => !used.has(f)).map((f) => inner(f, depth) || f.name).sort();
  const folder = depth ? pathOf(files[0]).split('/')[0] : null;
  for (const k of Object.keys(model)) if (model[k] === undefined) delete model[k];
  return { model, data, dataProblem, missing, otherFormat: other, unused, name: folder ? `your model (${folder})` : 'your model' };
}

/** Parameters and their float32 size from a safetensors header, read without loading the file. */
export async function weightsSize(files) {
  let params = 0;
  for (const f of files) {
    const head = new DataView(await f.slice(0, 8).arrayBuffer());
    if (head.byteLength < 8) return null; // the engine says what is wrong with it
    const n = Number(head.getBigUint64(0, true));
    if (n > 100e6 || n > f.size) return null;
    let header;
    try { header = JSON.parse(await f.slice(8, 8 + n).text()); } catch { return null; }
    for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') params += (v.shape ?? []).reduce((a, b) => a * b, 1);
  }
  return { params, f32Bytes: 4 * params };
}

/** Every file under a dropped folder, with its path (`webkitGetAsEntry`; a plain file list has no folders). */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return [...dataTransfer.files];
  const out = [];
  async function walk(entry, path) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      file.hiesPath = `${path}${entry.name}`;
      out.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${path}${entry.name}/`);
      }
    }
  }
  for (const e of entries) await walk(e, '');
  return out;
}

/** The first data line's text (and pair), to show the model on at once. */
function firstExample(text) {
  const line = text.replace(/^\uFEFF/, '').split(/\r?\n/).find((l) => l.trim());
  const fields = line?.split('\t') ?? [];
  if (fields.length === 2) return { text: fields[1], pair: null };
  if (fields.length === 3) return { text: fields[1], pair: fields[2] };
  return null; // the engine reports what is wrong with the file
}

/** [rank, what to say] about weights in another format, as src/weights.rs `other_format`
 *  (PyTorch, TensorFlow, Flax; shards too), else null.
 *  @param {string} path @returns {[number, string] | null} */
function otherFormat(path) {
  const name = path.split('/').pop(), m = MANIFEST.other_weight_formats;
  if (/^pytorch_model(-.*)?\.bin$/i.test(name)) return [0, `${name} ${m.pytorch}`];
  if (/^tf_model(-.*)?\.h5$/i.test(name)) return [1, `${name} ${m.tensorflow_flax}`];
  if (/^flax_model(-.*)?\.msgpack$/i.test(name)) return [2, `${name} ${m.tensorflow_flax}`];
  return null;
}

export function mountUpload(root, { onFiles, onDefault }) {
  const $ = (id) => root.getElementById(id);
  const drop = $('drop'), input = $('files'), folderInput = $('folder'), out = $('upload-status');
  const say = (html, error = false) => { out.innerHTML = html; out.classList.toggle('error', error); };

  async function take(list) {
    const picked = sortFiles(list);
    const txt = picked.unused.some((n) => /\.txt$/i.test(n) && !/(^|\/)(vocab|merges)\.txt$/i.test(n));
    const notUsed = picked.unused.length ? ` Not used: ${picked.unused.map(esc).join(', ')}${txt ? ' (labelled data is read from .tsv files)' : ''}.` : '';
    if (picked.otherFormat && !picked.model.weights && !picked.model.weights_index) return say(`${esc(picked.otherFormat)} The previous model is still in use.`, true);
    if (picked.missing.length) return say(`Missing: ${picked.missing.map(esc).join(', ')}. Pick the model's folder, or these files together.${notUsed} The previous model is still in use.`, true);
    if (picked.dataProblem) return say(`${esc(picked.dataProblem)}. The previous model is still in use.`, true);
    const size = await weightsSize(picked.model.weights ? [picked.model.weights] : picked.model.shards ?? []);
    if (size && size.f32Bytes > MAX_F32_BYTES) {
      return say(`${esc(picked.name)} has ${(size.params / 1e6).toFixed(0)} M parameters: ${(size.f32Bytes / 1e9).toFixed(2)} GB as float32, more than this tab can hold (${(MAX_F32_BYTES / 1e9).toFixed(1)} GB, about ${(MAX_F32_BYTES / 4e6).toFixed(0)} M parameters, since the engine briefly holds the file and the weights together in 4 GB of wasm memory). Use the command line (hies) for it. The previous model is still in use.`, true);
    }
    picked.example = picked.data ? firstExample(await picked.data.evaluation.text()) : null;
    say(`Loading ${esc(picked.name)}${picked.data ? ` with ${esc(picked.data.evaluation.name)}` : ' (no .tsv: the built-in Rotten Tomatoes sentences, if its labels are negative / positive)'}…${notUsed}`);
    try {
      const info = await onFiles(picked);
      const notices = info.notices.map((n) => ` Note: ${esc(n)}.`).join('');
      const task = `${info.sentence_pairs ? 'sentence pairs' : 'single sentences'}${info.problem_type === 'regression' ? ', regression (one score each, measured by Pearson r and Spearman ρ)' : ''}`;
      const shape = `${esc(info.architecture)}: ${info.num_hidden_layers} layers × ${info.num_attention_heads} heads, hidden ${info.hidden_size}, inputs up to ${info.max_len} tokens`;
      if (info.data_note) {
        say(`Loaded ${shape}${info.problem_type === 'regression' ? '; a regression head' : `; labels ${info.labels.map(esc).join(' / ')}`}; no data: ${esc(info.data_note)}. Attention and predictions work now; scores, pruning accuracy and curves need a labelled .tsv in the folder.${notUsed}${notices}`, true);
      } else {
        const labels = info.problem_type === 'regression' ? '' : `; labels ${info.labels.map(esc).join(' / ')}`;
        say(`Loaded ${shape}; task: ${task}${labels}; ${info.evaluation_size} examples for evaluation. Everything below now uses it.${notUsed}${notices}`);
      }
    } catch (e) {
      say(`Your model was not loaded: ${esc(e.message)}. The previous model is still in use.`, true);
    }
  }
  for (const el of [input, folderInput]) el.addEventListener('change', () => { if (el.files.length) take(el.files); el.value = ''; });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    droppedFiles(e.dataTransfer).then(take, (err) => say(`The dropped folder could not be read: ${esc(err.message)}`, true));
  });
  drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } });
  $('default-model').addEventListener('click', () => onDefault().catch(() => {}));
  subscribe((c) => { if (c.has('model')) $('default-model').hidden = !state.model?.custom; });
}
