//! Shared by the integration tests: the fetched MiniLM (loaded once per process and shared),
//! the committed classifier and reference fixtures.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hies::classifier::ClassifierMeta;
use hies::data::{Example, Gold};
use hies::engine::ModelDir;
use hies::manifest::manifest;
use hies::{Backend, Engine, Session, SessionOptions};
use serde::Deserialize;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn model_dir() -> ModelDir {
    let dir = root().join(&manifest().model.dir);
    ModelDir::read(&dir).unwrap_or_else(|e| panic!("{e}\n(run `{}` first)", manifest().setup))
}

/// A fresh engine (for tests that change its weights).
pub fn load_engine(backend: Backend) -> Engine {
    let dir = model_dir();
    let device = pollster::block_on(hies::device::device(backend)).expect("device");
    Engine::load(&dir.files(), device, backend).expect("MiniLM loads")
}

/// The bare MiniLM encoder, loaded once per backend.
pub fn engine(backend: Backend) -> Arc<Engine> {
    static CPU: OnceLock<Arc<Engine>> = OnceLock::new();
    static GPU: OnceLock<Arc<Engine>> = OnceLock::new();
    let cell = if backend == Backend::Cpu { &CPU } else { &GPU };
    cell.get_or_init(|| Arc::new(load_engine(backend))).clone()
}

/// The committed classifier's sidecar.
pub fn classifier_meta() -> ClassifierMeta {
    let path = root().join(&manifest().classifier.meta);
    serde_json::from_slice(&std::fs::read(path).expect("committed sidecar")).expect("sidecar parses")
}

/// MiniLM with the committed Rotten Tomatoes classifier on the CPU, loaded once.
pub fn classifier_engine() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| {
        let mut e = load_engine(Backend::Cpu);
        let bytes = std::fs::read(root().join(&manifest().classifier.weights)).expect("committed classifier");
        e.set_classifier(&bytes, &classifier_meta()).expect("the committed classifier fits MiniLM");
        Arc::new(e)
    })
    .clone()
}

/// A session on [`classifier_engine`] with `examples` as both calibration pool and evaluation set.
pub fn session(examples: &[Example], cache_bytes: usize) -> Session {
    let s = Session::new(classifier_engine(), SessionOptions { cache_bytes });
    s.set_calibration(examples.to_vec());
    s.set_evaluation(examples).expect("evaluation set");
    s
}

/// The committed 16 labelled sentences (tests/fixtures/calibration.tsv).
pub fn calibration_examples() -> Vec<Example> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/calibration.tsv")).unwrap();
    hies::data::parse_tsv(&text, Gold::Labels(&classifier_meta().labels)).unwrap()
}

#[derive(Deserialize)]
pub struct Fixture {
    pub layers: usize,
    pub heads: usize,
    pub sentences: Vec<Sentence>,
    pub gated: Vec<Gated>,
}

#[derive(Deserialize)]
pub struct Sentence {
    pub text: String,
    pub ids: Vec<u32>,
    pub truncated: bool,
    pub embedding: Vec<f32>,
    /// [layer, head, query, key, p]
    pub attention_samples: Vec<[f64; 5]>,
    /// [L, H, T, T] for one sentence
    pub attention: Option<Vec<f32>>,
}

#[derive(Deserialize)]
pub struct Gated {
    pub sentence: usize,
    pub off: Vec<[usize; 2]>,
    pub embedding: Vec<f32>,
}

pub fn fixture() -> Fixture {
    let path = root().join("tests/fixtures/parity.json");
    serde_json::from_slice(&std::fs::read(&path).expect("fixture")).expect("fixture parses")
}

/// A checkpoint's tensors as owned (name, dtype, shape, bytes), sorted by name, to edit and
/// re-serialize.
pub type Owned = Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>;

pub fn tensors(bytes: &[u8]) -> Owned {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let mut v: Owned = st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub fn serialize(t: &Owned) -> Vec<u8> {
    let views: Vec<_> = t.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn head_mask_without(engine: &Engine, off: &[[usize; 2]]) -> burn::tensor::Tensor<3> {
    let off: Vec<(usize, usize)> = off.iter().map(|&[l, h]| (l, h)).collect();
    engine.head_mask(&off)
}

/// Asserts everything the fixture holds against `engine`: ids, truncation, embeddings (all
/// sentences or the first `limit`), attention samples, the full attention maps, gated runs.
pub fn check_against_fixture(engine: &Engine, limit: usize, emb_tol: f32, attn_tol: f32) {
    let fx = fixture();
    assert_eq!((fx.layers, fx.heads), (engine.config().num_hidden_layers, engine.config().num_attention_heads));
    let sentences: Vec<&Sentence> = fx.sentences.iter().take(limit).collect();
    let texts: Vec<String> = sentences.iter().map(|s| s.text.clone()).collect();
    let got = pollster::block_on(engine.embed(&texts)).expect("embed");
    let (mut worst_emb, mut worst_attn) = (0f32, 0f32);
    for (s, e) in sentences.iter().zip(&got) {
        assert_eq!(e.ids, s.ids, "token ids of {:?}", s.text);
        assert_eq!(e.truncated, s.truncated, "truncation flag of {:?}", s.text);
        let d = max_abs_diff(&e.embedding, &s.embedding);
        assert!(d <= emb_tol, "embedding of {:?}: max |diff| {d:e} > {emb_tol:e}", s.text);
        worst_emb = worst_emb.max(d);
    }
    for s in &sentences {
        let a = pollster::block_on(engine.attentions(&s.text)).expect("attentions");
        let t = a.len;
        let mut worst = 0f32;
        for &[l, h, i, j, p] in &s.attention_samples {
            let (l, h, i, j) = (l as usize, h as usize, i as usize, j as usize);
            let got = a.attentions.0[((l * a.heads + h) * t + i) * t + j];
            worst = worst.max((got - p as f32).abs());
        }
        assert!(worst <= attn_tol, "attention of {:?}: max |diff| {worst:e} > {attn_tol:e}", s.text);
        worst_attn = worst_attn.max(worst);
        if let Some(full) = &s.attention {
            let d = max_abs_diff(&a.attentions.0, full);
            assert!(d <= attn_tol, "full attention of {:?}: max |diff| {d:e}", s.text);
            worst_attn = worst_attn.max(d);
        }
    }
    eprintln!("{:?}: max |diff| embeddings {worst_emb:e}, attention {worst_attn:e}", engine.backend);
}

/// The fixture's gated runs (heads set to 0) against `engine`, embeddings within `tol`.
pub fn check_gated_against_fixture(engine: &Engine, tol: f32) {
    let fx = fixture();
    for g in &fx.gated {
        let s = &fx.sentences[g.sentence];
        let batch = hies::batch::Batch::new(&[s.ids.as_slice()], 0);
        let (out, mask) = engine.forward(&batch, Some(head_mask_without(engine, &g.off)), false);
        let got = pollster::block_on(hies::engine::read(hies::model::pool(out.last_hidden_state, mask, engine.pooling))).unwrap();
        let d = max_abs_diff(&got, &g.embedding);
        assert!(d <= tol, "gated {:?} on {:?}: max |diff| {d:e}", g.off, s.text);
    }
}

/// Single sentences as `Engine::logits` takes them (no `text_pair`).
pub fn singles(texts: &[String]) -> Vec<(&str, Option<&str>)> {
    texts.iter().map(|t| (t.as_str(), None)).collect()
}
