//! The `hies` command line end to end, on the committed calibration sentences (fast).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::root;

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hies")).args(args).current_dir(dir).env_remove("HIES_ASSETS").output().unwrap()
}

fn hies(args: &[&str]) -> Value {
    let out = run_in(&root(), args);
    assert!(out.status.success(), "hies {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("hies {args:?} printed no JSON ({e})"))
}

const CAL: &str = "tests/fixtures/calibration.tsv";

#[test]
fn score_prints_every_grid_and_the_csv_schema() {
    let csv = std::env::temp_dir().join("hies-cli-test-scores.csv");
    let v = hies(&["score", "--data", CAL, "--n", "16", "--seed", "0", "--json", "--csv", csv.to_str().unwrap()]);
    assert_eq!((v["layers"].as_u64(), v["heads"].as_u64(), v["n"].as_u64(), v["seed"].as_u64()), (Some(6), Some(12), Some(16), Some(0)));
    for key in ["entropy", "entropy_nats", "his_raw", "his_token_mean", "his", "hies", "confidence", "weight_norm"] {
        let g = v[key].as_array().unwrap_or_else(|| panic!("{key}"));
        assert_eq!(g.len(), 6, "{key}");
        assert!(
            g.iter().all(|r| r.as_array().unwrap().len() == 12 && r.as_array().unwrap().iter().all(|x| x.as_f64().unwrap().is_finite())),
            "{key}"
        );
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("layer,head,hies,his,his_raw,his_token_mean,entropy,entropy_nats,confidence,weight_norm"));
    let row: Vec<f64> = lines.nth(15).unwrap().split(',').map(|x| x.parse().unwrap()).collect(); // layer 1, head 3
    assert_eq!(&row[..2], &[1.0, 3.0]);
    assert_eq!(row[2], v["hies"][1][3].as_f64().unwrap());
    assert_eq!(row[4], v["his_raw"][1][3].as_f64().unwrap());
    assert_eq!(row[5], v["his_token_mean"][1][3].as_f64().unwrap());
}

#[test]
fn prune_structural_matches_masked_and_is_smaller() {
    let v = hies(&["prune", "--data", CAL, "--dev", CAL, "--n", "16", "--criterion", "hies", "--ratio", "0.5", "--structural", "--json"]);
    assert_eq!(v["heads_pruned"].as_u64(), Some(36));
    assert_eq!(v["pruned"].as_array().unwrap().len(), 36);
    assert_eq!(v["structural_equals_masked"], Value::Bool(true));
    assert_eq!(v["structural"]["accuracy"], v["masked"]["accuracy"]);
    assert!(v["structural"]["parameters"].as_u64() < v["masked"]["parameters"].as_u64());
    assert_eq!(v["masked"]["sentences"].as_u64(), Some(16));
    for k in ["full_ms", "masked_ms", "structural_ms"] {
        assert!(v["latency"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    assert!(v["masked"]["agreement"].as_f64().unwrap() > 0.0);
}

#[test]
fn curve_has_a_point_per_criterion_and_ratio() {
    let v = hies(&["curve", "--data", CAL, "--dev", CAL, "--n", "8", "--criteria", "hies,random", "--ratios", "0,0.5", "--seeds", "0,1", "--json"]);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    assert_eq!(v["evaluation_size"].as_u64(), Some(16));
    for p in points {
        assert_eq!(p["accuracy"].as_array().unwrap().len(), 2);
        if p["ratio"].as_f64() == Some(0.0) {
            // Nothing pruned: the unpruned model, agreeing with itself.
            assert_eq!(p["accuracy_mean"], v["full_accuracy"]);
            assert_eq!(p["agreement_mean"].as_f64(), Some(1.0));
            assert_eq!(p["accuracy_std"].as_f64(), Some(0.0));
        }
    }
}

#[test]
fn inspect_answers_for_one_sentence() {
    let v = hies(&["inspect", "--text", "A dull, lifeless film.", "--prune", "0.1,3.4"]);
    assert_eq!(v["heads_pruned"].as_u64(), Some(2));
    let t = v["len"].as_u64().unwrap() as usize;
    assert_eq!(v["attentions"].as_array().unwrap().len(), 72 * t * t);
    assert_eq!(v["full"]["label"].as_u64(), Some(0), "a clearly negative sentence");
    assert_eq!(v["importance"].as_array().unwrap().len(), 6);
}

#[test]
fn defaults_are_found_from_any_working_directory() {
    // The default model, classifier and data come from the repository, not the working directory.
    let out = run_in(&std::env::temp_dir(), &["score", "--n", "4", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"].as_u64(), Some(4));
    // A folder without them: the message names the path and the command that fetches them.
    let empty = std::env::temp_dir().join("hies-no-assets-here");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run_in(&root(), &["score", "--assets", empty.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("hies-no-assets-here") && err.contains("config.json") && err.contains("scripts/setup-assets.py"), "{err}");
}

#[test]
fn bad_data_file_is_a_clear_error() {
    let out = run_in(&root(), &["score", "--data", "Cargo.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Cargo.toml") && err.contains("line 1"), "{err}");
    let out = run_in(&root(), &["prune", "--criterion", "magic"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown criterion \"magic\"") && err.contains("weight_norm"), "{err}");
}

#[test]
fn int8_weights_load_what_hies_quantize_writes_and_are_refused_where_they_do_not_apply() {
    // A folder holding `hies quantize`'s file as its model.safetensors, beside the built-in files.
    let base = root().join("assets/models/all-MiniLM-L6-v2");
    let dir = std::env::temp_dir().join(format!("hies-int8-cli-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    for f in ["config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"] {
        std::fs::copy(base.join(f), dir.join(f)).unwrap();
    }
    let out = run_in(
        &root(),
        &["quantize", "--in", base.join("model.safetensors").to_str().unwrap(), "--out", dir.join("model.safetensors").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let embed = |args: &[&str]| -> Vec<f64> {
        let v = hies(&[&["embed", "--text", "The acting is wooden, but the score soars."], args].concat());
        v["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    };
    let int8 = embed(&["--model", "probe", "--weights", "int8"]);
    assert_eq!(int8, embed(&["--model", dir.to_str().unwrap()]), "--weights int8 loads what hies quantize writes");
    let fp32 = embed(&["--model", "probe"]);
    let d = int8.iter().zip(&fp32).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(d > 1e-5 && d < 2e-2, "int8 weights move the embedding a little: max |diff| {d}");

    let refused = |args: &[&str], want: &[&str]| {
        let out = run_in(&root(), args);
        assert!(!out.status.success(), "{args:?} should be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(want.iter().all(|w| err.contains(w)), "{args:?}: {err}");
    };
    refused(
        &["embed", "--text", "x", "--model", dir.to_str().unwrap(), "--weights", "int8"],
        &["--weights int8 is for the built-in models", "hies quantize"],
    );
    refused(&["fine-tune", "--weights", "int8"], &["fine-tune trains on the fp32 weights"]);
    std::fs::remove_dir_all(&dir).ok();
}
