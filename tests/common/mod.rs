//! Shared by the integration tests: the fetched MiniLM, the committed reference fixture.
#![allow(dead_code)]

use std::path::PathBuf;

use hies::engine::ModelDir;
use hies::{Backend, Engine};
use serde::Deserialize;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn model_dir() -> ModelDir {
    let dir = root().join(hies::DEFAULT_MODEL_DIR);
    ModelDir::read(&dir).unwrap_or_else(|e| panic!("{e}\n(run `python3 scripts/setup-assets.py` first)"))
}

pub fn engine(backend: Backend) -> Engine {
    let dir = model_dir();
    let device = pollster::block_on(hies::device::device(backend)).expect("device");
    Engine::load(&dir.files(), device, backend).expect("MiniLM loads")
}

#[derive(Deserialize)]
pub struct Fixture {
    pub layers: usize,
    pub heads: usize,
    pub sentences: Vec<Sentence>,
    pub gated: Vec<Gated>,
    pub cosines: serde_json::Map<String, serde_json::Value>,
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

pub fn gate_with_off(engine: &Engine, off: &[[usize; 2]]) -> burn::tensor::Tensor<3> {
    let off: Vec<(usize, usize)> = off.iter().map(|&[l, h]| (l, h)).collect();
    engine.gate(&off)
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
        let a = pollster::block_on(engine.attention(&s.text)).expect("attention");
        let t = a.len;
        let mut worst = 0f32;
        for &[l, h, i, j, p] in &s.attention_samples {
            let (l, h, i, j) = (l as usize, h as usize, i as usize, j as usize);
            let got = a.probs[((l * a.heads + h) * t + i) * t + j];
            worst = worst.max((got - p as f32).abs());
        }
        assert!(worst <= attn_tol, "attention of {:?}: max |diff| {worst:e} > {attn_tol:e}", s.text);
        worst_attn = worst_attn.max(worst);
        if let Some(full) = &s.attention {
            let d = max_abs_diff(&a.probs, full);
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
        let (out, mask) = engine.forward(&batch, Some(gate_with_off(engine, &g.off)), false);
        let got = pollster::block_on(hies::engine::read(hies::model::pool(out.hidden, mask, engine.pooling))).unwrap();
        let d = max_abs_diff(&got, &g.embedding);
        assert!(d <= tol, "gated {:?} on {:?}: max |diff| {d:e}", g.off, s.text);
    }
}
