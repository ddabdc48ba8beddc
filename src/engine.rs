//! The model and what runs it: a BERT checkpoint loaded from its files' bytes, its tokenizer,
//! pooling and classifier, on one device. Stateless between calls (what a reader's session
//! keeps lives in [`crate::session::Session`]). All readback is async, which WebGPU requires;
//! native callers block on it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Device, Tensor};
use serde::Serialize;
use tsify::Tsify;

use crate::analysis::Grid;
use crate::batch::{self, Batch};
use crate::classifier::{Classifier, ClassifierMeta};
use crate::config::{BertConfig, Pooling, ProblemType};
use crate::data::Example;
use crate::device::Backend;
use crate::error::{Error, Result};
use crate::finetune::TrainingRecord;
use crate::lora::Adapter;
use crate::model::{Bert, BertOutput, Compute, pool};
use crate::report::F32s;
use crate::tokenize::{Encoded, TextTokenizer};

/// Padded tokens per batch: bounds the [B, H, T, T] scores to a few tens of MB.
const MAX_BATCH_TOKENS: usize = 4096;
const MAX_BATCH_SENTENCES: usize = 64;

/// The bytes of a checkpoint folder, as JS fetches them or the CLI reads them.
pub struct ModelFiles<'a> {
    pub config: &'a [u8],
    pub weights: &'a [u8],
    pub tokenizer: &'a [u8],
    /// sentence-transformers `modules.json` (declares Normalize), if the checkpoint has one.
    pub modules: Option<&'a [u8]>,
    /// sentence-transformers `1_Pooling/config.json`, if the checkpoint has one.
    pub pooling: Option<&'a [u8]>,
    /// sentence-transformers `sentence_bert_config.json` (its `max_seq_length`), if present.
    pub sentence_bert_config: Option<&'a [u8]>,
    /// A LoRA adapter to merge at load (the fine-tuned default model).
    pub adapter: Option<AdapterFiles<'a>>,
}

/// A PEFT LoRA adapter folder's bytes (`crate::lora`).
#[derive(Clone, Copy)]
pub struct AdapterFiles<'a> {
    /// `adapter_config.json`
    pub config: &'a [u8],
    /// `adapter_model.safetensors`
    pub weights: &'a [u8],
    /// `training.json` ([`crate::finetune::TrainingRecord`]): the classifier's label names.
    pub training: &'a [u8],
}

pub struct Engine {
    pub model: Bert,
    pub tokenizer: TextTokenizer,
    /// Tokens per input, [CLS] and [SEP] included: longer inputs are truncated (and say so).
    /// `max_position_embeddings`, or sentence-transformers' `max_seq_length` for a checkpoint
    /// without its own classifier that declares one.
    pub max_len: usize,
    pub pooling: Pooling,
    /// The checkpoint's own classifier, or one set with `set_classifier`.
    pub classifier: Option<Classifier>,
    pub device: Device,
    pub backend: Backend,
    /// Set by `cancel`; long jobs stop at their next checkpoint.
    cancelled: AtomicBool,
    /// Per-head weight norms: fixed for a model, so computed once.
    pub(crate) weight_norm: OnceLock<Grid>,
    /// Inference through int8 ([`Compute::Q8`]) instead of f32 ([`Engine::set_compute`]).
    q8: AtomicBool,
    /// `model` with every linear layer on the q8 path, built on first use.
    q8_model: OnceLock<Bert>,
}

/// One sentence's pooled embedding.
#[derive(Debug, Clone, Serialize)]
pub struct Embedded {
    pub ids: Vec<u32>,
    pub truncated: bool,
    /// [D], as the checkpoint pools (and normalises) it.
    pub embedding: Vec<f32>,
}

/// Every head's attention on one sentence (Hugging Face's `output_attentions`).
#[derive(Debug, Clone, Serialize, Tsify)]
pub struct AttentionMaps {
    pub tokens: Vec<String>,
    pub ids: Vec<u32>,
    /// Each token's type as the model reads it (`token_type_ids`): 0 then 1 for a BERT or
    /// ELECTRA pair, all 0 for one sentence and for the families without token types.
    pub token_type_ids: Vec<u32>,
    /// 1 for the tokens of a pair's second sentence, else 0 (for every family).
    pub segments: Vec<u8>,
    pub truncated: bool,
    pub layers: usize,
    pub heads: usize,
    /// Tokens in the sentence (T).
    pub len: usize,
    /// [L, H, T, T], row-major; row i is query token i's distribution over the keys.
    pub attentions: F32s,
}

/// The CrossEncoder activation that leaves the logit as it is.
const IDENTITY: &str = "torch.nn.modules.linear.Identity";

impl Engine {
    pub fn load(files: &ModelFiles, device: Device, backend: Backend) -> Result<Self> {
        let config = BertConfig::from_json(files.config)?;
        let pooling = Pooling::from_sentence_transformers(files.modules, files.pooling)?;
        let max_seq_length = crate::config::max_seq_length(files.sentence_bert_config)?;
        // Read before the weights: a tokenizer of another model fails fast.
        let mut tokenizer = TextTokenizer::from_bytes(files.tokenizer, config.max_input_len(), config.vocab_size)?;
        let (model, classifier) = match files.adapter {
            None => {
                let model = Bert::load(&config, files.weights, &device)?;
                if let (Some(c), Some(labels)) = (&model.classifier, &config.labels) {
                    let rows = c.bias.dims()[0];
                    if labels.len() != rows {
                        return Err(Error::config(format!(
                            "id2label names {} labels ({}) but the classifier (classifier.weight) has {rows} rows",
                            labels.len(),
                            labels.join(", ")
                        )));
                    }
                }
                let declared = config.architectures.iter().find(|a| a.ends_with("ForSequenceClassification"));
                if let (Some(arch), None) = (declared, &model.classifier) {
                    return Err(Error::weights(format!(
                        "config.json's architectures says {arch}, but there is no \"classifier.weight\": transformers would classify with a random classifier"
                    )));
                }
                let classifier = Classifier::from_checkpoint(&model, config.labels.clone(), config.problem_type)?;
                // A CrossEncoder whose score passes an activation (STS-B cross-encoders: a
                // sigmoid, trained with BCE on 0–1 labels) is not the squared-error regression
                // HIS and Pearson's r are computed for here.
                if let (Some(c), Some(act)) = (&classifier, &config.cross_encoder_activation)
                    && c.is_regression()
                    && act != IDENTITY
                {
                    return Err(Error::config(format!(
                        "this is a sentence-transformers CrossEncoder whose score is {act}(logit), trained on that activation's scale (BCE for a sigmoid): HIES Lab measures one-output heads as transformers' regression (the raw logit, squared error) and would read it wrongly"
                    )));
                }
                (model, classifier)
            }
            Some(a) => {
                let record: TrainingRecord = serde_json::from_slice(a.training)
                    .map_err(|e| Error::weights(format!("training.json: not a training record with \"labels\": {e}")))?;
                let model = Bert::load_with(&config, files.weights, Adapter::parse(a.config, a.weights)?, &device)?;
                let rows = model.classifier.as_ref().map(|c| c.bias.dims()[0]);
                if rows != Some(record.labels.len()) || model.pooler.is_none() {
                    return Err(Error::weights(format!(
                        "adapter: training.json names {} labels, but the merged model has {} classifier rows{}",
                        record.labels.len(),
                        rows.map_or("no".to_string(), |r| r.to_string()),
                        if model.pooler.is_none() { " and no pooler" } else { "" }
                    )));
                }
                let classifier = Classifier::from_checkpoint(&model, Some(record.labels), Some(ProblemType::SingleLabelClassification))?;
                (model, classifier)
            }
        };
        // A checkpoint with its own classifier is a transformers model: inputs up to its
        // positions. Otherwise it is used as sentence-transformers uses it (embeddings, a probe
        // on them): truncated at the max_seq_length its sentence_bert_config.json declares.
        let max_len = match (&classifier, max_seq_length) {
            (None, Some(n)) => n.min(config.max_input_len()),
            _ => config.max_input_len(),
        };
        if max_len != config.max_input_len() {
            tokenizer.set_max_len(max_len)?;
        }
        Ok(Self {
            model,
            tokenizer,
            max_len,
            pooling,
            classifier,
            device,
            backend,
            cancelled: AtomicBool::new(false),
            weight_norm: OnceLock::new(),
            q8: AtomicBool::new(false),
            q8_model: OnceLock::new(),
        })
    }

    /// Truncate inputs at `max_len` tokens from now on (at most the model's positions).
    pub fn set_max_len(&mut self, max_len: usize) -> Result<()> {
        let max_len = max_len.min(self.config().max_input_len());
        self.tokenizer.set_max_len(max_len)?;
        self.max_len = max_len;
        Ok(())
    }

    /// What loading left out or assumed, for the reader (the CLI prints them, the page shows them).
    pub fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ignored = &self.model.ignored;
        if !ignored.is_empty() {
            out.push(format!(
                "{} tensors that this model does not use ({}{}) are left out, as transformers leaves them out for a classifier",
                ignored.len(),
                ignored[..ignored.len().min(2)].join(", "),
                if ignored.len() > 2 { ", …" } else { "" }
            ));
        }
        if self.classifier.as_ref().is_some_and(Classifier::is_regression) && self.config().cross_encoder_activation.is_some() {
            out.push(
                "a sentence-transformers CrossEncoder: its one output is read as transformers reads num_labels = 1, a regression score (squared error for HIS, Pearson's r); the loss it was trained with is not recorded"
                    .to_string(),
            );
        }
        let absent = self.absent_heads().len();
        if absent > 0 {
            out.push(format!(
                "{absent} heads were sliced out before this checkpoint was saved (config.json's pruned_heads): they count as pruned, first in every pruning order and left out of the min-max, and show as 0"
            ));
        }
        out
    }

    /// Asks the running job to stop at its next checkpoint (it fails with `ErrorKind::Cancelled`).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Between batches of a long job: stops if the job was cancelled, else lets the browser's
    /// event loop run (so a cancel message or a short request can come in).
    pub async fn checkpoint(&self) -> Result<()> {
        if self.cancelled.swap(false, Ordering::Relaxed) {
            return Err(Error::cancelled());
        }
        crate::device::yield_now().await;
        Ok(())
    }

    /// Puts a separately trained classifier (safetensors + sidecar) on the encoder, in place of
    /// any other (callers keep a checkpoint's own classifier by not calling this).
    pub fn set_classifier(&mut self, bytes: &[u8], meta: &ClassifierMeta) -> Result<()> {
        self.classifier = Some(Classifier::from_file(bytes, meta, self.config().hidden_size, self.pooling, &self.device)?);
        Ok(())
    }

    pub fn classifier(&self) -> Result<&Classifier> {
        self.classifier.as_ref().ok_or_else(|| {
            Error::classifier(
                "this model has no classifier: give a classifier file (classifier.weight/bias) or a …ForSequenceClassification checkpoint",
            )
        })
    }

    /// Parameters of `model` (this engine's or a pruned copy) plus a separate classifier.
    pub fn num_params(&self, model: &Bert) -> usize {
        let separate = match (&self.classifier, &model.classifier) {
            (Some(c), None) => c.num_params(),
            _ => 0, // none, or the checkpoint's own (counted in the model)
        };
        model.num_params() + separate
    }

    /// A [1, L, H] head mask: ones, with the heads in `off` ([layer, head]) at 0.
    pub fn head_mask(&self, off: &[(usize, usize)]) -> Tensor<3> {
        let c = self.config();
        let (l, h) = (c.num_hidden_layers, c.num_attention_heads);
        let mut g = vec![1f32; l * h];
        for &(li, hi) in off {
            g[li * h + hi] = 0.0;
        }
        Tensor::from_data(burn::tensor::TensorData::new(g, [1, l, h]), &self.device)
    }

    pub fn config(&self) -> &BertConfig {
        &self.model.config
    }

    /// Token ids with [CLS] and [SEP], truncated at [`Engine::max_len`].
    pub fn tokenize(&self, text: &str) -> Result<Encoded> {
        self.tokenize_pair(text, None)
    }

    /// One sentence or a pair (`text_pair`: the tokenizer's pair template and token types),
    /// truncated longest-first at [`Engine::max_len`]. For a model with one token type or none
    /// (RoBERTa, DistilBERT) the types are all 0, as their tokenizers return none; a type
    /// beyond a larger `type_vocab_size` is an input error.
    pub fn tokenize_pair(&self, text: &str, text_pair: Option<&str>) -> Result<Encoded> {
        let mut e = self.tokenizer.encode(text, text_pair)?;
        let types = self.config().type_vocab_size;
        if types <= 1 {
            // DistilBERT and RoBERTa take no segment ids (their tokenizers return none): all 0.
            e.type_ids.fill(0);
        } else if let Some(&bad) = e.type_ids.iter().find(|&&s| s as usize >= types) {
            return Err(Error::input(format!(
                "the tokenizer gives token type {bad}, but config.json's type_vocab_size is {types}: this model does not take sentence pairs"
            )));
        }
        Ok(e)
    }

    /// An example's sentence, or its pair.
    pub fn encode(&self, example: &Example) -> Result<Encoded> {
        self.tokenize_pair(&example.text, example.text_pair.as_deref())
    }

    /// Runs the model on one padded batch: the one inference uses ([`Engine::runner`]), or with
    /// gradients (an autodiff head mask: scores, inspect) always f32's, whatever the compute.
    /// `head_mask`: [G, L, H] (G = 1 or B); none = ones. Returns the output and the batch's
    /// attention mask [B, T].
    pub fn forward(&self, batch: &Batch, head_mask: Option<Tensor<3>>, output_attentions: bool) -> (BertOutput, Tensor<2>) {
        let (ids, mask) = batch.tensors(&self.device);
        let model = if head_mask.as_ref().is_some_and(|m| m.is_autodiff()) { &self.model } else { self.runner() };
        (model.forward(ids, mask.clone(), batch.token_type_ids(&self.device), head_mask, output_attentions), mask)
    }

    /// How inference multiplies from now on: f32, or int8 weights and activations (q8; every
    /// gradient stays f32). Cached predictions computed the other way are the caller's to drop
    /// (`Session::set_compute` does). Errors: q8 on the GPU backend, which multiplies in f32.
    pub fn set_compute(&self, compute: Compute) -> Result<()> {
        if compute == Compute::Q8 && self.backend != Backend::Cpu {
            return Err(Error::input("q8 runs on the CPU backend; the GPU multiplies in f32 (use --backend cpu, or the CPU in the page)"));
        }
        self.q8.store(compute == Compute::Q8, Ordering::Relaxed);
        Ok(())
    }

    pub fn compute(&self) -> Compute {
        if self.q8.load(Ordering::Relaxed) { Compute::Q8 } else { Compute::Exact }
    }

    /// The model inference runs: `model`, or its q8 twin (the same weights, quantised per output
    /// column when first used).
    pub fn runner(&self) -> &Bert {
        match self.compute() {
            Compute::Exact => &self.model,
            Compute::Q8 => self.q8_model.get_or_init(|| self.model.with_compute(Compute::Q8)),
        }
    }

    /// The pooled sentence vectors, as the checkpoint defines them, in the order given.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Embedded>> {
        let encoded = texts.iter().map(|t| self.tokenize(t)).collect::<Result<Vec<_>>>()?;
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let d = self.config().hidden_size;
        let mut vectors = vec![Vec::new(); texts.len()];
        for group in batch::plan(&lens, MAX_BATCH_TOKENS, MAX_BATCH_SENTENCES) {
            let seqs: Vec<&[u32]> = group.iter().map(|&i| encoded[i].ids.as_slice()).collect();
            let batch = Batch::new(&seqs, self.config().pad_token_id);
            let (out, mask) = self.forward(&batch, None, false);
            let pooled = read(pool(out.last_hidden_state, mask, self.pooling)).await?; // [B*D]
            for (r, &i) in group.iter().enumerate() {
                vectors[i] = pooled[r * d..(r + 1) * d].to_vec();
            }
        }
        Ok(encoded.into_iter().zip(vectors).map(|(e, embedding)| Embedded { ids: e.ids, truncated: e.truncated, embedding }).collect())
    }

    /// Every head's attention distribution for one sentence, from a plain forward pass.
    pub async fn attentions(&self, text: &str) -> Result<AttentionMaps> {
        let e = self.tokenize(text)?;
        let batch = Batch::from_encoded(&[&e], self.config().pad_token_id);
        // Attention maps are the f32 model's, whatever the compute (as scores are).
        let (ids, mask) = batch.tensors(&self.device);
        let out = self.model.forward(ids, mask, batch.token_type_ids(&self.device), None, true);
        let (l, h, t) = (out.attentions.len(), self.config().num_attention_heads, batch.t);
        let all = Tensor::cat(out.attentions, 0); // [L, H, T, T]
        let attentions = F32s(read(all).await?);
        Ok(AttentionMaps {
            tokens: e.tokens,
            ids: e.ids,
            token_type_ids: e.type_ids,
            segments: e.segments,
            truncated: e.truncated,
            layers: l,
            heads: h,
            len: t,
            attentions,
        })
    }

    /// Logits [N × labels] for `inputs` (a sentence and, for a pair task, its `text_pair`)
    /// through `model` (this engine's or a structurally pruned copy), with the heads in `off`
    /// masked.
    pub async fn logits(&self, model: &Bert, inputs: &[(&str, Option<&str>)], off: &[(usize, usize)]) -> Result<Vec<f32>> {
        let encoded = inputs.iter().map(|&(t, p)| self.tokenize_pair(t, p)).collect::<Result<Vec<_>>>()?;
        self.logits_of(model, &encoded, off).await
    }

    /// The same for tokenized inputs, in batches of similar length (memory stays bounded
    /// however many there are), in the order given.
    pub async fn logits_of(&self, model: &Bert, encoded: &[Encoded], off: &[(usize, usize)]) -> Result<Vec<f32>> {
        let classifier = self.classifier()?;
        let k = classifier.labels.len();
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let mut out = vec![0f32; encoded.len() * k];
        for group in batch::plan(&lens, MAX_BATCH_TOKENS, MAX_BATCH_SENTENCES) {
            let seqs: Vec<&Encoded> = group.iter().map(|&i| &encoded[i]).collect();
            let batch = Batch::from_encoded(&seqs, self.config().pad_token_id);
            let (ids, mask) = batch.tensors(&self.device);
            let head_mask = (!off.is_empty()).then(|| self.head_mask(off));
            let hidden = model.forward(ids, mask.clone(), batch.token_type_ids(&self.device), head_mask, false).last_hidden_state;
            let logits = read(classifier.logits(model, hidden, mask, self.pooling)).await?; // [B × labels]
            for (r, &i) in group.iter().enumerate() {
                out[i * k..(i + 1) * k].copy_from_slice(&logits[r * k..(r + 1) * k]);
            }
            if group.len() < encoded.len() {
                self.checkpoint().await?;
            }
        }
        Ok(out)
    }
}

/// Device → host, the async way (the only way WebGPU allows).
pub async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t.into_data_async().await.map_err(|e| Error::backend(format!("reading a result from the device failed ({e:?})")))?;
    data.try_into_vec::<f32>().map_err(|e| Error::backend(format!("result is not f32 ({e:?})")))
}

/// A checkpoint folder on disk (native only): config.json, model.safetensors, tokenizer.json and,
/// when present, the sentence-transformers pooling files (names from `src/manifest.json`).
#[cfg(not(target_family = "wasm"))]
pub struct ModelDir {
    pub config: Vec<u8>,
    pub weights: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub modules: Option<Vec<u8>>,
    pub pooling: Option<Vec<u8>>,
    pub sentence_bert_config: Option<Vec<u8>>,
}

#[cfg(not(target_family = "wasm"))]
impl ModelDir {
    pub fn read(dir: &std::path::Path) -> Result<Self> {
        use crate::error::ErrorKind;
        let names = &crate::manifest::manifest().checkpoint_files;
        let need = |name: &str, kind: ErrorKind| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::new(kind, format!("cannot read {} ({e})", path.display())))
        };
        let maybe = |name: &str| std::fs::read(dir.join(name)).ok();
        let config = need(&names.config, ErrorKind::Config)?;
        let weights = if dir.join(&names.weights).exists() {
            need(&names.weights, ErrorKind::Weights)?
        } else if let Some(index) = maybe(crate::weights::SHARD_INDEX) {
            let index = crate::weights::ShardIndex::parse(&index)?;
            let shards =
                index.files().into_iter().map(|name| need(&name, ErrorKind::Weights).map(|bytes| (name, bytes))).collect::<Result<Vec<_>>>()?;
            index.merge(&shards)?
        } else if let Some(message) = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| crate::weights::other_format(&e.file_name().to_string_lossy()))
            .min()
            .map(|(_, message)| message)
        {
            return Err(Error::weights(format!("not found in {}; {message}", dir.display())));
        } else {
            need(&names.weights, ErrorKind::Weights)?
        };
        Ok(Self {
            config,
            weights,
            tokenizer: need(&names.tokenizer, ErrorKind::Tokenizer)?,
            modules: maybe(&names.modules),
            pooling: maybe(&names.pooling),
            sentence_bert_config: maybe(&names.sentence_bert_config),
        })
    }

    pub fn files(&self) -> ModelFiles<'_> {
        ModelFiles {
            config: &self.config,
            weights: &self.weights,
            tokenizer: &self.tokenizer,
            modules: self.modules.as_deref(),
            pooling: self.pooling.as_deref(),
            sentence_bert_config: self.sentence_bert_config.as_deref(),
            adapter: None,
        }
    }
}
