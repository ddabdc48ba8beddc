//! `hies export`: a Hugging Face checkpoint folder whose logits, computed by the float64
//! reference that honours config.json's `pruned_heads` as transformers does, equal the masked
//! model's; transformers itself loads the same bytes and computes our logits; it loads back into
//! the engine, pruned; the probe is refused.

use serde::Deserialize;
use serde_json::Value;

use crate::common::root;

#[derive(Deserialize)]
struct ExportFixture {
    prune: Vec<(usize, usize)>,
    pruned_heads: Value,
    sentences: Vec<Sentence>,
}

#[derive(Deserialize)]
struct Sentence {
    text: String,
    logits: Vec<f64>,
}

fn hies(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hies")).args(args).output().unwrap()
}

#[test]
fn exported_pruned_checkpoint_matches_the_reference_and_loads_back() {
    let fx: ExportFixture = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/export.json")).unwrap()).unwrap();
    let out = std::env::temp_dir().join(format!("hies-export-{}", std::process::id()));
    let prune: Vec<String> = fx.prune.iter().map(|(l, h)| format!("{l}.{h}")).collect();
    let run = hies(&["export", "--out", out.to_str().unwrap(), "--prune", &prune.join(",")]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["heads_pruned"], 16);
    let config: Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["pruned_heads"], fx.pruned_heads, "transformers' layout: {{\"layer\": [heads]}}");
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["1"], "positive");

    // The folder, read back by our loader (pruned weights, 56 heads), against the reference.
    let mut worst = 0f64;
    for s in &fx.sentences {
        let run = hies(&["inspect", "--model", out.to_str().unwrap(), "--text", &s.text]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        // Scores of a checkpoint with sliced-out heads say what they count.
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("16 heads were sliced out before this checkpoint was saved"),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: Value = serde_json::from_slice(&run.stdout).unwrap();
        for (g, w) in v["full"]["logits"].as_array().unwrap().iter().zip(&s.logits) {
            worst = worst.max((g.as_f64().unwrap() - w).abs());
        }
        // Heads sliced out show no attention and no importance.
        assert_eq!(v["entropy"][2][0], 0.0);
        assert_eq!(v["importance"][5][11], 0.0);
    }
    eprintln!("exported checkpoint vs float64 reference: max |Δ logits| {worst:e}");
    // The stand-in head of a layer without heads is checked, not trusted.
    assert_eq!(config["hies_zeroed_heads"], serde_json::json!({"2": [0]}));
    for (zeroed, want) in [(serde_json::json!({"1": [0]}), "is not zero"), (serde_json::json!({"0": [1]}), "also in pruned_heads")] {
        let mut bad = config.clone();
        bad["hies_zeroed_heads"] = zeroed;
        let dir = std::env::temp_dir().join(format!("hies-export-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["model.safetensors", "tokenizer.json", "vocab.txt"] {
            std::fs::copy(out.join(name), dir.join(name)).unwrap();
        }
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&bad).unwrap()).unwrap();
        let run = hies(&["inspect", "--model", dir.to_str().unwrap(), "--text", "fine"]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && err.contains(want) && err.contains("hies_zeroed_heads"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(worst <= 1e-4, "{worst:e}");
    // And it equals masking the same heads in the model as loaded.
    let masked = hies(&["inspect", "--text", &fx.sentences[0].text, "--prune", &prune.join(",")]);
    let masked: Value = serde_json::from_slice(&masked.stdout).unwrap();
    for (m, w) in masked["pruned"]["logits"].as_array().unwrap().iter().zip(&fx.sentences[0].logits) {
        assert!((m.as_f64().unwrap() - w).abs() <= 1e-4);
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[derive(Deserialize)]
struct TransformersFixture {
    transformers: String,
    cases: Vec<TransformersCase>,
    families: Vec<FamilyCase>,
}

/// `hies export` of a tiny checkpoint of one family (tests/fixtures/tiny/), as transformers loaded it.
#[derive(Deserialize)]
struct FamilyCase {
    model: String,
    prune: Vec<(usize, usize)>,
    architectures: Vec<String>,
    files: std::collections::BTreeMap<String, String>,
    heads_per_layer: Vec<usize>,
    sentences: Vec<FamilySentence>,
}

#[derive(Deserialize)]
struct FamilySentence {
    text: String,
    text_pair: String,
    logits: Vec<f64>,
}

#[derive(Deserialize)]
struct TransformersCase {
    prune: Vec<(usize, usize)>,
    files: std::collections::BTreeMap<String, String>,
    heads_per_layer: Vec<usize>,
    pruned_heads: Value,
    sentences: Vec<TransformersSentence>,
}

#[derive(Deserialize)]
struct TransformersSentence {
    text: String,
    ids: Vec<u64>,
    logits: Vec<f64>,
}

/// tests/fixtures/export-transformers.json is what transformers 4.57.6 (PyTorch, float64) made of
/// these exports (scripts/transformers_check.py): the same bytes give the same logits here.
#[test]
fn transformers_loads_the_exported_folders_and_computes_our_logits() {
    use sha2::{Digest, Sha256};
    let fx: TransformersFixture = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/export-transformers.json")).unwrap()).unwrap();
    for case in &fx.cases {
        let out = std::env::temp_dir().join(format!("hies-export-tf-{}-{}", case.prune.len(), std::process::id()));
        let prune: Vec<String> = case.prune.iter().map(|(l, h)| format!("{l}.{h}")).collect();
        let mut args = vec!["export", "--out", out.to_str().unwrap()];
        let joined = prune.join(",");
        if !prune.is_empty() {
            args.extend(["--prune", &joined]);
        }
        let run = hies(&args);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        for (name, want) in &case.files {
            let got = format!("{:x}", Sha256::digest(std::fs::read(out.join(name)).unwrap()));
            assert_eq!(&got, want, "{name} differs from the bytes transformers loaded: rerun scripts/transformers_check.py after retraining");
        }
        let config: Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config.get("pruned_heads").cloned().unwrap_or_else(|| serde_json::json!({})), case.pruned_heads);
        // transformers built the pruned layers smaller; a layer without heads keeps a zero stand-in.
        let stand_ins = config.get("hies_zeroed_heads").and_then(Value::as_object).map_or(0, |m| m.len());
        assert_eq!(case.heads_per_layer.iter().sum::<usize>(), 72 - case.prune.len() + stand_ins);
        let mut worst = 0f64;
        for s in &case.sentences {
            let run = hies(&["inspect", "--model", out.to_str().unwrap(), "--text", &s.text]);
            assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            let v: Value = serde_json::from_slice(&run.stdout).unwrap();
            let ids: Vec<u64> = v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(ids, s.ids, "ids of {:?}", s.text);
            for (g, w) in v["full"]["logits"].as_array().unwrap().iter().zip(&s.logits) {
                worst = worst.max((g.as_f64().unwrap() - w).abs());
            }
        }
        eprintln!("{} heads pruned: transformers {} vs ours, max |Δ logits| {worst:e}", case.prune.len(), fx.transformers);
        assert!(worst <= 1e-5, "{worst:e}");
        // Exporting the exported folder again gives the same bytes (the stand-in is dropped at
        // load and made again).
        let again = std::env::temp_dir().join(format!("hies-export-tf-again-{}-{}", case.prune.len(), std::process::id()));
        let run = hies(&["export", "--model", out.to_str().unwrap(), "--out", again.to_str().unwrap()]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        for name in ["model.safetensors", "config.json"] {
            assert!(std::fs::read(out.join(name)).unwrap() == std::fs::read(again.join(name)).unwrap(), "{name} changed on re-export");
        }
        let _ = std::fs::remove_dir_all(&again);
        let _ = std::fs::remove_dir_all(&out);
    }
}

/// Every family's export, pruned (DistilBERT also with a whole layer gone): the bytes
/// transformers loaded (under its own *ForSequenceClassification, nothing missing or unexpected)
/// and its logits, reloaded here.
#[test]
fn transformers_loads_every_familys_export_and_computes_our_logits() {
    use sha2::{Digest, Sha256};
    let fx: TransformersFixture = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/export-transformers.json")).unwrap()).unwrap();
    assert_eq!(fx.families.len(), 7);
    for (k, case) in fx.families.iter().enumerate() {
        let out = std::env::temp_dir().join(format!("hies-export-family-{k}-{}", std::process::id()));
        let model = root().join("tests/fixtures/tiny").join(&case.model);
        let prune: Vec<String> = case.prune.iter().map(|(l, h)| format!("{l}.{h}")).collect();
        let run = hies(&["export", "--model", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "--prune", &prune.join(",")]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        for (name, want) in &case.files {
            let got = format!("{:x}", Sha256::digest(std::fs::read(out.join(name)).unwrap()));
            assert_eq!(&got, want, "{}: {name} differs from the bytes transformers loaded: rerun scripts/transformers_check.py", case.model);
        }
        let config: Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["architectures"], serde_json::json!(case.architectures));
        let stand_ins = config.get("hies_zeroed_heads").and_then(Value::as_object).map_or(0, |m| m.len());
        assert_eq!(case.heads_per_layer.iter().sum::<usize>(), 8 - case.prune.len() + stand_ins, "{}", case.model);
        let dir = hies::engine::ModelDir::read(&out).unwrap();
        let engine = hies::Engine::load(&dir.files(), burn::tensor::Device::flex(), hies::Backend::Cpu).unwrap();
        let mut worst = 0f64;
        for s in &case.sentences {
            let got = pollster::block_on(engine.logits(&engine.model, &[(s.text.as_str(), Some(s.text_pair.as_str()))], &[])).unwrap();
            for (g, w) in got.iter().zip(&s.logits) {
                worst = worst.max((*g as f64 - w).abs());
            }
        }
        eprintln!("{} export, {} heads pruned: transformers vs ours, max |Δ logits| {worst:.1e}", case.model, case.prune.len());
        assert!(worst <= 1e-5, "{}: {worst:e}", case.model);
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn the_probe_cannot_be_exported_as_sequence_classification() {
    let out = std::env::temp_dir().join(format!("hies-export-probe-{}", std::process::id()));
    let run = hies(&["export", "--model", "probe", "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("mean-pooled"), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(!out.join("model.safetensors").exists(), "nothing is written");
}
