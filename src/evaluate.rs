//! Predictions on a labelled set under a head mask or with a structurally pruned model.
//!
//! The set is tokenized and batched once, in random blocks (small ones first) that are
//! length-sorted inside, so every prefix of a pass is a random sample of the set and a running
//! estimate is unbiased. A pass runs the unpruned model and any number of pruned variants batch
//! by batch: a variant whose first changed layer is k starts from the unpruned model's input to
//! layer k, computed in the same pass or kept from an earlier one.
//!
//! What is kept across passes: the unpruned predictions (a few bytes a sentence) always, and
//! the unpruned layer inputs within a byte budget that a session's sets share ([`CacheBudget`]).
//! Batches beyond the budget recompute their unpruned forward when a variant needs it, so memory
//! stops growing with the set while the numbers stay the same (`tests/integration/session.rs`).
//! The budget keeps the first batches it can hold: every pass walks the batches in the same
//! order, and for such a cyclic scan keeping a fixed prefix is what an LRU would thrash on.
//!
//! Passes that report only totals (curves, the α sweep, the paper check: many variants) walk a
//! second layout of the same set, sorted by length over the whole set (on the validation split
//! 61 % of the random blocks' padded tokens are real, 94 % of the sorted batches'), and run the
//! masked heads sliced out of their layers. They keep nothing between passes; with many variants
//! the one unpruned forward a batch needs is a small share of the pass. Their predictions equal
//! the streamed, masked ones up to float rounding (an exact tie could flip; none did in the tests).
//! A classifier that reads only [CLS] gets only that query through the last layer, in both.
//!
//! A prediction is an f32: the argmax label index for a classifier, the score for a regression
//! head. The set scores them by its task ([`EvalSet::quality`], [`EvalSet::agreement`]).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};

use crate::analysis;
use crate::batch::{self, Batch};
use crate::config::ProblemType;
use crate::data::Example;
use crate::engine::{Engine, read};
use crate::error::Result;
use crate::model::Bert;
use crate::rng::Rng;
use crate::tokenize::Encoded;

/// Small batches: a streamed batch is also how long a short request (a prediction as the reader
/// types) may wait in the browser.
const EVAL_BATCH_TOKENS: usize = 1024;
const EVAL_BATCH_SENTENCES: usize = 8;
/// The set is evaluated in random blocks, small ones first, so a streamed estimate appears after
/// a few sentences and every prefix of the stream is a random sample of the set.
const BLOCK_SIZES: [usize; 2] = [4, 8];
/// The sorted layout's batches: longer ones natively amortise each matmul's set-up; in the
/// browser a batch is how long a typed sentence may wait behind a live sweep.
const SORTED_BATCH_TOKENS: usize = if cfg!(target_family = "wasm") { EVAL_BATCH_TOKENS } else { 2048 };
const SORTED_BATCH_SENTENCES: usize = if cfg!(target_family = "wasm") { EVAL_BATCH_SENTENCES } else { 32 };
const STREAM_SEED: u64 = 0x5eed;

/// Bytes of cached layer inputs that the evaluation sets of one session may hold together.
#[derive(Debug)]
pub struct CacheBudget {
    limit: usize,
    used: Cell<usize>,
}

impl CacheBudget {
    /// A budget of `limit_bytes`, to share between sets (hence the `Rc`).
    pub fn new(limit_bytes: usize) -> Rc<Self> {
        Rc::new(Self { limit: limit_bytes, used: Cell::new(0) })
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Bytes it may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn take(&self, bytes: usize) -> bool {
        let fits = self.used.get() + bytes <= self.limit;
        if fits {
            self.used.set(self.used.get() + bytes);
        }
        fits
    }

    fn give_back(&self, bytes: usize) {
        self.used.set(self.used.get() - bytes);
    }
}

struct EvalBatch {
    batch: Batch,
    /// The example index of each row.
    rows: Vec<usize>,
}

/// A labelled set, tokenized and batched once, with what passes over it keep.
pub struct EvalSet {
    examples: Vec<Example>,
    /// The gold labels (class indices) or scores.
    pub labels: Vec<f32>,
    /// The task its predictions are scored for.
    pub problem_type: ProblemType,
    batches: Vec<EvalBatch>,
    /// The same sentences sorted by length over the whole set ([`Engine::pass_sorted`]).
    sorted: Vec<EvalBatch>,
    /// Per batch, once computed: the unpruned model's prediction per row.
    full: RefCell<Vec<Option<Vec<f32>>>>,
    /// Per batch, within the budget: the unpruned model's input to layers 1..L ([B, T, D] each;
    /// layer 0's input is the embedding lookup, cheaper to redo than to keep).
    inputs: RefCell<Vec<Option<Vec<Tensor<3>>>>>,
    held: Cell<usize>,
    budget: Rc<CacheBudget>,
}

impl Drop for EvalSet {
    fn drop(&mut self) {
        self.budget.give_back(self.held.get());
    }
}

impl EvalSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// The task's metric of `pred` against the gold labels: accuracy for a classifier, Pearson's
    /// r for a regression head (GLUE's STS-B reports both r and Spearman's ρ; r is the one the
    /// curves, the α sweep and the paper check use).
    pub fn quality(&self, pred: &[f32]) -> f64 {
        match self.problem_type {
            ProblemType::SingleLabelClassification => accuracy(pred, &self.labels),
            ProblemType::Regression => pearson(pred, &self.labels),
        }
    }

    /// Share of examples where `pred` agrees with the unpruned model's `full`: the same label, or
    /// for a regression head a score within [`AGREEMENT_SHARE`] of the gold scores' range of the
    /// unpruned one.
    pub fn agreement(&self, pred: &[f32], full: &[f32]) -> f64 {
        let tolerance = self.agreement_tolerance();
        if pred.is_empty() {
            return f64::NAN;
        }
        pred.iter().zip(full).filter(|(a, b)| agrees(**a, **b, tolerance)).count() as f64 / pred.len() as f64
    }

    /// Drops the unpruned predictions and layer inputs kept across passes (they were computed
    /// another way: the compute path changed), giving their bytes back to the budget.
    pub fn forget(&self) {
        self.full.borrow_mut().iter_mut().for_each(|f| *f = None);
        self.inputs.borrow_mut().iter_mut().for_each(|f| *f = None);
        self.budget.give_back(self.held.replace(0));
    }

    /// How far a regression score may move and still agree (0 for a classifier: the same label).
    pub fn agreement_tolerance(&self) -> f32 {
        match self.problem_type {
            ProblemType::SingleLabelClassification => 0.0,
            ProblemType::Regression => {
                let (lo, hi) = self.labels.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &y| (lo.min(y), hi.max(y)));
                if lo <= hi { AGREEMENT_SHARE * (hi - lo) } else { 0.0 }
            }
        }
    }
}

/// Whether two predictions of one input agree: the same label (tolerance 0), or scores within
/// `tolerance` ([`EvalSet::agreement_tolerance`]).
pub fn agrees(a: f32, b: f32, tolerance: f32) -> bool {
    (a - b).abs() <= tolerance
}

/// Two scores of one input (masked and sliced heads, two batchings) count as the same within
/// this: float rounding, far below any score's resolution (the tiny checkpoints differ by at
/// most 2e-6 from transformers). Labels (exact small integers) compare equal exactly.
pub const SAME_SCORE: f32 = 1e-4;

/// For a regression head, a pruned score agrees with the unpruned one when they differ by at
/// most this share of the gold scores' range (STS-B's 0–5: ±0.25). Ours: a regression head has no
/// label to keep, and 5 % of the scale is a change a reader of the score would not act on.
pub const AGREEMENT_SHARE: f32 = 0.05;

/// How heads are removed for an evaluation.
#[derive(Clone, Copy)]
pub enum Pruned<'a> {
    /// Head mask 0 on these heads; the model does the same work.
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

    /// The first layer that differs from the unpruned model (`layers` when none does).
    fn first_changed(&self, layers: usize) -> usize {
        self.heads().iter().map(|h| h.0).min().unwrap_or(layers).min(layers)
    }
}

/// One batch of a pass: its example indices, the unpruned predictions and each variant's.
pub struct Streamed<'a> {
    pub rows: &'a [usize],
    pub full: &'a [f32],
    /// `pruned[v][r]`: variant v's prediction for row r.
    pub pruned: &'a [Vec<f32>],
}

/// A whole pass, in example order.
pub struct Pass {
    pub full: Vec<f32>,
    /// One prediction list per variant.
    pub pruned: Vec<Vec<f32>>,
}

impl Pass {
    fn new(sentences: usize, variants: usize) -> Self {
        Self { full: vec![0.0; sentences], pruned: vec![vec![0.0; sentences]; variants] }
    }

    /// Files one batch's predictions under its rows' example indices.
    fn put(&mut self, rows: &[usize], full: &[f32], pruned: &[Vec<f32>]) {
        for (r, &i) in rows.iter().enumerate() {
            self.full[i] = full[r];
            for (v, p) in pruned.iter().enumerate() {
                self.pruned[v][i] = p[r];
            }
        }
    }
}

/// Share of gold labels predicted (NaN for none).
pub fn accuracy<T: PartialEq>(pred: &[T], gold: &[T]) -> f64 {
    if pred.is_empty() {
        return f64::NAN;
    }
    pred.iter().zip(gold).filter(|(x, y)| x == y).count() as f64 / pred.len() as f64
}

/// Pearson's r of two prediction lists ([`analysis::pearson`]).
pub fn pearson(a: &[f32], b: &[f32]) -> f64 {
    analysis::pearson(&wide(a), &wide(b))
}

/// Pearson's r of pairs as they arrive, in one pass (Welford's co-moments: stable, O(1) a pair),
/// for the estimate a streamed evaluation shows after every batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunningPearson {
    n: f64,
    mean_x: f64,
    mean_y: f64,
    cxx: f64,
    cyy: f64,
    cxy: f64,
}

impl RunningPearson {
    pub fn push(&mut self, x: f32, y: f32) {
        let (x, y) = (x as f64, y as f64);
        self.n += 1.0;
        let (dx, dy) = (x - self.mean_x, y - self.mean_y);
        self.mean_x += dx / self.n;
        self.mean_y += dy / self.n;
        self.cxx += dx * (x - self.mean_x);
        self.cyy += dy * (y - self.mean_y);
        self.cxy += dx * (y - self.mean_y);
    }

    /// r so far (NaN with fewer than 2 pairs or a constant side, as [`pearson`]).
    pub fn r(&self) -> f64 {
        if self.n < 2.0 || self.cxx == 0.0 || self.cyy == 0.0 { f64::NAN } else { self.cxy / (self.cxx * self.cyy).sqrt() }
    }
}

/// Spearman's ρ of two prediction lists ([`analysis::spearman`]).
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    analysis::spearman(&wide(a), &wide(b))
}

fn wide(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The index of each row's largest logit; `logits` is [N × labels].
pub fn argmax_rows(logits: &[f32], labels: usize) -> Vec<usize> {
    logits
        .chunks(labels)
        .map(|row| row.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best }).0)
        .collect()
}

/// One prediction per row of `logits` [N × outputs]: the argmax label index, or a regression
/// head's one score (outputs = 1; [`crate::config::ProblemType::of`] makes one output and
/// regression the same thing).
pub fn predictions(logits: &[f32], outputs: usize) -> Vec<f32> {
    if outputs == 1 { logits.to_vec() } else { argmax_rows(logits, outputs).into_iter().map(|k| k as f32).collect() }
}

impl Engine {
    /// Tokenizes and batches `examples`; layer inputs it keeps count against `budget`.
    /// Errors: no classifier (a set is scored by its task), an untokenizable text.
    pub fn prepare(&self, examples: &[Example], budget: Rc<CacheBudget>) -> Result<EvalSet> {
        let encoded = examples.iter().map(|e| self.encode(e)).collect::<Result<Vec<_>>>()?;
        let mut order: Vec<usize> = (0..examples.len()).collect();
        Rng::new(STREAM_SEED).shuffle(&mut order);
        let batch_of = |rows: Vec<usize>| {
            let seqs: Vec<&Encoded> = rows.iter().map(|&i| &encoded[i]).collect();
            EvalBatch { batch: Batch::from_encoded(&seqs, self.config().pad_token_id), rows }
        };
        let mut batches = Vec::new();
        let (mut at, mut k) = (0, 0);
        while at < order.len() {
            let block = &order[at..(at + BLOCK_SIZES[k.min(BLOCK_SIZES.len() - 1)]).min(order.len())];
            let lens: Vec<usize> = block.iter().map(|&i| encoded[i].ids.len()).collect();
            for group in batch::plan(&lens, EVAL_BATCH_TOKENS, EVAL_BATCH_SENTENCES) {
                batches.push(batch_of(group.into_iter().map(|j| block[j]).collect()));
            }
            at += block.len();
            k += 1;
        }
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();
        let sorted = batch::plan(&lens, SORTED_BATCH_TOKENS, SORTED_BATCH_SENTENCES).into_iter().map(batch_of).collect();
        let n = batches.len();
        Ok(EvalSet {
            examples: examples.to_vec(),
            labels: examples.iter().map(|e| e.label).collect(),
            problem_type: self.classifier()?.problem_type,
            batches,
            sorted,
            full: RefCell::new(vec![None; n]),
            inputs: RefCell::new(vec![None; n]),
            held: Cell::new(0),
            budget,
        })
    }

    /// One pass over `set`: the unpruned predictions and those of every variant, batch by batch
    /// in the set's random block order. `on_batch` sees each batch as it is done; the job can be
    /// cancelled between batches.
    pub async fn stream(&self, set: &EvalSet, variants: &[Pruned<'_>], on_batch: &mut dyn FnMut(Streamed)) -> Result<Pass> {
        let mut pass = Pass::new(set.len(), variants.len());
        for k in 0..set.batches.len() {
            let (full, pruned) = self.pass_batch(&set.batches[k], Some((set, k)), variants).await?;
            let rows = &set.batches[k].rows;
            pass.put(rows, &full, &pruned);
            on_batch(Streamed { rows, full: &full, pruned: &pruned });
            self.checkpoint().await?;
        }
        Ok(pass)
    }

    /// One pass over `set` in its length-sorted layout, for callers that want only the totals:
    /// [`Engine::stream`]'s predictions (up to float rounding) with less padding and work. `progress` gets the
    /// sentences done; the job can be cancelled between batches.
    pub async fn pass_sorted(&self, set: &EvalSet, variants: &[Pruned<'_>], progress: &mut dyn FnMut(usize)) -> Result<Pass> {
        let mut pass = Pass::new(set.len(), variants.len());
        let mut done = 0;
        for eb in &set.sorted {
            let (full, pruned) = self.pass_batch(eb, None, variants).await?;
            pass.put(&eb.rows, &full, &pruned);
            done += eb.rows.len();
            progress(done);
            self.checkpoint().await?;
        }
        Ok(pass)
    }

    /// One batch: the unpruned predictions and each variant's, from the layer where it first
    /// differs. `kept` names the set and index of a streamed batch, whose unpruned predictions
    /// and layer inputs are kept across passes. Without kept layer inputs, only the unpruned
    /// layers below the deepest variant's start are run (a single variant then costs what
    /// running it alone would).
    async fn pass_batch(&self, eb: &EvalBatch, kept: Option<(&EvalSet, usize)>, variants: &[Pruned<'_>]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let classifier = self.classifier()?;
        let model = self.runner();
        let layers = self.config().num_hidden_layers;
        let (b, t) = (eb.batch.b, eb.batch.t);
        let firsts: Vec<usize> = variants.iter().map(|v| v.first_changed(layers)).collect();
        // The deepest unpruned layer input a variant starts from (0: none is needed).
        let deepest = firsts.iter().copied().filter(|&f| f < layers).max().unwrap_or(0);
        let (ids, mask) = eb.batch.tensors(&self.device);
        let types = eb.batch.token_type_ids(&self.device);

        let kept_full = kept.and_then(|(set, k)| set.full.borrow()[k].clone());
        let mut inputs = kept.and_then(|(set, k)| set.inputs.borrow()[k].clone()); // layers 1..L; clones share the tensors
        let full = match kept_full {
            Some(full) => full,
            None => {
                let embedded = model.embeddings.forward(ids.clone(), types.clone(), b, t); // [B, T, D]
                let keep = kept.is_some_and(|(set, _)| inputs.is_none() && set.budget.used() < set.budget.limit());
                let out = model.encode(embedded, mask.clone(), 0, None, false, deepest > 0 || keep);
                let logits = read(classifier.logits(model, out.last_hidden_state, mask.clone(), self.pooling)).await?;
                let full = predictions(&logits, classifier.outputs());
                if let Some((set, k)) = kept {
                    set.full.borrow_mut()[k] = Some(full.clone());
                }
                if let Some(computed) = out.hidden_states.get(1..).filter(|h| !h.is_empty()).map(<[_]>::to_vec) {
                    let bytes = (layers - 1) * b * t * self.config().hidden_size * size_of::<f32>();
                    if let Some((set, k)) = kept.filter(|_| keep)
                        && set.budget.take(bytes)
                    {
                        set.inputs.borrow_mut()[k] = Some(computed.clone());
                        set.held.set(set.held.get() + bytes);
                    }
                    inputs = inputs.or(Some(computed));
                }
                full
            }
        };
        if inputs.is_none() && deepest > 0 {
            let embedded = model.embeddings.forward(ids.clone(), types.clone(), b, t);
            inputs = Some(model.layer_inputs(embedded, mask.clone(), deepest));
        }

        let mut pruned = vec![Vec::new(); variants.len()];
        let mut since_yield = crate::device::now_ms();
        // Masked variants depth-first over their per-layer head sets, sorted: variants that
        // remove the same heads in layers 0..k share those layers' work (an α sweep's or a
        // curve's sets often differ only higher up). At most L + 1 hidden states are held.
        let heads = self.config().num_attention_heads;
        let keys: Vec<Vec<Vec<usize>>> =
            variants.iter().map(|v| (0..layers).map(|l| v.heads().iter().filter(|h| h.0 == l).map(|h| h.1).collect()).collect()).collect();
        let mut order: Vec<usize> = (0..variants.len()).filter(|&v| matches!(variants[v], Pruned::Mask(_)) && firsts[v] < layers).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let additive = model.attention_bias(mask.clone());
        let first_only = classifier.reads_first_token(self.pooling);
        let bulk = kept.is_none();
        let mut stack: Vec<Tensor<3>> = Vec::new(); // stack[l]: the input of layer l under the current prefix
        let mut prev: Option<usize> = None;
        for &v in &order {
            let key = &keys[v];
            let common = prev.map_or(0, |p| keys[p].iter().zip(key).take_while(|(a, b)| a == b).count());
            stack.truncate(common + 1);
            while stack.len() <= layers {
                let l = stack.len();
                if l == 0 {
                    stack.push(model.embeddings.forward(ids.clone(), types.clone(), b, t)); // [B, T, D]
                } else if l <= firsts[v] && l < layers {
                    // Still unpruned: the kept (or just computed) unpruned input of layer l.
                    stack.push(inputs.as_ref().expect("computed above for every start below `deepest`")[l - 1].clone());
                } else {
                    let (x, off) = (stack[l - 1].clone(), &key[l - 1]);
                    // Passes for totals only (`bulk`) run the layer without the masked heads' rows
                    // and columns: head mask 0's outputs (within 1e-5) without their work (the
                    // probe's α sweep: 13 % faster). Streamed passes mask.
                    let sliced = (bulk && !off.is_empty()).then(|| model.layers[l - 1].without_heads(off));
                    let gate = (!bulk && !off.is_empty()).then(|| {
                        let mut g = vec![1f32; heads];
                        off.iter().for_each(|&h| g[h] = 0.0);
                        Tensor::<2>::from_data(TensorData::new(g, [1, heads]), &self.device) // [1, H]
                    });
                    let layer = sliced.as_ref().unwrap_or(&model.layers[l - 1]);
                    stack.push(if l == layers && first_only {
                        layer.forward_first(x, additive.clone(), gate) // [B, 1, D]
                    } else {
                        layer.forward(x, additive.clone(), gate, false).hidden // [B, T, D]
                    });
                }
            }
            let logits = read(classifier.logits(model, stack[layers].clone(), mask.clone(), self.pooling)).await?;
            pruned[v] = predictions(&logits, classifier.outputs());
            prev = Some(v);
            // Many variants in one batch (curves, sweeps): let a typed sentence or a cancel in every 50 ms.
            if crate::device::now_ms() - since_yield > 50.0 {
                self.checkpoint().await?;
                since_yield = crate::device::now_ms();
            }
        }
        // The rest: variants that change nothing, and sliced models (their own weights).
        for (idx, (v, &first)) in variants.iter().zip(&firsts).enumerate() {
            if !pruned[idx].is_empty() {
                continue;
            }
            if first >= layers {
                pruned[idx] = full.clone();
                continue;
            }
            let Pruned::Structural(model, _) = v else { unreachable!("masked variants ran above") };
            let hidden = match first {
                0 => model.embeddings.forward(ids.clone(), types.clone(), b, t),
                f => inputs.as_ref().expect("computed above for every start below `deepest`")[f - 1].clone(),
            };
            let out = model.encode(hidden, mask.clone(), first, None, false, false);
            let logits = read(classifier.logits(model, out.last_hidden_state, mask.clone(), self.pooling)).await?;
            pruned[idx] = predictions(&logits, classifier.outputs());
            if crate::device::now_ms() - since_yield > 50.0 {
                self.checkpoint().await?;
                since_yield = crate::device::now_ms();
            }
        }
        Ok((full, pruned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_pearson_is_the_two_pass_one() {
        let (x, y) = ([1.0f32, 2.5, 0.5, 4.0, 3.0, 1000.0], [0.2f32, 0.9, 0.1, 0.7, 0.8, 5.0]);
        let mut run = RunningPearson::default();
        assert!(run.r().is_nan());
        for (k, (&a, &b)) in x.iter().zip(&y).enumerate() {
            run.push(a, b);
            let want = pearson(&x[..=k], &y[..=k]);
            assert!(k == 0 && run.r().is_nan() || (run.r() - want).abs() < 1e-12, "after {}: {} vs {want}", k + 1, run.r());
        }
    }
}
