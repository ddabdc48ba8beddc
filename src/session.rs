//! A reader's session: what the page (through the wasm adapter) and each CLI command hold. The
//! engine (model, tokenizer, classifier, device), the calibration pool and the evaluation set,
//! the unpruned predictions and layer inputs kept for the evaluation set within a memory budget,
//! and the last structurally pruned model. Every operation the interfaces offer is one method
//! here; they only convert arguments and results.
//!
//! Methods take `&self`: in the browser a short request (a sentence being typed) runs between
//! the batches of a long one (an evaluation), so state lives in cells that are never borrowed
//! across an `await`, and a running job keeps the sets it started with.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use tsify::Tsify;

use crate::analysis::{self, Grid, Head};
use crate::classifier::Input;
use crate::config::ProblemType;
use crate::curves::{CurveOptions, CurveProgress, Curves};
use crate::data::{self, Example};
use crate::engine::{AttentionMaps, Embedded, Engine, read};
use crate::error::{Error, Result};
use crate::evaluate::{self, CacheBudget, EvalSet, Pass, Pruned, Streamed};
use crate::model::{Bert, Compute};
use crate::paper::{PaperCheck, PaperCheckOptions};
use crate::prune::PruneOptions;
use crate::report::Classified;
use crate::report::{EvalProgress, Evaluation, F32s, Inspection, Latency, ModelInfo, Plan, Prediction, Removal};
use crate::scores::{ScoreOptions, Scores};
use crate::sweep::{Sweep, SweepOptions};

/// What a session may keep.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Bytes of unpruned layer inputs kept for the evaluation sets (beyond it, recomputed).
    pub cache_bytes: usize,
}

impl Default for SessionOptions {
    /// 256 MB. The 800-sentence Rotten Tomatoes dev set would take 276 MB (36,000 padded tokens
    /// × 5 layer inputs × 384 f32), so 97 % of it is kept; a tab's wasm memory has room for that
    /// beside the model, not for a reader's 100 k sentences.
    fn default() -> Self {
        Self { cache_bytes: 256 << 20 }
    }
}

/// A calibration sample: `n` sentences of the pool drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Tsify)]
pub struct Calibration {
    pub n: usize,
    pub seed: u64,
}

/// Head scores on a calibration sample, with the heads in `off` masked throughout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
pub struct ScoreRequest {
    #[serde(flatten)]
    pub calibration: Calibration,
    #[serde(default)]
    #[tsify(optional)]
    pub off: Vec<Head>,
    #[serde(default)]
    #[tsify(optional)]
    pub options: Option<ScoreOptions>,
}

/// The heads a pruning setting removes, scored on a calibration sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
pub struct PlanRequest {
    #[serde(flatten)]
    pub calibration: Calibration,
    pub options: PruneOptions,
}

/// Latency of the full, masked and (optionally) sliced model on the first `sentences` of the
/// evaluation set, `rounds` timed passes after a warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
pub struct LatencyRequest {
    pub removal: Removal,
    pub sentences: usize,
    pub rounds: usize,
}

/// One sentence to inspect, with the heads whose removal the pruned prediction shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
pub struct InspectRequest {
    pub text: String,
    /// The second sentence of a pair task (transformers' `text_pair`).
    #[serde(default)]
    #[tsify(optional)]
    pub text_pair: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub heads: Vec<Head>,
}

/// Sentences to classify in one batch, with heads removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Tsify)]
pub struct PredictRequest {
    pub texts: Vec<String>,
    /// For a pair task, the second sentence of each (transformers' `text_pair`): as many as `texts`.
    #[serde(default)]
    #[tsify(optional)]
    pub text_pairs: Option<Vec<String>>,
    #[serde(default)]
    #[tsify(optional)]
    pub removal: Removal,
}

/// Curves on the first `evaluation_size` sentences of the evaluation set (all when none).
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct CurvesRequest {
    #[serde(flatten)]
    pub options: CurveOptions,
    #[serde(default)]
    #[tsify(optional)]
    pub evaluation_size: Option<usize>,
}

/// The α sweep on the first `validation_size` sentences of the validation split (all when none).
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct SweepRequest {
    #[serde(flatten)]
    pub options: SweepOptions,
    #[serde(default)]
    #[tsify(optional)]
    pub validation_size: Option<usize>,
}

/// The paper check on the first `evaluation_size` sentences of the evaluation set (all when none).
#[derive(Debug, Clone, Serialize, Deserialize, Tsify)]
pub struct PaperCheckRequest {
    #[serde(flatten)]
    pub options: PaperCheckOptions,
    #[serde(default)]
    #[tsify(optional)]
    pub evaluation_size: Option<usize>,
}

/// A reader's session over one model. Data sets are replaced whole; a job keeps the sets it
/// started with, so replacing one mid-job changes nothing for it.
pub struct Session {
    engine: Arc<Engine>,
    /// Why "auto" fell back to the CPU, if it did.
    fallback: Option<String>,
    /// The pool calibration samples are drawn from.
    calibration: RefCell<Rc<[Example]>>,
    evaluation: RefCell<Option<Rc<EvalSet>>>,
    /// Held out for choosing α (the sweep); never the evaluation set.
    validation: RefCell<Option<Rc<EvalSet>>>,
    /// The structurally pruned model for the last head set asked for (building it copies weights).
    sliced: RefCell<Option<(Vec<Head>, Rc<Bert>)>>,
    budget: Rc<CacheBudget>,
}

impl Session {
    /// A session on `engine`, with no data yet.
    pub fn new(engine: Arc<Engine>, options: SessionOptions) -> Self {
        Self {
            engine,
            fallback: None,
            calibration: RefCell::new(Rc::from(Vec::new())),
            evaluation: RefCell::new(None),
            validation: RefCell::new(None),
            sliced: RefCell::new(None),
            budget: CacheBudget::new(options.cache_bytes),
        }
    }

    /// Records why the device is not the one asked for (shown in `info`).
    pub fn with_fallback(mut self, fallback: Option<String>) -> Self {
        self.fallback = fallback;
        self
    }

    /// The model this session runs.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Asks the running long job to stop at its next batch.
    pub fn cancel(&self) {
        self.engine.cancel();
    }

    /// What is loaded: the model's shape, classifier, labels, parameters and data set sizes.
    pub fn info(&self) -> ModelInfo {
        let e = &self.engine;
        let c = e.config();
        ModelInfo {
            backend: e.backend,
            fallback: self.fallback.clone(),
            num_hidden_layers: c.num_hidden_layers,
            num_attention_heads: c.num_attention_heads,
            hidden_size: c.hidden_size,
            max_position_embeddings: c.max_position_embeddings,
            max_len: e.max_len,
            pooling: format!("{:?}", e.pooling.mode).to_lowercase(),
            normalize: e.pooling.normalize,
            classifier: e.classifier.as_ref().map(|c| if c.input == Input::Pooler { "checkpoint" } else { "file" }.to_string()),
            labels: e.classifier.as_ref().map(|c| c.labels.clone()).unwrap_or_default(),
            compute: e.compute(),
            relaxed_simd: crate::model::RELAXED_SIMD,
            problem_type: e.classifier.as_ref().map(|c| c.problem_type),
            metric: e.classifier.as_ref().map(|c| c.problem_type.metric()),
            parameters: e.num_params(&e.model),
            absent_heads: e.absent_heads(),
            architecture: c.architectures.first().cloned().unwrap_or_else(|| "BertModel".to_string()),
            notices: e.notices(),
            sentence_pairs: self.evaluation.borrow().as_ref().and_then(|s| s.examples().first().map(|x| x.text_pair.is_some())).unwrap_or(false),
            calibration_size: self.calibration.borrow().len(),
            evaluation_size: self.evaluation.borrow().as_ref().map_or(0, |s| s.len()),
            validation_size: self.validation.borrow().as_ref().map_or(0, |s| s.len()),
        }
    }

    /// `label<TAB>text` or `label<TAB>text_a<TAB>text_b` lines, labels by index or by the
    /// classifier's names (a regression head: gold scores).
    pub fn parse_data(&self, text: &str) -> Result<Vec<Example>> {
        data::parse_tsv(text, self.engine.classifier()?.gold())
    }

    /// Sets the pool calibration samples are drawn from; returns its size.
    pub fn set_calibration(&self, examples: Vec<Example>) -> usize {
        let n = examples.len();
        *self.calibration.borrow_mut() = Rc::from(examples);
        n
    }

    /// Sets the evaluation set (tokenized and batched once); returns its size. The one it
    /// replaces is dropped when no job uses it any more, and gives its cache back.
    pub fn set_evaluation(&self, examples: &[Example]) -> Result<usize> {
        let set = self.engine.prepare(examples, self.budget.clone())?;
        let n = set.len();
        *self.evaluation.borrow_mut() = Some(Rc::new(set));
        Ok(n)
    }

    /// Sets the validation split the α sweep runs on; returns its size.
    pub fn set_validation(&self, examples: &[Example]) -> Result<usize> {
        let set = self.engine.prepare(examples, self.budget.clone())?;
        let n = set.len();
        *self.validation.borrow_mut() = Some(Rc::new(set));
        Ok(n)
    }

    /// The evaluation set now set. Errors: none is set.
    pub fn evaluation(&self) -> Result<Rc<EvalSet>> {
        self.evaluation.borrow().clone().ok_or_else(|| Error::input("no evaluation set: set one first"))
    }

    /// Bytes of layer inputs held for evaluation sets now.
    pub fn cached_bytes(&self) -> usize {
        self.budget.used()
    }

    /// The calibration pool now set. Errors: none is set.
    fn calibration_pool(&self) -> Result<Rc<[Example]>> {
        let pool = self.calibration.borrow().clone();
        if pool.is_empty() {
            return Err(Error::input("no calibration set: set one first"));
        }
        Ok(pool)
    }

    /// `n` sentences of the calibration pool, drawn with `seed` (the same everywhere).
    /// Errors: no pool is set, or `n` is 0.
    pub fn calibration_sample(&self, c: Calibration) -> Result<Vec<Example>> {
        if c.n == 0 {
            return Err(Error::input("a calibration sample needs at least 1 sentence (n = 0)"));
        }
        Ok(data::sample(&self.calibration_pool()?, c.n, c.seed))
    }

    /// `heads` sorted, each once. Errors: a head this model does not have.
    pub fn heads(&self, heads: &[Head]) -> Result<Vec<Head>> {
        let c = self.engine.config();
        if let Some((l, h)) = heads.iter().find(|&&(l, h)| l >= c.num_hidden_layers || h >= c.num_attention_heads) {
            return Err(Error::input(format!(
                "head {l}.{h} does not exist: the model has {} layers × {} heads",
                c.num_hidden_layers, c.num_attention_heads
            )));
        }
        let mut v = heads.to_vec();
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// `r` with its heads sorted, each once. Errors: a head this model does not have.
    fn removal(&self, r: &Removal) -> Result<Removal> {
        Ok(Removal { heads: self.heads(&r.heads)?, structural: r.structural })
    }

    /// How inference multiplies from now on ([`Engine::set_compute`]): f32, or int8 weights and
    /// activations. What the sets kept from passes computed the other way is dropped.
    /// Errors: q8 on the GPU backend.
    pub fn set_compute(&self, compute: Compute) -> Result<()> {
        if compute == self.engine.compute() {
            return Ok(());
        }
        self.engine.set_compute(compute)?;
        for set in [self.evaluation.borrow().clone(), self.validation.borrow().clone()].into_iter().flatten() {
            set.forget();
        }
        *self.sliced.borrow_mut() = None;
        Ok(())
    }

    /// The structurally pruned model without `heads`, reusing the last one built for the same set.
    pub fn sliced(&self, heads: &[Head]) -> Rc<Bert> {
        let mut key = heads.to_vec();
        key.sort();
        if let Some((k, m)) = self.sliced.borrow().as_ref()
            && *k == key
        {
            return m.clone();
        }
        let m = Rc::new(self.engine.runner().without_heads(&key));
        *self.sliced.borrow_mut() = Some((key, m.clone()));
        m
    }

    /// Pooled sentence embeddings, as the checkpoint defines them, in the order given.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Embedded>> {
        self.engine.embed(texts).await
    }

    /// Entropy, confidence, HIS, HIES and weight norms on a calibration sample.
    pub async fn score(&self, r: &ScoreRequest, progress: &mut dyn FnMut(usize, usize)) -> Result<Scores> {
        let off = self.heads(&r.off)?;
        let sample = self.calibration_sample(r.calibration)?;
        let mut s = self.engine.score(&sample, &off, r.options.unwrap_or_default(), progress).await?;
        s.seed = Some(r.calibration.seed);
        Ok(s)
    }

    /// The heads a pruning setting removes (sorted) and the scores of its last round.
    /// Errors: no calibration set, n = 0, a ratio or step outside 0–1.
    pub async fn plan(&self, r: &PlanRequest, progress: &mut dyn FnMut(usize, usize)) -> Result<Plan> {
        check_share("ratio", r.options.ratio)?;
        if let Some(step) = r.options.iterative_step {
            check_share("iterative step", step)?;
        }
        let sample = self.calibration_sample(r.calibration)?;
        let (mut pruned, mut scores) = self.engine.plan_pruning(&sample, &r.options, progress).await?;
        pruned.sort();
        scores.seed = Some(r.calibration.seed);
        Ok(Plan { pruned, scores })
    }

    /// One pass over the evaluation set with each removal; `on_batch` sees the batches stream.
    async fn pass(&self, removals: &[Removal], on_batch: &mut dyn FnMut(Streamed)) -> Result<(Rc<EvalSet>, Pass, Vec<Option<Rc<Bert>>>)> {
        let set = self.evaluation()?;
        let models: Vec<Option<Rc<Bert>>> = removals.iter().map(|r| (r.structural && !r.heads.is_empty()).then(|| self.sliced(&r.heads))).collect();
        let variants: Vec<Pruned> = removals
            .iter()
            .zip(&models)
            .map(|(r, m)| match m {
                Some(m) => Pruned::Structural(m, &r.heads),
                None => Pruned::Mask(&r.heads),
            })
            .collect();
        let pass = self.engine.stream(&set, &variants, on_batch).await?;
        Ok((set, pass, models))
    }

    fn evaluation_of(&self, set: &EvalSet, removal: &Removal, pred: &[f32], full: &[f32], model: Option<&Bert>) -> Evaluation {
        let e = &self.engine;
        let parameters_full = e.num_params(&e.model);
        let regression = set.problem_type == ProblemType::Regression;
        // Each metric of `p` against the gold labels, where the task has it.
        let of = |metric: fn(&[f32], &[f32]) -> f64, p: &[f32], applies: bool| applies.then(|| metric(p, &set.labels));
        Evaluation {
            heads_pruned: removal.heads.len(),
            structural: removal.structural,
            sentences: set.len(),
            metric: set.problem_type.metric(),
            accuracy: of(evaluate::accuracy, pred, !regression),
            full_accuracy: of(evaluate::accuracy, full, !regression),
            pearson: of(evaluate::pearson, pred, regression),
            full_pearson: of(evaluate::pearson, full, regression),
            spearman: of(evaluate::spearman, pred, regression),
            full_spearman: of(evaluate::spearman, full, regression),
            agreement: set.agreement(pred, full),
            agreement_tolerance: set.agreement_tolerance(),
            parameters: model.map_or(parameters_full, |m| e.num_params(m)),
            parameters_full,
        }
    }

    /// The task's metric and agreement on the evaluation set with `removal` applied, streaming
    /// running counts (for a regression head, running Pearson's r) after every batch, over a
    /// random sample of the set at any point.
    /// Errors: no evaluation set, a head the model does not have, cancelled.
    pub async fn evaluate(&self, removal: &Removal, progress: &mut dyn FnMut(&EvalProgress)) -> Result<Evaluation> {
        let removal = &self.removal(removal)?;
        let set = self.evaluation()?;
        let mut counts = EvalProgress { total: set.len(), ..EvalProgress::default() };
        let (regression, tolerance) = (set.problem_type == ProblemType::Regression, set.agreement_tolerance());
        let (mut pruned_r, mut full_r) = (evaluate::RunningPearson::default(), evaluate::RunningPearson::default());
        let (set, pass, models) = self
            .pass(std::slice::from_ref(removal), &mut |b| {
                for (r, &i) in b.rows.iter().enumerate() {
                    let (p, f, y) = (b.pruned[0][r], b.full[r], set.labels[i]);
                    counts.done += 1;
                    counts.correct += usize::from(!regression && p == y);
                    counts.full_correct += usize::from(!regression && f == y);
                    counts.agree += usize::from(evaluate::agrees(p, f, tolerance));
                    if regression {
                        pruned_r.push(p, y);
                        full_r.push(f, y);
                    }
                }
                if regression {
                    (counts.pearson, counts.full_pearson) = (Some(pruned_r.r()), Some(full_r.r()));
                }
                progress(&counts);
            })
            .await?;
        Ok(self.evaluation_of(&set, removal, &pass.pruned[0], &pass.full, models[0].as_deref()))
    }

    /// Several removals in one pass over the evaluation set (each batch's unpruned layer inputs
    /// serve them all), with their predictions per sentence.
    pub async fn evaluate_all(&self, removals: &[Removal], progress: &mut dyn FnMut(usize, usize)) -> Result<Vec<(Evaluation, Vec<f32>)>> {
        let removals = &removals.iter().map(|r| self.removal(r)).collect::<Result<Vec<_>>>()?;
        let total = self.evaluation()?.len();
        let mut done = 0;
        let (set, pass, models) = self
            .pass(removals, &mut |b| {
                done += b.rows.len();
                progress(done, total);
            })
            .await?;
        Ok(removals
            .iter()
            .zip(pass.pruned)
            .zip(&models)
            .map(|((r, pred), m)| (self.evaluation_of(&set, r, &pred, &pass.full, m.as_deref()), pred))
            .collect())
    }

    /// Everything about one sentence from one forward and one backward pass: tokens, every
    /// head's attention, its entropy and confidence, its importance |∂L/∂ξ| with the model's
    /// own prediction as the label (a regression head: |∂ŷ/∂ξ|), and the full and pruned
    /// predictions. The pruned prediction
    /// comes from a second row of the same batch whose head mask removes `heads`.
    /// Errors: no classifier, a head the model does not have, an untokenizable text.
    pub async fn inspect(&self, text: &str, text_pair: Option<&str>, heads: &[Head]) -> Result<Inspection> {
        let e = &self.engine;
        let classifier = e.classifier()?;
        let heads = &self.heads(heads)?;
        let (layers, h, labels) = (e.config().num_hidden_layers, e.config().num_attention_heads, classifier.labels.len());
        let enc = e.tokenize_pair(text, text_pair)?;
        let rows: usize = if heads.is_empty() { 1 } else { 2 };
        let batch = crate::batch::Batch::from_encoded(&vec![&enc; rows], e.config().pad_token_id);
        let t = batch.t;

        let masks: Vec<Tensor<3>> = [&[][..], heads].iter().take(rows).map(|off| e.head_mask(off)).collect();
        let head_mask = Tensor::cat(masks, 0).autodiff().require_grad(); // [rows, L, H]
        let (out, mask) = e.forward(&batch, Some(head_mask.clone()), true);
        let logits = classifier.logits(&e.model, out.last_hidden_state, mask, e.pooling); // [rows, C]
        let values = read(logits.clone().detach()).await?;
        let full = Prediction::from_logits(&values[..labels]);
        let pruned = if rows == 2 { Prediction::from_logits(&values[labels..]) } else { full.clone() };

        // Row 0 alone: ∂L/∂ξ of its mask, L the cross-entropy against its own prediction; for a
        // regression head (whose squared error against itself is flat) the score ŷ itself.
        let row0 = logits.slice([0..1, 0..labels]); // [1, C]
        let loss = match full.label {
            Some(label) => crate::scores::loss_sum(row0, &[label as f32], classifier.problem_type, &e.device),
            None => row0.sum(),
        };
        let attentions = Tensor::cat(out.attentions, 1).detach(); // [rows, L*H, T, T]
        let [_, lh, _, _] = attentions.dims();
        let attentions = read(attentions.slice([0..1, 0..lh, 0..t, 0..t])).await?; // [L*H*T*T]
        let grads = loss.backward();
        let g = read(head_mask.grad(&grads).expect("the head mask requires grad")).await?; // [rows*L*H]

        let stats = analysis::example_head_stats(&attentions, layers * h, t, t);
        let grid = |f: &dyn Fn(usize) -> f64| -> Grid { (0..layers).map(|l| (0..h).map(|k| f(l * h + k)).collect()).collect() };
        Ok(Inspection {
            text: text.to_string(),
            text_pair: text_pair.map(str::to_string),
            maps: AttentionMaps {
                tokens: enc.tokens,
                ids: enc.ids,
                token_type_ids: enc.type_ids,
                segments: enc.segments,
                truncated: enc.truncated,
                layers,
                heads: h,
                len: t,
                attentions: F32s(attentions),
            },
            entropy: grid(&|i| stats[i].1),
            entropy_nats: grid(&|i| stats[i].0),
            confidence: grid(&|i| stats[i].2),
            importance: grid(&|i| (g[i] as f64).abs()),
            full,
            pruned,
            heads_pruned: heads.len(),
        })
    }

    /// Each input classified, with its tokens (`hies classify`; the page's prediction as you
    /// type).
    /// `text_pairs`, when given, has one second sentence per text. Batched by length, so any
    /// number of inputs fits in memory; cancellable between batches.
    pub async fn classify(&self, texts: &[String], text_pairs: Option<&[String]>, removal: &Removal) -> Result<Vec<Classified>> {
        let classifier = self.engine.classifier()?;
        let removal = &self.removal(removal)?;
        if let Some(pairs) = text_pairs
            && pairs.len() != texts.len()
        {
            return Err(Error::input(format!("{} texts but {} text_pairs", texts.len(), pairs.len())));
        }
        let encoded =
            texts.iter().enumerate().map(|(i, t)| self.engine.tokenize_pair(t, text_pairs.map(|p| p[i].as_str()))).collect::<Result<Vec<_>>>()?;
        let logits = if removal.structural && !removal.heads.is_empty() {
            self.engine.logits_of(&self.sliced(&removal.heads), &encoded, &[]).await?
        } else {
            self.engine.logits_of(self.engine.runner(), &encoded, &removal.heads).await?
        };
        let k = classifier.outputs();
        Ok(encoded
            .into_iter()
            .zip(logits.chunks(k))
            .map(|(e, l)| {
                let p = Prediction::from_logits(l);
                Classified {
                    label_name: p.label.map(|k| classifier.labels[k].clone()),
                    ids: e.ids,
                    token_type_ids: e.type_ids,
                    truncated: e.truncated,
                    logits: p.logits,
                    probs: p.probs,
                    label: p.label,
                }
            })
            .collect())
    }

    /// Median time per sentence at batch 1 of the full, the masked and (with
    /// `removal.structural`) the sliced model, interleaved sentence by sentence.
    /// Errors: no evaluation set or an empty one, `rounds` = 0, a head the model does not have.
    pub async fn latency(&self, r: &LatencyRequest, progress: &mut dyn FnMut(usize, usize)) -> Result<Latency> {
        let removal = self.removal(&r.removal)?;
        let set = self.evaluation()?;
        if r.rounds == 0 || set.is_empty() {
            return Err(Error::input("latency needs at least 1 timed round and 1 sentence"));
        }
        let texts: Vec<(&str, Option<&str>)> =
            set.examples().iter().take(r.sentences.max(1)).map(|e| (e.text.as_str(), e.text_pair.as_deref())).collect();
        let heads = &removal.heads;
        let sliced = (removal.structural && !heads.is_empty()).then(|| self.sliced(heads));
        let runner = self.engine.runner();
        let mut variants: Vec<(&Bert, &[Head])> = vec![(runner, &[]), (runner, heads)];
        if let Some(m) = &sliced {
            variants.push((m, &[]));
        }
        let mut times = vec![Vec::new(); variants.len()];
        let total = (r.rounds + 1) * variants.len() * texts.len();
        let mut done = 0;
        for round in 0..=r.rounds {
            for text in &texts {
                for (v, (model, off)) in variants.iter().enumerate() {
                    let start = crate::device::now_ms();
                    self.engine.logits(model, std::slice::from_ref(text), off).await?;
                    if round > 0 {
                        times[v].push(crate::device::now_ms() - start);
                    }
                    done += 1;
                    progress(done, total);
                    self.engine.checkpoint().await?;
                }
            }
        }
        Ok(Latency {
            full_ms: median(&times[0]),
            masked_ms: median(&times[1]),
            structural_ms: sliced.map(|_| median(&times[2])),
            runs: times[0].len(),
            sentences: texts.len(),
        })
    }

    /// Accuracy and agreement curves over pruning ratios, on the first `evaluation_size`
    /// sentences of the evaluation set (all of them when none).
    /// Errors: no data sets, no criterion, ratio or seed, n = 0 or an evaluation size of 0.
    pub async fn curves(&self, options: &CurveOptions, evaluation_size: Option<usize>, progress: &mut dyn FnMut(CurveProgress)) -> Result<Curves> {
        let set = self.evaluation()?;
        let pool = self.calibration_pool()?;
        if options.criteria.is_empty() || options.seeds.is_empty() || options.ratios.is_empty() || options.n == 0 || evaluation_size == Some(0) {
            return Err(Error::input("curves need at least one criterion, ratio and seed, n ≥ 1 and a non-empty evaluation set"));
        }
        for &ratio in &options.ratios {
            check_share("ratio", ratio)?;
        }
        if let Some(step) = options.iterative_step {
            check_share("iterative step", step)?;
        }
        match evaluation_size {
            Some(n) if n < set.len() => {
                let subset = self.engine.prepare(&set.examples()[..n], self.budget.clone())?;
                self.engine.curves(&pool, &subset, options, progress).await
            }
            _ => self.engine.curves(&pool, &set, options, progress).await,
        }
    }
}

impl Session {
    /// The paper's claims checked on the evaluation set (its first `evaluation_size` sentences
    /// when given), as [`Engine::paper_check`].
    pub async fn paper_check(
        &self,
        options: &PaperCheckOptions,
        evaluation_size: Option<usize>,
        progress: &mut dyn FnMut(CurveProgress),
    ) -> Result<PaperCheck> {
        let set = self.evaluation()?;
        let pool = self.calibration_pool()?;
        match evaluation_size {
            Some(0) => Err(Error::input("an evaluation size of 0 leaves nothing to check on")),
            Some(n) if n < set.len() => {
                let subset = self.engine.prepare(&set.examples()[..n], self.budget.clone())?;
                self.engine.paper_check(&pool, &subset, options, progress).await
            }
            _ => self.engine.paper_check(&pool, &set, options, progress).await,
        }
    }

    /// HIES's α chosen on the validation split (its first `validation_size` sentences when
    /// given), as [`Engine::alpha_sweep`]. Errors: no calibration pool or validation split.
    pub async fn alpha_sweep(
        &self,
        options: &SweepOptions,
        validation_size: Option<usize>,
        progress: &mut dyn FnMut(CurveProgress),
    ) -> Result<Sweep> {
        let set = self
            .validation
            .borrow()
            .clone()
            .ok_or_else(|| Error::input("no validation set: set one first (the α sweep never uses the evaluation set)"))?;
        let pool = self.calibration_pool()?;
        match validation_size {
            Some(0) => Err(Error::input("a validation size of 0 leaves nothing to choose α on")),
            Some(n) if n < set.len() => {
                let subset = self.engine.prepare(&set.examples()[..n], self.budget.clone())?;
                self.engine.alpha_sweep(&pool, &subset, options, progress).await
            }
            _ => self.engine.alpha_sweep(&pool, &set, options, progress).await,
        }
    }
}

/// A share of all heads: a number from 0 to 1 (an iterative step must also be above 0).
fn check_share(what: &str, x: f64) -> Result<()> {
    let ok = (0.0..=1.0).contains(&x) && !(what == "iterative step" && x == 0.0);
    if ok { Ok(()) } else { Err(Error::input(format!("{what} {x} is not a share of the heads: use a number from 0 to 1"))) }
}

/// The median of a non-empty list (the upper one for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
