//! `hies export`: a Hugging Face checkpoint folder whose logits, computed by the float64
//! reference that honours config.json's `pruned_heads` as transformers does, equal the masked
//! model's; it loads back into the engine, pruned; the probe is refused.

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
        let v: Value = serde_json::from_slice(&run.stdout).unwrap();
        for (g, w) in v["full"]["logits"].as_array().unwrap().iter().zip(&s.logits) {
            worst = worst.max((g.as_f64().unwrap() - w).abs());
        }
        // Heads sliced out show no attention and no importance.
        assert_eq!(v["entropy"][2][0], 0.0);
        assert_eq!(v["importance"][5][11], 0.0);
    }
    eprintln!("exported checkpoint vs float64 reference: max |Δ logits| {worst:e}");
    assert!(worst <= 1e-4, "{worst:e}");
    // And it equals masking the same heads in the model as loaded.
    let masked = hies(&["inspect", "--text", &fx.sentences[0].text, "--prune", &prune.join(",")]);
    let masked: Value = serde_json::from_slice(&masked.stdout).unwrap();
    for (m, w) in masked["pruned"]["logits"].as_array().unwrap().iter().zip(&fx.sentences[0].logits) {
        assert!((m.as_f64().unwrap() - w).abs() <= 1e-4);
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_probe_cannot_be_exported_as_sequence_classification() {
    let out = std::env::temp_dir().join(format!("hies-export-probe-{}", std::process::id()));
    let run = hies(&["export", "--model", "probe", "--out", out.to_str().unwrap()]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("mean-pooled"), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(!out.join("model.safetensors").exists(), "nothing is written");
}
