//! Predictions on a labelled set under a head mask or with a structurally pruned model.
//!
//! The set is tokenized and batched once (random blocks, length-sorted within a block). The
//! unpruned run keeps every layer's input per batch, so a pruned run whose first changed layer is
//! k starts at layer k.

use burn::tensor::Tensor;

use crate::batch::{self, Batch};
use crate::data::Example;
use crate::engine::{Engine, read};
use crate::error::Result;
use crate::model::Bert;
use crate::rng::Rng;

/// Small batches: a streamed batch is also how long a short request (a prediction as the reader
/// types) may wait in the browser.
const EVAL_BATCH_TOKENS: usize = 1024;
const EVAL_BATCH_SENTENCES: usize = 8;
/// The set is evaluated in random blocks, small ones first, so a streamed estimate appears after
/// a few sentences and every prefix of the stream is a random sample of the set.
const BLOCK_SIZES: [usize; 2] = [4, 8];
const STREAM_SEED: u64 = 0x5eed;

pub struct EvalSet {
    pub labels: Vec<usize>,
    /// Padded batches and the example index of each row.
    batches: Vec<(Batch, Vec<usize>)>,
    /// Per batch, once computed: the unpruned model's prediction per row and its input to every
    /// layer.
    full: Vec<Option<(Vec<usize>, Vec<Tensor<3>>)>>,
}

impl EvalSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// One streamed batch: its example indices, the pruned and the unpruned predictions.
pub struct Streamed<'a> {
    pub examples: &'a [usize],
    pub pred: &'a [usize],
    pub full: &'a [usize],
}

/// How heads are removed for an evaluation.
pub enum Pruned<'a> {
    /// Gate 0 on these heads; the model does the same work.
    Mask(&'a [(usize, usize)]),
    /// A smaller model (from `Bert::without_heads`) and the heads it lacks.
    Structural(&'a Bert, &'a [(usize, usize)]),
}

impl Pruned<'_> {
    fn heads(&self) -> &[(usize, usize)] {
        match self {
            Pruned::Mask(h) | Pruned::Structural(_, h) => h,
        }
    }
}

pub fn accuracy(pred: &[usize], gold: &[usize]) -> f64 {
    agreement(pred, gold)
}

/// Share of positions where the two prediction lists agree.
pub fn agreement(a: &[usize], b: &[usize]) -> f64 {
    if a.is_empty() {
        return f64::NAN;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

fn argmax_rows(logits: &[f32], labels: usize) -> Vec<usize> {
    logits
        .chunks(labels)
        .map(|row| row.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best }).0)
        .collect()
}

impl Engine {
    pub fn prepare(&self, examples: &[Example]) -> Result<EvalSet> {
        let encoded = examples.iter().map(|e| self.encode(&e.text)).collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..examples.len()).collect();
        Rng::new(STREAM_SEED).shuffle(&mut order);
        let mut batches = Vec::new();
        let (mut at, mut k) = (0, 0);
        while at < order.len() {
            let block = &order[at..(at + BLOCK_SIZES[k.min(BLOCK_SIZES.len() - 1)]).min(order.len())];
            let lens: Vec<usize> = block.iter().map(|&i| encoded[i].ids.len()).collect();
            for group in batch::plan(&lens, EVAL_BATCH_TOKENS, EVAL_BATCH_SENTENCES) {
                let group: Vec<usize> = group.into_iter().map(|j| block[j]).collect();
                let seqs: Vec<&[u32]> = group.iter().map(|&i| encoded[i].ids.as_slice()).collect();
                batches.push((Batch::new(&seqs, self.config().pad_token_id), group));
            }
            at += block.len();
            k += 1;
        }
        let full = batches.iter().map(|_| None).collect();
        Ok(EvalSet { labels: examples.iter().map(|e| e.label).collect(), batches, full })
    }

    /// The unpruned model on batch `k`, once: its predictions and every layer's input.
    async fn ensure_full(&self, set: &mut EvalSet, k: usize) -> Result<()> {
        if set.full[k].is_some() {
            return Ok(());
        }
        let classifier = self.classifier()?;
        let batch = &set.batches[k].0;
        let (ids, mask) = batch.tensors(&self.device);
        let hidden = self.model.embeddings.forward(ids, batch.b, batch.t);
        let out = self.model.encode(hidden, mask.clone(), 0, None, false, true);
        let logits = read(classifier.logits(&self.model, out.hidden, mask, self.pooling)).await?;
        set.full[k] = Some((argmax_rows(&logits, classifier.labels.len()), out.layer_inputs));
        Ok(())
    }

    /// Batch `k` with heads removed; starts at the first layer that lost a head when the
    /// unpruned layer inputs are cached.
    async fn pruned_batch(&self, set: &EvalSet, k: usize, pruned: &Pruned<'_>) -> Result<Vec<usize>> {
        let classifier = self.classifier()?;
        let (model, gate) = match pruned {
            Pruned::Mask(off) => (&self.model, (!off.is_empty()).then(|| self.gate(off))),
            Pruned::Structural(m, _) => (*m, None),
        };
        let first = pruned.heads().iter().map(|h| h.0).min().unwrap_or(self.config().num_hidden_layers);
        let batch = &set.batches[k].0;
        let (ids, mask) = batch.tensors(&self.device);
        let (start, hidden) = match set.full[k].as_ref().and_then(|(_, inputs)| inputs.get(first)) {
            Some(h) => (first, h.clone()),
            None => (0, model.embeddings.forward(ids, batch.b, batch.t)),
        };
        let out = model.encode(hidden, mask.clone(), start, gate, false, false);
        let logits = read(classifier.logits(model, out.hidden, mask, self.pooling)).await?;
        Ok(argmax_rows(&logits, classifier.labels.len()))
    }

    /// The unpruned model's predictions; keeps each layer's input for later pruned runs.
    pub async fn predict_full(&self, set: &mut EvalSet, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<usize>> {
        let mut pred = vec![0; set.len()];
        let mut done = 0;
        for k in 0..set.batches.len() {
            self.ensure_full(set, k).await?;
            let (group, full) = (&set.batches[k].1, &set.full[k].as_ref().expect("just computed").0);
            for (r, &i) in group.iter().enumerate() {
                pred[i] = full[r];
            }
            done += group.len();
            progress(done, set.len());
            self.checkpoint().await?;
        }
        Ok(pred)
    }

    /// Predictions with heads removed by a mask or structurally. Starts at the first layer that
    /// lost a head when `predict_full` has run on this set.
    pub async fn predict(&self, set: &EvalSet, pruned: Pruned<'_>, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<usize>> {
        let mut pred = vec![0; set.len()];
        let mut done = 0;
        for k in 0..set.batches.len() {
            let rows = self.pruned_batch(set, k, &pruned).await?;
            let group = &set.batches[k].1;
            for (r, &i) in group.iter().enumerate() {
                pred[i] = rows[r];
            }
            done += group.len();
            progress(done, set.len());
            self.checkpoint().await?;
        }
        Ok(pred)
    }

    /// Pruned and unpruned predictions batch by batch in the set's random block order, so the
    /// examples seen at any point are a random sample and a running estimate is unbiased.
    /// Computes (and caches) the unpruned batches it has not seen yet. Returns (pruned, unpruned).
    pub async fn stream(&self, set: &mut EvalSet, pruned: Pruned<'_>, on_batch: &mut dyn FnMut(Streamed)) -> Result<(Vec<usize>, Vec<usize>)> {
        let (mut pred, mut full) = (vec![0; set.len()], vec![0; set.len()]);
        for k in 0..set.batches.len() {
            self.ensure_full(set, k).await?;
            let unpruned = set.full[k].as_ref().expect("just computed").0.clone();
            let rows = if pruned.heads().is_empty() { unpruned.clone() } else { self.pruned_batch(set, k, &pruned).await? };
            let group = &set.batches[k].1;
            for (r, &i) in group.iter().enumerate() {
                pred[i] = rows[r];
                full[i] = unpruned[r];
            }
            on_batch(Streamed { examples: group, pred: &rows, full: &unpruned });
            self.checkpoint().await?;
        }
        Ok((pred, full))
    }

    /// Logits [N, labels] for sentences (one batch per call), with an optional mask; for tests
    /// that compare masked and structurally pruned models.
    pub async fn logits(&self, model: &Bert, texts: &[String], off: &[(usize, usize)]) -> Result<Vec<f32>> {
        let classifier = self.classifier()?;
        let encoded = texts.iter().map(|t| self.encode(t)).collect::<Result<Vec<_>>>()?;
        let seqs: Vec<&[u32]> = encoded.iter().map(|e| e.ids.as_slice()).collect();
        let batch = Batch::new(&seqs, self.config().pad_token_id);
        let (ids, mask) = batch.tensors(&self.device);
        let gate = (!off.is_empty()).then(|| self.gate(off));
        let out = model.forward(ids, mask.clone(), gate, false);
        read(classifier.logits(model, out.hidden, mask, self.pooling)).await
    }
}
