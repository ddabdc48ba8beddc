//! The `hies` command line end to end, on the committed calibration sentences (fast).

mod common;

use std::process::Command;

use common::root;
use serde_json::Value;

fn hies(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_hies")).args(args).current_dir(root()).output().unwrap();
    assert!(out.status.success(), "hies {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("hies {args:?} printed no JSON ({e})"))
}

const CAL: &str = "tests/fixtures/calibration.tsv";

#[test]
fn score_prints_every_grid() {
    let v = hies(&["score", "--data", CAL, "--n", "16", "--seed", "0", "--json"]);
    assert_eq!((v["layers"].as_u64(), v["heads"].as_u64(), v["n"].as_u64(), v["seed"].as_u64()), (Some(6), Some(12), Some(16), Some(0)));
    for key in ["entropy", "entropy_nats", "his_raw", "his", "hies", "confidence", "weight_norm"] {
        let g = v[key].as_array().unwrap_or_else(|| panic!("{key}"));
        assert_eq!(g.len(), 6, "{key}");
        assert!(g.iter().all(|r| r.as_array().unwrap().len() == 12 && r.as_array().unwrap().iter().all(|x| x.as_f64().unwrap().is_finite())), "{key}");
    }
}

#[test]
fn prune_structural_matches_masked_and_is_smaller() {
    let v = hies(&["prune", "--data", CAL, "--dev", CAL, "--n", "16", "--criterion", "hies", "--ratio", "0.5", "--structural", "--json"]);
    assert_eq!(v["heads_pruned"].as_u64(), Some(36));
    assert_eq!(v["pruned"].as_array().unwrap().len(), 36);
    assert_eq!(v["structural_equals_masked"], Value::Bool(true));
    assert_eq!(v["accuracy_structural"], v["accuracy"]);
    assert!(v["parameters_structural"].as_u64() < v["parameters_full"].as_u64());
    for k in ["latency_ms_full", "latency_ms_masked", "latency_ms_structural", "agreement"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k}");
    }
}

#[test]
fn curve_has_a_point_per_criterion_and_ratio() {
    let v = hies(&["curve", "--data", CAL, "--dev", CAL, "--n", "8", "--criteria", "hies,random", "--ratios", "0,0.5", "--seeds", "0,1", "--json"]);
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
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
fn bad_data_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_hies"))
        .args(["score", "--data", "Cargo.toml"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Cargo.toml") && err.contains("line 1"), "{err}");
}
