//! The coarse operations that the CLI and the wasm boundary share: load a model from its files'
//! bytes, embed sentences, return a sentence's attention maps. All readback is async, which
//! WebGPU requires; native callers block on it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::analysis::Grid;
use crate::batch::{self, Batch};
use crate::classifier::{Classifier, HeadMeta};
use crate::config::{BertConfig, Pooling};
use crate::device::Backend;
use crate::error::{Error, Result};
use crate::model::{Bert, BertOutput, pool};
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
}

pub struct Engine {
    pub model: Bert,
    pub tokenizer: TextTokenizer,
    pub pooling: Pooling,
    /// The checkpoint's own classifier, or a head set with `set_head`.
    pub classifier: Option<Classifier>,
    pub device: Device,
    pub backend: Backend,
    /// Set by `cancel`; long jobs stop at their next checkpoint.
    cancelled: AtomicBool,
    /// Per-head weight norms: fixed for a model, so computed once.
    pub(crate) weight_norm: OnceLock<Grid>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Embedded {
    pub ids: Vec<u32>,
    pub truncated: bool,
    pub embedding: Vec<f32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttentionMaps {
    pub tokens: Vec<String>,
    pub ids: Vec<u32>,
    pub truncated: bool,
    pub layers: usize,
    pub heads: usize,
    /// Tokens in the sentence (T).
    pub len: usize,
    /// [L, H, T, T], row-major; row i is query token i's distribution over the keys.
    pub probs: Vec<f32>,
}

impl Engine {
    pub fn load(files: &ModelFiles, device: Device, backend: Backend) -> Result<Self> {
        let config = BertConfig::from_json(files.config)?;
        let pooling = Pooling::from_sentence_transformers(files.modules, files.pooling)?;
        let tokenizer = TextTokenizer::from_bytes(files.tokenizer, config.max_position_embeddings, config.vocab_size)?;
        let model = Bert::load(&config, files.weights, &device)?;
        let classifier = Classifier::from_checkpoint(&model, config.labels.clone());
        Ok(Self { model, tokenizer, pooling, classifier, device, backend, cancelled: AtomicBool::new(false), weight_norm: OnceLock::new() })
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

    /// Puts a separately trained classifier head (safetensors + sidecar) on the encoder.
    pub fn set_head(&mut self, bytes: &[u8], meta: &HeadMeta) -> Result<()> {
        self.classifier = Some(Classifier::from_head(bytes, meta, self.config().hidden_size, self.pooling, &self.device)?);
        Ok(())
    }

    pub fn classifier(&self) -> Result<&Classifier> {
        self.classifier
            .as_ref()
            .ok_or_else(|| Error::input("this model has no classifier: give a head file (classifier.weight/bias) or a BertForSequenceClassification checkpoint"))
    }

    /// Parameters of `model` (this engine's or a pruned copy) plus a separate classifier head.
    pub fn num_params(&self, model: &Bert) -> usize {
        let head = match (&self.classifier, &model.classifier) {
            (Some(c), None) => c.num_params(),
            _ => 0, // none, or the checkpoint's own (counted in the model)
        };
        model.num_params() + head
    }

    /// A [1, L, H] gate: ones, with the heads in `off` ([layer, head]) at 0.
    pub fn gate(&self, off: &[(usize, usize)]) -> Tensor<3> {
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

    pub fn encode(&self, text: &str) -> Result<Encoded> {
        self.tokenizer.encode(text)
    }

    /// Runs the model on one padded batch. `gate`: [L, H] shared or [B, L, H] per example; none = ones.
    pub fn forward(&self, batch: &Batch, gate: Option<Tensor<3>>, keep_probs: bool) -> (BertOutput, Tensor<2>) {
        let (ids, mask) = batch.tensors(&self.device);
        (self.model.forward(ids, mask.clone(), gate, keep_probs), mask)
    }

    /// The pooled sentence vectors, as the checkpoint defines them, in the order given.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Embedded>> {
        let encoded = texts.iter().map(|t| self.encode(t)).collect::<Result<Vec<_>>>()?;
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let d = self.config().hidden_size;
        let mut vectors = vec![Vec::new(); texts.len()];
        for group in batch::plan(&lens, MAX_BATCH_TOKENS, MAX_BATCH_SENTENCES) {
            let seqs: Vec<&[u32]> = group.iter().map(|&i| encoded[i].ids.as_slice()).collect();
            let batch = Batch::new(&seqs, self.config().pad_token_id);
            let (out, mask) = self.forward(&batch, None, false);
            let pooled = read(pool(out.hidden, mask, self.pooling)).await?; // [B*D]
            for (r, &i) in group.iter().enumerate() {
                vectors[i] = pooled[r * d..(r + 1) * d].to_vec();
            }
        }
        Ok(encoded
            .into_iter()
            .zip(vectors)
            .map(|(e, embedding)| Embedded { ids: e.ids, truncated: e.truncated, embedding })
            .collect())
    }

    /// Every head's attention distribution for one sentence.
    pub async fn attention(&self, text: &str) -> Result<AttentionMaps> {
        let e = self.encode(text)?;
        let batch = Batch::new(&[e.ids.as_slice()], self.config().pad_token_id);
        let (out, _) = self.forward(&batch, None, true);
        let (l, h, t) = (out.attentions.len(), self.config().num_attention_heads, batch.t);
        let all = Tensor::cat(out.attentions, 0); // [L, H, T, T]
        let probs = read(all).await?;
        debug_assert_eq!(probs.len(), l * h * t * t);
        Ok(AttentionMaps { tokens: e.tokens, ids: e.ids, truncated: e.truncated, layers: l, heads: h, len: t, probs })
    }
}

/// Device → host, the async way (the only way WebGPU allows).
pub async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| Error::backend(format!("reading a result from the device failed ({e:?})")))?;
    data.try_into_vec::<f32>()
        .map_err(|e| Error::backend(format!("result is not f32 ({e:?})")))
}

/// A checkpoint folder on disk (native only): config.json, model.safetensors, tokenizer.json and,
/// when present, the sentence-transformers pooling files.
#[cfg(not(target_family = "wasm"))]
pub struct ModelDir {
    pub config: Vec<u8>,
    pub weights: Vec<u8>,
    pub tokenizer: Vec<u8>,
    pub modules: Option<Vec<u8>>,
    pub pooling: Option<Vec<u8>>,
}

#[cfg(not(target_family = "wasm"))]
impl ModelDir {
    pub fn read(dir: &std::path::Path) -> Result<Self> {
        let need = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| Error::input(format!("cannot read {} ({e})", dir.join(name).display())))
        };
        let maybe = |name: &str| std::fs::read(dir.join(name)).ok();
        Ok(Self {
            config: need("config.json")?,
            weights: need("model.safetensors")?,
            tokenizer: need("tokenizer.json")?,
            modules: maybe("modules.json"),
            pooling: maybe("1_Pooling/config.json"),
        })
    }

    pub fn files(&self) -> ModelFiles<'_> {
        ModelFiles {
            config: &self.config,
            weights: &self.weights,
            tokenizer: &self.tokenizer,
            modules: self.modules.as_deref(),
            pooling: self.pooling.as_deref(),
        }
    }
}
