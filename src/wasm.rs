//! The wasm boundary: one exported struct built from the files' bytes that JS fetched, a few
//! coarse async methods, plain objects, JSON and typed arrays out. Rust never fetches.
//!
//! Long jobs take a JS callback `progress(done, total)` called after every batch.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, JSON, Object, Promise, Reflect, Uint32Array};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::classifier::HeadMeta;
use crate::data::{self, Example};
use crate::evaluate::{self, EvalSet, Pruned, Streamed};
use crate::prune::PruneOptions;
use crate::scores::ScoreOptions;
use crate::model::Bert;
use crate::prune::CurveOptions;
use crate::{Backend, Engine, Error, ModelFiles, analysis, device};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// The dev set, prepared once (it caches the unpruned model's predictions as they are computed).
struct Dev {
    set: EvalSet,
}

/// The structurally pruned model for the last head set asked for (building it copies weights).
type SmallModel = Rc<RefCell<Option<(Vec<(usize, usize)>, Rc<Bert>)>>>;

#[wasm_bindgen]
pub struct HiesEngine {
    inner: Rc<Engine>,
    dev: Rc<RefCell<Option<Dev>>>,
    small: SmallModel,
    /// Why "auto" ended on the CPU, if it did.
    fallback: Option<String>,
}

fn js_err(e: Error) -> JsValue {
    JsError::new(&e.to_string()).into()
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Reflect::set on a plain fresh object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// A Rust value as a plain JS object (through JSON: scores are small).
fn to_js(v: &impl serde::Serialize) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(v).map_err(|e| js_err(Error::input(e.to_string())))?;
    JSON::parse(&text)
}

fn from_json<T: for<'de> Deserialize<'de>>(what: &str, text: &str) -> Result<T, JsValue> {
    serde_json::from_str(text).map_err(|e| js_err(Error::input(format!("{what}: {e}"))))
}

/// Calls a JS progress callback; when it returns `false` the job stops at its next checkpoint.
/// (The flag is set right before that checkpoint, so a short job run in between cannot take it.)
fn report(engine: &Engine, result: Result<JsValue, JsValue>) {
    if result.is_ok_and(|v| v == JsValue::FALSE) {
        engine.cancel();
    }
}

fn reporter(engine: Rc<Engine>, f: Option<Function>) -> impl FnMut(usize, usize) {
    move |done, total| {
        if let Some(f) = &f {
            report(&engine, f.call2(&JsValue::NULL, &(done as u32).into(), &(total as u32).into()));
        }
    }
}

fn heads_from_json(text: &str) -> Result<Vec<(usize, usize)>, JsValue> {
    let v: Vec<[usize; 2]> = from_json("head list [[layer, head], …]", text)?;
    Ok(v.into_iter().map(|[l, h]| (l, h)).collect())
}

/// What `score` and `plan` take besides the data: the calibration sample and the options.
#[derive(Deserialize)]
struct Calibration {
    n: usize,
    seed: u64,
}

#[derive(Deserialize)]
struct ScoreRequest {
    #[serde(flatten)]
    calibration: Calibration,
    #[serde(default)]
    off: Vec<[usize; 2]>,
    #[serde(default)]
    options: Option<ScoreOptions>,
}

#[derive(Deserialize)]
struct PlanRequest {
    #[serde(flatten)]
    calibration: Calibration,
    options: PruneOptions,
}

impl HiesEngine {
    fn examples(&self, tsv: &str) -> Result<Vec<Example>, JsValue> {
        let labels = &self.inner.classifier().map_err(js_err)?.labels;
        data::parse_tsv(tsv, labels).map_err(js_err)
    }

    fn job(&self) -> Rc<Engine> {
        self.inner.clone()
    }
}

/// The structurally pruned model without `off`, reusing the last one built for the same heads.
fn small_model(engine: &Engine, cache: &SmallModel, off: &[(usize, usize)]) -> Rc<Bert> {
    let mut key = off.to_vec();
    key.sort();
    let mut c = cache.borrow_mut();
    if let Some((k, m)) = c.as_ref() {
        if *k == key {
            return m.clone();
        }
    }
    let m = Rc::new(engine.model.without_heads(&key));
    *c = Some((key, m.clone()));
    m
}

#[wasm_bindgen]
impl HiesEngine {
    /// Builds the engine. `backend`: "auto" (WebGPU if an adapter exists, else the CPU), "gpu"
    /// or "cpu". `modules` / `pooling`: the sentence-transformers files, when the model has them.
    pub async fn create(
        config: Vec<u8>,
        weights: Vec<u8>,
        tokenizer: Vec<u8>,
        modules: Option<Vec<u8>>,
        pooling: Option<Vec<u8>>,
        backend: String,
    ) -> Result<HiesEngine, JsValue> {
        let (dev, backend, fallback) = match backend.as_str() {
            "auto" => match device::device(Backend::Gpu).await {
                Ok(d) => (d, Backend::Gpu, None),
                Err(e) => (device::device(Backend::Cpu).await.map_err(js_err)?, Backend::Cpu, Some(e.message)),
            },
            name => {
                let b = Backend::parse(name).map_err(js_err)?;
                (device::device(b).await.map_err(js_err)?, b, None)
            }
        };
        let files = ModelFiles {
            config: &config,
            weights: &weights,
            tokenizer: &tokenizer,
            modules: modules.as_deref(),
            pooling: pooling.as_deref(),
        };
        let engine = Engine::load(&files, dev, backend).map_err(js_err)?;
        Ok(HiesEngine { inner: Rc::new(engine), dev: Rc::new(RefCell::new(None)), small: Rc::new(RefCell::new(None)), fallback })
    }

    /// { backend, fallback, layers, heads, hidden, maxLen, pooling, normalize, classifier, labels, params }
    pub fn info(&self) -> JsValue {
        let c = self.inner.config();
        let o = Object::new();
        set(&o, "backend", if self.inner.backend == Backend::Gpu { "gpu" } else { "cpu" });
        set(&o, "fallback", self.fallback.clone().map(JsValue::from).unwrap_or(JsValue::NULL));
        set(&o, "layers", c.num_hidden_layers as u32);
        set(&o, "heads", c.num_attention_heads as u32);
        set(&o, "hidden", c.hidden_size as u32);
        set(&o, "maxLen", c.max_position_embeddings as u32);
        set(&o, "pooling", format!("{:?}", self.inner.pooling.mode).to_lowercase());
        set(&o, "normalize", self.inner.pooling.normalize);
        set(&o, "classifier", self.inner.classifier.is_some());
        let labels: Array = self.inner.classifier.iter().flat_map(|c| c.labels.iter()).map(|l| JsValue::from_str(l)).collect();
        set(&o, "labels", labels);
        set(&o, "params", self.inner.num_params(&self.inner.model) as f64);
        o.into()
    }

    /// Puts a classifier head (safetensors bytes + its JSON sidecar) on the encoder. Not while
    /// a job runs.
    #[wasm_bindgen(js_name = setHead)]
    pub fn set_head(&mut self, head: Vec<u8>, sidecar: String) -> Result<(), JsValue> {
        let meta: HeadMeta = from_json("head sidecar", &sidecar)?;
        let engine = Rc::get_mut(&mut self.inner).ok_or_else(|| js_err(Error::input("a job is running; set the head before it or after it")))?;
        engine.set_head(&head, &meta).map_err(js_err)?;
        *self.dev.borrow_mut() = None;
        Ok(())
    }

    /// Resolves to { dim, embeddings: Float32Array [N × dim], ids: Uint32Array[], truncated: bool[] }.
    pub fn embed(&self, texts: Vec<String>) -> Promise {
        let engine = self.job();
        future_to_promise(async move {
            let out = engine.embed(&texts).await.map_err(js_err)?;
            let dim = engine.config().hidden_size;
            let flat: Vec<f32> = out.iter().flat_map(|e| e.embedding.iter().copied()).collect();
            let ids = Array::new();
            let truncated = Array::new();
            for e in &out {
                ids.push(&Uint32Array::from(e.ids.as_slice()));
                truncated.push(&JsValue::from_bool(e.truncated));
            }
            let o = Object::new();
            set(&o, "dim", dim as u32);
            set(&o, "embeddings", Float32Array::from(flat.as_slice()));
            set(&o, "ids", ids);
            set(&o, "truncated", truncated);
            Ok(o.into())
        })
    }

    /// Resolves to { tokens, ids, truncated, layers, heads, len, probs: Float32Array [L, H, T, T],
    /// entropy: Float32Array [L, H] (÷ ln T), confidence: Float32Array [L, H] } for one sentence.
    pub fn attention(&self, text: String) -> Promise {
        let engine = self.job();
        future_to_promise(async move {
            let a = engine.attention(&text).await.map_err(js_err)?;
            let tokens: Array = a.tokens.iter().map(|t| JsValue::from_str(t)).collect();
            let o = Object::new();
            set(&o, "tokens", tokens);
            set(&o, "ids", Uint32Array::from(a.ids.as_slice()));
            set(&o, "truncated", a.truncated);
            set(&o, "layers", a.layers as u32);
            set(&o, "heads", a.heads as u32);
            set(&o, "len", a.len as u32);
            let stats = analysis::example_head_stats(&a.probs, a.layers * a.heads, a.len, a.len);
            let entropy: Vec<f32> = stats.iter().map(|s| s.1 as f32).collect();
            let confidence: Vec<f32> = stats.iter().map(|s| s.2 as f32).collect();
            set(&o, "probs", Float32Array::from(a.probs.as_slice()));
            set(&o, "entropy", Float32Array::from(entropy.as_slice()));
            set(&o, "confidence", Float32Array::from(confidence.as_slice()));
            Ok(o.into())
        })
    }

    /// Head scores on a calibration sample of `tsv` (label<TAB>text). `request` is JSON:
    /// { n, seed, off?: [[l, h]], options?: { alpha, his_norm: {by_tokens, layer_l2,
    /// global_min_max}, per_layer_min_max } }. Resolves to the scores as [L][H] arrays.
    pub fn score(&self, tsv: String, request: String, progress: Option<Function>) -> Promise {
        let engine = self.job();
        let parsed = self.examples(&tsv).and_then(|ex| Ok((ex, from_json::<ScoreRequest>("score request", &request)?)));
        future_to_promise(async move {
            let (examples, r) = parsed?;
            let calibration = data::sample(&examples, r.calibration.n, r.calibration.seed);
            let off: Vec<(usize, usize)> = r.off.iter().map(|&[l, h]| (l, h)).collect();
            let s = engine
                .score(&calibration, &off, r.options.unwrap_or_default(), &mut reporter(engine.clone(), progress))
                .await
                .map_err(js_err)?;
            let v = to_js(&s)?;
            let _ = Reflect::set(&v, &"seed".into(), &(r.calibration.seed as f64).into());
            Ok(v)
        })
    }

    /// The heads a pruning setting removes. `request` is JSON: { n, seed, options: { criterion,
    /// ratio, per_layer, iterative_step, scores, random_seed } }. Resolves to { pruned: [[l, h]], scores }.
    pub fn plan(&self, tsv: String, request: String, progress: Option<Function>) -> Promise {
        let engine = self.job();
        let parsed = self.examples(&tsv).and_then(|ex| Ok((ex, from_json::<PlanRequest>("plan request", &request)?)));
        future_to_promise(async move {
            let (examples, r) = parsed?;
            let calibration = data::sample(&examples, r.calibration.n, r.calibration.seed);
            let (mut pruned, scores) = engine.plan_pruning(&calibration, &r.options, &mut reporter(engine.clone(), progress)).await.map_err(js_err)?;
            pruned.sort();
            to_js(&serde_json::json!({ "pruned": pruned.iter().map(|&(l, h)| [l, h]).collect::<Vec<_>>(), "scores": scores }))
        })
    }

    /// Sets the evaluation set (label<TAB>text), tokenized and batched once.
    #[wasm_bindgen(js_name = setDev)]
    pub fn set_dev(&self, tsv: String) -> Result<u32, JsValue> {
        let examples = self.examples(&tsv)?;
        let set = self.inner.prepare(&examples).map_err(js_err)?;
        let n = set.len() as u32;
        *self.dev.try_borrow_mut().map_err(|_| js_err(Error::input("a job is running")))? = Some(Dev { set });
        Ok(n)
    }

    /// Evaluates on the dev set with the heads in `heads` (JSON [[l, h]]) removed: by a mask,
    /// or with the structurally pruned model. Streams: after every batch `progress({ done, total,
    /// correct, agree, fullCorrect })` (counts so far, over a random sample of the set). Resolves
    /// to { accuracy, agreement, fullAccuracy, predictions: Uint32Array, params, paramsFull,
    /// headsPruned }.
    pub fn evaluate(&self, heads: String, structural: bool, progress: Option<Function>) -> Promise {
        let engine = self.job();
        let dev = self.dev.clone();
        let small = self.small.clone();
        let off = heads_from_json(&heads);
        future_to_promise(async move {
            let off = off?;
            // Taken out for the job (one job at a time), put back after.
            let mut d = dev.borrow_mut().take().ok_or_else(|| js_err(Error::input("no dev set: call setDev first")))?;
            let model = structural.then(|| small_model(&engine, &small, &off));
            let pruned = match &model {
                Some(m) => Pruned::Structural(m, &off),
                None => Pruned::Mask(&off),
            };
            let (mut done, mut correct, mut agree, mut full_correct) = (0u32, 0u32, 0u32, 0u32);
            let total = d.set.len() as u32;
            let labels = d.set.labels.clone();
            let mut on_batch = |s: Streamed| {
                for (r, &i) in s.examples.iter().enumerate() {
                    done += 1;
                    correct += (s.pred[r] == labels[i]) as u32;
                    agree += (s.pred[r] == s.full[r]) as u32;
                    full_correct += (s.full[r] == labels[i]) as u32;
                }
                if let Some(f) = &progress {
                    let o = Object::new();
                    set(&o, "done", done);
                    set(&o, "total", total);
                    set(&o, "correct", correct);
                    set(&o, "agree", agree);
                    set(&o, "fullCorrect", full_correct);
                    report(&engine, f.call1(&JsValue::NULL, &o));
                }
            };
            let result = engine.stream(&mut d.set, pruned, &mut on_batch).await;
            *dev.borrow_mut() = Some(d);
            let (pred, full) = result.map_err(js_err)?;
            let o = Object::new();
            set(&o, "accuracy", evaluate::accuracy(&pred, &labels));
            set(&o, "agreement", evaluate::agreement(&pred, &full));
            set(&o, "fullAccuracy", evaluate::accuracy(&full, &labels));
            let as_u32: Vec<u32> = pred.iter().map(|&p| p as u32).collect();
            set(&o, "predictions", Uint32Array::from(as_u32.as_slice()));
            let full_params = engine.num_params(&engine.model);
            set(&o, "paramsFull", full_params as f64);
            set(&o, "params", model.map(|m| engine.num_params(&m)).unwrap_or(full_params) as f64);
            set(&o, "headsPruned", off.len() as u32);
            Ok(o.into())
        })
    }

    /// Class probabilities [N × labels] for `texts` in one batch, with the heads in `heads`
    /// removed by a mask or structurally. The JS side times this call for latency figures.
    pub fn classify(&self, texts: Vec<String>, heads: String, structural: bool) -> Promise {
        let engine = self.job();
        let small = self.small.clone();
        let off = heads_from_json(&heads);
        future_to_promise(async move {
            let off = off?;
            let logits = if structural && !off.is_empty() {
                let m = small_model(&engine, &small, &off);
                engine.logits(&m, &texts, &[]).await
            } else {
                engine.logits(&engine.model, &texts, &off).await
            }
            .map_err(js_err)?;
            let labels = engine.classifier().map_err(js_err)?.labels.len();
            let probs: Vec<f32> = logits.chunks(labels).flat_map(softmax).collect();
            Ok(Float32Array::from(probs.as_slice()).into())
        })
    }

    /// Accuracy and agreement vs pruning ratio per criterion, mean ± std over calibration seeds.
    /// `train` / `dev`: label<TAB>text; `request`: JSON { criteria, ratios, seeds, n, per_layer,
    /// iterative_step, scores }. `progress(stage, done, total)`.
    pub fn curves(&self, train: String, dev: String, request: String, progress: Option<Function>) -> Promise {
        let engine = self.job();
        let parsed = self.examples(&train).and_then(|t| Ok((t, self.examples(&dev)?, from_json::<CurveOptions>("curve request", &request)?)));
        future_to_promise(async move {
            let (train, dev, options) = parsed?;
            let mut set = engine.prepare(&dev).map_err(js_err)?;
            let curves = engine
                .curves(&train, &mut set, &options, &mut |p| {
                    if let Some(f) = &progress {
                        report(&engine, f.call3(&JsValue::NULL, &p.stage.into(), &(p.done as u32).into(), &(p.total as u32).into()));
                    }
                })
                .await
                .map_err(js_err)?;
            to_js(&curves)
        })
    }

    /// Asks the running job to stop at its next batch; its promise rejects with "cancelled: …".
    /// (A progress callback returning `false` does the same for its own job.)
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}

fn softmax(row: &[f32]) -> Vec<f32> {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}
