//! The wasm boundary, shaped like candle's wasm BERT: one exported class over a [`Session`],
//! built from the checkpoint's bytes that JS fetched (Rust never fetches). Every value in and
//! out is typed: its TypeScript type is in the generated `hies.d.ts` (tsify), it converts
//! through serde-wasm-bindgen with the same snake_case names as the CLI's JSON, and large
//! tensors are typed arrays. Errors are JS `Error`s whose `kind` says which input is at fault.
//!
//! Long jobs take `progress`, called after every batch; returning `false` cancels the job, as
//! `cancel()` does.

use std::rc::Rc;
use std::sync::Arc;

use js_sys::Function;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use crate::classifier::ClassifierMeta;
use crate::curves::Curves;
use crate::engine::AdapterFiles;
use crate::model::Compute;
use crate::paper::PaperCheck;
use crate::report::{self, Classified, EmbeddingBatch, EvalProgress, Evaluation, F32s, Inspection, Latency, ModelInfo, Plan};
use crate::scores::Scores;
use crate::session::{
    CurvesRequest, InspectRequest, LatencyRequest, PaperCheckRequest, PlanRequest, PredictRequest, ScoreRequest, Session, SessionOptions,
    SweepRequest,
};
use crate::sweep::Sweep;
use crate::{BackendChoice, Engine, Error, ModelFiles, device};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** One value per attention head: `grid[layer][head]`. */
export type Grid = number[][];
/** An attention head: [layer, head], both from 0. */
export type Head = [number, number];
/** A long job's progress callback; return `false` to cancel the job. */
export type OnProgress<P> = (progress: P) => boolean | void;
/** Work done so far. */
export interface Count { done: number; total: number }
"#;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// A checkpoint folder's files as JS read them, and optionally a separate classifier.
#[derive(Deserialize, Tsify)]
pub struct CheckpointBytes {
    #[tsify(type = "Uint8Array")]
    pub config: ByteBuf,
    /// model.safetensors; or, for a sharded checkpoint, empty with `weights_index` and `shards`.
    #[tsify(type = "Uint8Array")]
    pub weights: ByteBuf,
    /// `model.safetensors.index.json` of a sharded checkpoint.
    #[serde(default)]
    #[tsify(optional, type = "Uint8Array")]
    pub weights_index: Option<ByteBuf>,
    /// The shards the index names, by file name.
    #[serde(default)]
    #[tsify(optional)]
    pub shards: Vec<NamedBytes>,
    #[tsify(type = "Uint8Array")]
    pub tokenizer: ByteBuf,
    /// sentence-transformers `modules.json` and `1_Pooling/config.json`, when the model has them.
    #[serde(default)]
    #[tsify(optional, type = "Uint8Array")]
    pub modules: Option<ByteBuf>,
    #[serde(default)]
    #[tsify(optional, type = "Uint8Array")]
    pub pooling: Option<ByteBuf>,
    /// sentence-transformers `sentence_bert_config.json` (its `max_seq_length`), when present.
    #[serde(default)]
    #[tsify(optional, type = "Uint8Array")]
    pub sentence_bert_config: Option<ByteBuf>,
    /// Put on the encoder unless the checkpoint has its own classifier.
    #[serde(default)]
    #[tsify(optional)]
    pub classifier: Option<ClassifierBytes>,
    /// A PEFT LoRA adapter merged into the checkpoint at load (the fine-tuned default model).
    #[serde(default)]
    #[tsify(optional)]
    pub adapter: Option<AdapterBytes>,
}

/// A PEFT adapter folder: adapter_config.json, adapter_model.safetensors and training.json.
#[derive(Deserialize, Tsify)]
pub struct AdapterBytes {
    #[tsify(type = "Uint8Array")]
    pub config: ByteBuf,
    #[tsify(type = "Uint8Array")]
    pub weights: ByteBuf,
    #[tsify(type = "Uint8Array")]
    pub training: ByteBuf,
}

/// One file of a folder, by name (a shard of a sharded checkpoint).
#[derive(Deserialize, Tsify)]
pub struct NamedBytes {
    pub name: String,
    #[tsify(type = "Uint8Array")]
    pub bytes: ByteBuf,
}

/// A classifier file (`classifier.weight` / `classifier.bias`) and its sidecar.
#[derive(Deserialize, Tsify)]
pub struct ClassifierBytes {
    #[tsify(type = "Uint8Array")]
    pub weights: ByteBuf,
    pub meta: ClassifierMeta,
}

/// `label<TAB>text` files: the calibration pool and the evaluation set, and the names of the
/// files they came from (for errors).
#[derive(Deserialize, Tsify)]
pub struct DataText {
    #[serde(default)]
    #[tsify(optional)]
    pub calibration: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub evaluation: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub calibration_name: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub evaluation_name: Option<String>,
    /// The validation split the α sweep runs on.
    #[serde(default)]
    #[tsify(optional)]
    pub validation: Option<String>,
    #[serde(default)]
    #[tsify(optional)]
    pub validation_name: Option<String>,
    /// These are the built-in data: refused for a model labelled otherwise
    /// ([`crate::data::builtin_data_fits`]).
    #[serde(default)]
    #[tsify(optional)]
    pub builtin: bool,
}

/// A table to write as CSV (the schema of `hies score --csv` and `hies curve --csv`).
#[derive(Deserialize, Tsify)]
#[serde(rename_all = "snake_case")]
pub enum CsvTable {
    Scores(Scores),
    Curves(Curves),
}

/// What `export_checkpoint` needs: the model's own config.json and the heads to slice out.
#[derive(Deserialize, Tsify)]
pub struct ExportRequest {
    #[tsify(type = "Uint8Array")]
    pub config: ByteBuf,
    #[tsify(type = "Head[]")]
    pub heads: Vec<crate::analysis::Head>,
}

/// A Hugging Face checkpoint's two files, from `export_checkpoint`.
#[derive(Serialize, Tsify)]
pub struct ExportedCheckpoint {
    pub config: String,
    #[tsify(type = "Uint8Array")]
    pub weights: ByteBuf,
    pub heads_pruned: usize,
    pub parameters: usize,
}

/// A JS `Error` with `kind` set to the error's kind ("weights", "data", "cancelled", …).
fn js_error(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &e.kind.name().into());
    error.into()
}

/// A value from JS that does not have the declared shape.
fn bad_value(e: tsify::Error) -> JsValue {
    js_error(Error::input(e.to_string()))
}

fn out<T: Tsify + Serialize>(v: &T) -> Result<Ts<T>, JsValue> {
    Ts::from_rust(v).map_err(|e| js_error(Error::input(format!("the result cannot be handed to JS ({e})"))))
}

/// Calls a progress callback; when it returns `false` the job stops at its next checkpoint.
/// (It is called right before that checkpoint, so a short job run in between cannot take the flag.)
fn notify<P: Serialize>(session: &Session, f: Option<&Function>, p: &P) {
    let (Some(f), Ok(v)) = (f, serde_wasm_bindgen::to_value(p)) else { return };
    if f.call1(&JsValue::NULL, &v).is_ok_and(|r| r == JsValue::FALSE) {
        session.cancel();
    }
}

/// `Count` in the .d.ts.
#[derive(Serialize)]
struct Count {
    done: usize,
    total: usize,
}

fn count(done: usize, total: usize) -> Count {
    Count { done, total }
}

/// Sizes of the data sets now set.
#[derive(Serialize, Tsify)]
pub struct DataSizes {
    pub calibration_size: usize,
    pub evaluation_size: usize,
    pub validation_size: usize,
}

/// A reader's session over one model: the page's worker holds one. Build it with `create`;
/// `free()` it when replaced.
#[wasm_bindgen]
pub struct HiesSession {
    inner: Rc<Session>,
}

#[wasm_bindgen]
impl HiesSession {
    /// Loads a checkpoint on `backend` ("auto": WebGPU when the browser has an adapter, else
    /// the CPU, with the reason in `info().fallback`). `cache_mb`: memory for the layer inputs
    /// kept between evaluations (default 256).
    pub async fn create(files: Ts<CheckpointBytes>, backend: Ts<BackendChoice>, cache_mb: Option<u32>) -> Result<HiesSession, JsValue> {
        let mut files = files.to_rust().map_err(bad_value)?;
        let (device, backend, fallback) = device::choose(backend.to_rust().map_err(bad_value)?).await.map_err(js_error)?;
        let merged = match files.weights_index.take() {
            None => None,
            Some(index) => {
                // Moved, not copied, and dropped once joined: a sharded checkpoint is held twice
                // at most, while it is joined.
                let mut given = std::mem::take(&mut files.shards);
                let index = crate::weights::ShardIndex::parse(&index).map_err(js_error)?;
                let shards = index
                    .files()
                    .into_iter()
                    .map(|name| match given.iter().position(|s| s.name == name) {
                        Some(i) => Ok((name, given.swap_remove(i).bytes.into_vec())),
                        None => Err(js_error(Error::weights(format!("{name} is missing: {} names it", crate::weights::SHARD_INDEX)))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                drop(given);
                Some(index.merge(&shards).map_err(js_error)?)
            }
        };
        let model = ModelFiles {
            config: &files.config,
            weights: merged.as_deref().unwrap_or(&files.weights),
            tokenizer: &files.tokenizer,
            modules: files.modules.as_deref().map(|b| b.as_slice()),
            pooling: files.pooling.as_deref().map(|b| b.as_slice()),
            sentence_bert_config: files.sentence_bert_config.as_deref().map(|b| b.as_slice()),
            adapter: files.adapter.as_ref().map(|a| AdapterFiles { config: &a.config, weights: &a.weights, training: &a.training }),
        };
        let mut engine = Engine::load(&model, device, backend).map_err(js_error)?;
        if let Some(c) = &files.classifier
            && engine.classifier.is_none()
        {
            engine.set_classifier(&c.weights, &c.meta).map_err(js_error)?;
        }
        let mut options = SessionOptions::default();
        if let Some(mb) = cache_mb {
            options.cache_bytes = (mb as usize).saturating_mul(1 << 20);
        }
        let session = Session::new(Arc::new(engine), options).with_fallback(fallback);
        Ok(HiesSession { inner: Rc::new(session) })
    }

    /// What is loaded: sizes, labels, parameters, the backend and the data set sizes.
    pub fn info(&self) -> Result<Ts<ModelInfo>, JsValue> {
        out(&self.inner.info())
    }

    /// Replaces the calibration pool and/or the evaluation set. Both are parsed against the
    /// classifier's labels before either is replaced, so a bad file changes nothing.
    pub fn data(&self, data: Ts<DataText>) -> Result<Ts<DataSizes>, JsValue> {
        let data = data.to_rust().map_err(bad_value)?;
        if data.builtin {
            crate::data::builtin_data_fits(self.inner.engine().classifier().map_err(js_error)?.gold()).map_err(js_error)?;
        }
        let parse = |text: &Option<String>, name: &Option<String>, what: &str| {
            text.as_deref().map(|t| self.inner.parse_data(t).map_err(|e| e.context(name.as_deref().unwrap_or(what)))).transpose()
        };
        let calibration = parse(&data.calibration, &data.calibration_name, "calibration set").map_err(js_error)?;
        let evaluation = parse(&data.evaluation, &data.evaluation_name, "evaluation set").map_err(js_error)?;
        let validation = parse(&data.validation, &data.validation_name, "validation set").map_err(js_error)?;
        if let Some(examples) = validation {
            self.inner.set_validation(&examples).map_err(js_error)?;
        }
        if let Some(examples) = evaluation {
            self.inner.set_evaluation(&examples).map_err(js_error)?;
        }
        if let Some(examples) = calibration {
            self.inner.set_calibration(examples);
        }
        let info = self.inner.info();
        out(&DataSizes { calibration_size: info.calibration_size, evaluation_size: info.evaluation_size, validation_size: info.validation_size })
    }

    /// Head scores on a calibration sample.
    pub async fn score(
        &self,
        request: Ts<ScoreRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<Count>")] progress: Option<Function>,
    ) -> Result<Ts<Scores>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        let scores = s.score(&r, &mut |done, total| notify(s, progress.as_ref(), &count(done, total))).await.map_err(js_error)?;
        out(&scores)
    }

    /// The heads a pruning setting removes (iterative pruning re-scores between steps).
    pub async fn plan(
        &self,
        request: Ts<PlanRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<Count>")] progress: Option<Function>,
    ) -> Result<Ts<Plan>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.plan(&r, &mut |done, total| notify(s, progress.as_ref(), &count(done, total))).await.map_err(js_error)?)
    }

    /// Accuracy and agreement on the evaluation set with heads removed, streaming running counts.
    pub async fn evaluate(
        &self,
        removal: Ts<crate::report::Removal>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<EvalProgress>")] progress: Option<Function>,
    ) -> Result<Ts<Evaluation>, JsValue> {
        let r = removal.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.evaluate(&r, &mut |p: &EvalProgress| notify(s, progress.as_ref(), p)).await.map_err(js_error)?)
    }

    /// One sentence: tokens, attention, per-head entropy, confidence and importance, and the
    /// full and pruned predictions, from one forward and one backward pass.
    pub async fn inspect(&self, request: Ts<InspectRequest>) -> Result<Ts<Inspection>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        out(&self.inner.inspect(&r.text, r.text_pair.as_deref(), &r.heads).await.map_err(js_error)?)
    }

    /// Each sentence (or pair) classified, with its tokens, heads removed; batched by length.
    pub async fn predict(&self, request: Ts<PredictRequest>) -> Result<Vec<Ts<Classified>>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let predictions = self.inner.classify(&r.texts, r.text_pairs.as_deref(), &r.removal).await.map_err(js_error)?;
        predictions.iter().map(out).collect()
    }

    /// Median time per sentence of the full, masked and sliced model, on this device.
    pub async fn latency(
        &self,
        request: Ts<LatencyRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<Count>")] progress: Option<Function>,
    ) -> Result<Ts<Latency>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.latency(&r, &mut |done, total| notify(s, progress.as_ref(), &count(done, total))).await.map_err(js_error)?)
    }

    /// Accuracy and agreement curves over pruning ratios for several criteria and seeds.
    pub async fn curves(
        &self,
        request: Ts<CurvesRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<CurveProgress>")] progress: Option<Function>,
    ) -> Result<Ts<Curves>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.curves(&r.options, r.evaluation_size, &mut |p| notify(s, progress.as_ref(), &p)).await.map_err(js_error)?)
    }

    /// HIES's α chosen on the validation split (weighted AUC over pruning ratios).
    pub async fn alpha_sweep(
        &self,
        request: Ts<SweepRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<CurveProgress>")] progress: Option<Function>,
    ) -> Result<Ts<Sweep>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.alpha_sweep(&r.options, r.validation_size, &mut |p| notify(s, progress.as_ref(), &p)).await.map_err(js_error)?)
    }

    /// The paper's claims checked on the evaluation set, each with a verdict.
    pub async fn paper_check(
        &self,
        request: Ts<PaperCheckRequest>,
        #[wasm_bindgen(unchecked_optional_param_type = "OnProgress<CurveProgress>")] progress: Option<Function>,
    ) -> Result<Ts<PaperCheck>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let s = &self.inner;
        out(&s.paper_check(&r.options, r.evaluation_size, &mut |p| notify(s, progress.as_ref(), &p)).await.map_err(js_error)?)
    }

    /// The model as a Hugging Face checkpoint (BertForSequenceClassification): `config.json`
    /// text (the given one, with labels, `pruned_heads` and `hies_zeroed_heads`) and
    /// `model.safetensors` bytes, the heads in `heads` sliced out ([`crate::export::export`]).
    pub async fn export_checkpoint(&self, request: Ts<ExportRequest>) -> Result<Ts<ExportedCheckpoint>, JsValue> {
        let r = request.to_rust().map_err(bad_value)?;
        let heads = self.inner.heads(&r.heads).map_err(js_error)?;
        let e = crate::export::export(self.inner.engine(), &r.config, &heads).await.map_err(js_error)?;
        out(&ExportedCheckpoint {
            config: e.config,
            weights: serde_bytes::ByteBuf::from(e.weights),
            heads_pruned: e.heads_pruned,
            parameters: e.parameters,
        })
    }

    /// Pooled sentence embeddings, as the checkpoint defines them.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Ts<EmbeddingBatch>, JsValue> {
        let rows = self.inner.embed(&texts).await.map_err(js_error)?;
        out(&EmbeddingBatch {
            dim: self.inner.engine().config().hidden_size,
            embeddings: F32s(rows.iter().flat_map(|e| e.embedding.iter().copied()).collect()),
            ids: report::U32s(rows.iter().flat_map(|e| e.ids.iter().copied()).collect()),
            lengths: report::U32s(rows.iter().map(|e| e.ids.len() as u32).collect()),
            truncated: report::U32s(rows.iter().map(|e| u32::from(e.truncated)).collect()),
        })
    }

    /// How inference multiplies from now on: "exact" (f32) or "q8" (int8 weights and
    /// activations, `crate::model::qgemm`); scores and attention keep f32.
    #[wasm_bindgen(js_name = setCompute)]
    pub fn set_compute(&self, compute: Ts<Compute>) -> Result<(), JsValue> {
        self.inner.set_compute(compute.to_rust().map_err(bad_value)?).map_err(js_error)
    }

    /// Asks the running long job to stop at its next batch; its promise rejects with an error
    /// of kind "cancelled".
    pub fn cancel(&self) {
        self.inner.cancel();
    }
}

/// A table as CSV text, in the CLI's schema (no model needed).
#[wasm_bindgen]
pub fn csv(table: Ts<CsvTable>) -> Result<String, JsValue> {
    Ok(match table.to_rust().map_err(bad_value)? {
        CsvTable::Scores(s) => report::scores_csv(&s).map_err(js_error)?,
        CsvTable::Curves(c) => report::curves_csv(&c),
    })
}

/// A float safetensors checkpoint (`model.safetensors` bytes) as the int8 file `hies quantize`
/// writes (format hies-int8-v1, [`crate::quantize`]): the same bytes, natively or here. The build
/// makes the page's default download with it, in Node, without a native binary.
#[wasm_bindgen]
pub fn quantize(weights: &[u8]) -> Result<Vec<u8>, JsValue> {
    crate::quantize::quantize(weights).map_err(js_error)
}

/// Whether this build's relaxed-SIMD q8 kernel gives the SIMD128 kernel's bits on a fixed product
/// ([`crate::model::relaxed_kernel_agrees`]): the worker asks before it keeps the relaxed build.
#[wasm_bindgen]
pub fn relaxed_simd_check() -> bool {
    crate::model::relaxed_kernel_agrees()
}
