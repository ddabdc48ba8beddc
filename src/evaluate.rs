//! Predictions on a labelled set under a head mask or with a structurally pruned model.
//!
//! The set is tokenized and length-sorted into padded batches once. The unpruned run keeps every
//! layer's input per batch, so a pruned run whose first changed layer is k starts at layer k.

use burn::tensor::Tensor;

use crate::batch::{self, Batch};
use crate::data::Example;
use crate::engine::{Engine, read};
use crate::error::Result;
use crate::model::Bert;

const EVAL_BATCH_TOKENS: usize = 4096;
const EVAL_BATCH_SENTENCES: usize = 64;

pub struct EvalSet {
    pub labels: Vec<usize>,
    batches: Vec<(Batch, Vec<usize>)>,
    /// Per batch, the unpruned model's input to every layer (filled by `predict_full`).
    layer_inputs: Vec<Vec<Tensor<3>>>,
}

impl EvalSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
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
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let batches = batch::plan(&lens, EVAL_BATCH_TOKENS, EVAL_BATCH_SENTENCES)
            .into_iter()
            .map(|group| {
                let seqs: Vec<&[u32]> = group.iter().map(|&i| encoded[i].ids.as_slice()).collect();
                (Batch::new(&seqs, self.config().pad_token_id), group)
            })
            .collect();
        Ok(EvalSet { labels: examples.iter().map(|e| e.label).collect(), batches, layer_inputs: Vec::new() })
    }

    /// The unpruned model's predictions; keeps each layer's input for later pruned runs.
    pub async fn predict_full(&self, set: &mut EvalSet, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<usize>> {
        let classifier = self.classifier()?;
        let mut pred = vec![0; set.len()];
        let mut inputs = Vec::with_capacity(set.batches.len());
        let mut done = 0;
        for (batch, group) in &set.batches {
            let (ids, mask) = batch.tensors(&self.device);
            let hidden = self.model.embeddings.forward(ids, batch.b, batch.t);
            let out = self.model.encode(hidden, mask.clone(), 0, None, false, true);
            let logits = read(classifier.logits(&self.model, out.hidden, mask, self.pooling)).await?;
            for (r, p) in argmax_rows(&logits, classifier.labels.len()).into_iter().enumerate() {
                pred[group[r]] = p;
            }
            inputs.push(out.layer_inputs);
            done += group.len();
            progress(done, set.len());
        }
        set.layer_inputs = inputs;
        Ok(pred)
    }

    /// Predictions with heads removed by a mask or structurally. Starts at the first layer that
    /// lost a head when `predict_full` has run on this set.
    pub async fn predict(&self, set: &EvalSet, pruned: Pruned<'_>, progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<usize>> {
        let classifier = self.classifier()?;
        let (model, gate) = match &pruned {
            Pruned::Mask(off) => (&self.model, (!off.is_empty()).then(|| self.gate(off))),
            Pruned::Structural(m, _) => (*m, None),
        };
        let first = pruned.heads().iter().map(|h| h.0).min().unwrap_or(self.config().num_hidden_layers);
        let mut pred = vec![0; set.len()];
        let mut done = 0;
        for (k, (batch, group)) in set.batches.iter().enumerate() {
            let (ids, mask) = batch.tensors(&self.device);
            let (start, hidden) = match set.layer_inputs.get(k).and_then(|v| v.get(first)) {
                Some(h) => (first, h.clone()),
                None => (0, model.embeddings.forward(ids, batch.b, batch.t)),
            };
            let out = model.encode(hidden, mask.clone(), start, gate.clone(), false, false);
            let logits = read(classifier.logits(model, out.hidden, mask, self.pooling)).await?;
            for (r, p) in argmax_rows(&logits, classifier.labels.len()).into_iter().enumerate() {
                pred[group[r]] = p;
            }
            done += group.len();
            progress(done, set.len());
        }
        Ok(pred)
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
