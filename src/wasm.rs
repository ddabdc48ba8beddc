//! The wasm boundary: one exported struct built from the files' bytes that JS fetched, a few
//! coarse async methods, plain objects and typed arrays out. Rust never fetches.

use std::rc::Rc;

use js_sys::{Array, Float32Array, Object, Promise, Reflect, Uint32Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{Backend, Engine, Error, ModelFiles, device};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[wasm_bindgen]
pub struct HiesEngine {
    inner: Rc<Engine>,
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
        Ok(HiesEngine { inner: Rc::new(engine), fallback })
    }

    /// { backend, fallback, layers, heads, hidden, maxLen, pooling, normalize, classifier }
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
        set(&o, "classifier", self.inner.model.classifier.is_some());
        o.into()
    }

    /// Resolves to { dim, embeddings: Float32Array [N × dim], ids: Uint32Array[], truncated: bool[] }.
    pub fn embed(&self, texts: Vec<String>) -> Promise {
        let engine = self.inner.clone();
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

    /// Resolves to { tokens, ids, truncated, layers, heads, len, probs: Float32Array [L, H, T, T] }.
    pub fn attention(&self, text: String) -> Promise {
        let engine = self.inner.clone();
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
            set(&o, "probs", Float32Array::from(a.probs.as_slice()));
            Ok(o.into())
        })
    }
}
