//! Small random-initialised checkpoints of each architecture and task, against what transformers
//! (PyTorch, float64) computes on them (`scripts/tiny_models.py` writes `tests/fixtures/tiny/`):
//! token ids and types, logits, attention, HIS from head_mask gradients, masked and sliced heads.

use std::sync::Arc;

use hies::batch::Batch;
use hies::data::{Example, Gold};
use hies::engine::{ModelDir, read};
use hies::evaluate::{CacheBudget, Pruned};
use hies::scores::ScoreOptions;
use hies::{Backend, Engine, Session, SessionOptions};
use serde::Deserialize;

use crate::common::*;

#[derive(Deserialize)]
struct Expected {
    examples: Vec<ExpectedExample>,
    mask_off: Vec<(usize, usize)>,
    his_raw: Vec<Vec<f64>>,
    his_token_mean: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct ExpectedExample {
    text: String,
    text_pair: Option<String>,
    input_ids: Vec<u32>,
    token_type_ids: Vec<u32>,
    logits: Vec<f64>,
    masked_logits: Vec<f64>,
    sliced_logits: Vec<f64>,
    /// [L, H, T, T]
    attentions: Option<Vec<f64>>,
}

fn folder(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/tiny").join(name)
}

fn load(name: &str) -> (Engine, Expected, Vec<Example>) {
    let dir = ModelDir::read(&folder(name)).unwrap();
    let device = pollster::block_on(hies::device::device(Backend::Cpu)).unwrap();
    let engine = Engine::load(&dir.files(), device, Backend::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected: Expected = serde_json::from_slice(&std::fs::read(folder(name).join("expected.json")).unwrap()).unwrap();
    let data = std::fs::read_to_string(folder(name).join("data.tsv")).unwrap();
    let examples = hies::data::parse_tsv(&data, engine.classifier().unwrap().gold()).unwrap();
    (engine, expected, examples)
}

fn worst(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter().zip(want).map(|(g, w)| (*g as f64 - w).abs()).fold(0.0, f64::max)
}

/// One checkpoint against transformers: ids and token types, logits, masked and sliced logits,
/// the first example's attention, HIS from head-mask gradients. Returns the largest differences
/// (logits, masked and sliced, attention, HIS relative).
fn check_against_transformers(name: &str) -> [f64; 4] {
    let (engine, fx, examples) = load(name);
    let labels = &engine.classifier().unwrap().labels;
    assert!(labels == &["entailment", "neutral", "contradiction"] || labels == &["LABEL_0"], "{name}: {labels:?}");
    assert_eq!(examples.len(), fx.examples.len());
    let (mut logits_d, mut pruned_d, mut attention_d) = (0f64, 0f64, 0f64);
    let sliced_model = engine.model.without_heads(&fx.mask_off);
    for (ex, want) in examples.iter().zip(&fx.examples) {
        assert_eq!((&ex.text, &ex.text_pair), (&want.text, &want.text_pair), "data.tsv is read as pairs");
        let enc = engine.encode(ex).unwrap();
        assert_eq!(enc.ids, want.input_ids, "{name}: ids of {:?}", want.text_pair);
        assert_eq!(enc.type_ids, want.token_type_ids, "{name}: token types");
        let input = [(ex.text.as_str(), ex.text_pair.as_deref())];
        logits_d = logits_d.max(worst(&pollster::block_on(engine.logits(&engine.model, &input, &[])).unwrap(), &want.logits));
        pruned_d = pruned_d.max(worst(&pollster::block_on(engine.logits(&engine.model, &input, &fx.mask_off)).unwrap(), &want.masked_logits));
        pruned_d = pruned_d.max(worst(&pollster::block_on(engine.logits(&sliced_model, &input, &[])).unwrap(), &want.sliced_logits));
        if let Some(att) = &want.attentions {
            let (out, _) = engine.forward(&Batch::from_encoded(&[&enc], engine.config().pad_token_id), None, true);
            let got = pollster::block_on(read(burn::tensor::Tensor::cat(out.attentions, 0))).unwrap(); // [L, H, T, T]
            attention_d = attention_d.max(worst(&got, att));
        }
    }
    // HIS from per-example head-mask gradients of the cross-entropy against the gold label.
    let s = pollster::block_on(engine.score(&examples, &[], ScoreOptions::default(), &mut |_, _| {})).unwrap();
    let mut his_d = 0f64;
    for (got, want) in [(&s.his_raw, &fx.his_raw), (&s.his_token_mean, &fx.his_token_mean)] {
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            his_d = his_d.max((g - w).abs() / w.abs());
        }
    }
    eprintln!("{name}: max |diff| logits {logits_d:.1e}, masked/sliced {pruned_d:.1e}, attention {attention_d:.1e}; HIS relative {his_d:.1e}");
    assert!(logits_d <= 1e-4 && pruned_d <= 1e-4, "{name}: logits {logits_d:e}, masked/sliced {pruned_d:e}");
    assert!(attention_d <= 1e-5, "{name}: attention {attention_d:e}");
    assert!(his_d <= 1e-3, "{name}: HIS relative {his_d:e}");
    [logits_d, pruned_d, attention_d, his_d]
}

#[test]
fn bert_sentence_pairs_match_transformers() {
    check_against_transformers("bert-pair");
    // The fixture tells pairs from two sentences run together: without token types the logits move.
    let (engine, fx, examples) = load("bert-pair");
    let e0 = &examples[0];
    let joined = format!("{} {}", e0.text, e0.text_pair.as_deref().unwrap());
    let as_one = pollster::block_on(engine.logits(&engine.model, &[(joined.as_str(), None)], &[])).unwrap();
    assert!(worst(&as_one, &fx.examples[0].logits) > 1e-2, "a pair read as one sentence would pass");
}

#[test]
fn distilbert_roberta_xlm_roberta_and_electra_match_transformers() {
    for name in ["distilbert", "roberta", "xlm-roberta", "electra"] {
        check_against_transformers(name);
    }
}

/// Exporting each family writes its own *ForSequenceClassification: the same tensor names and
/// shapes as the checkpoint transformers saved, and, with heads pruned, the pruned logits.
#[test]
fn every_family_exports_under_its_own_names() {
    for name in ["bert-pair", "distilbert", "roberta", "xlm-roberta", "electra"] {
        let (engine, fx, _) = load(name);
        let config = std::fs::read(folder(name).join("config.json")).unwrap();
        let whole = pollster::block_on(hies::export::export(&engine, &config, &[])).unwrap();
        let original = std::fs::read(folder(name).join("model.safetensors")).unwrap();
        let shapes = |bytes: &[u8]| {
            let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
            let mut v: Vec<(String, Vec<usize>)> = st.tensors().into_iter().map(|(n, t)| (n, t.shape().to_vec())).collect();
            v.sort();
            v
        };
        assert_eq!(shapes(&whole.weights), shapes(&original), "{name}: exported names and shapes");
        let pruned = pollster::block_on(hies::export::export(&engine, &config, &fx.mask_off)).unwrap();
        let files = hies::ModelFiles {
            config: pruned.config.as_bytes(),
            weights: &pruned.weights,
            tokenizer: &std::fs::read(folder(name).join("tokenizer.json")).unwrap(),
            modules: None,
            pooling: None,
            sentence_bert_config: None,
            adapter: None,
        };
        let again = Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut d = 0f64;
        for want in &fx.examples {
            let input = [(want.text.as_str(), want.text_pair.as_deref())];
            d = d.max(worst(&pollster::block_on(again.logits(&again.model, &input, &[])).unwrap(), &want.sliced_logits));
        }
        assert!(d <= 1e-4, "{name}: the exported pruned model's logits differ from transformers' by {d:e}");
    }
}

#[test]
fn passes_over_a_data_set_predict_what_transformers_does() {
    // Batched, so padded: RoBERTa's positions and every family's masks meet padding here.
    for name in ["bert-pair", "distilbert", "roberta", "electra"] {
        let (engine, fx, examples) = load(name);
        let argmax = |v: &[f64]| v.iter().enumerate().fold((0, f64::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0;
        let want_full: Vec<f32> = fx.examples.iter().map(|e| argmax(&e.logits) as f32).collect();
        let want_masked: Vec<f32> = fx.examples.iter().map(|e| argmax(&e.masked_logits) as f32).collect();
        // The streamed pass (random blocks) and the sorted totals pass (slices masked heads,
        // runs [CLS] alone through the last layer) both carry the token types.
        let set = engine.prepare(&examples, CacheBudget::new(1 << 20)).unwrap();
        let variants = [Pruned::Mask(&fx.mask_off)];
        let streamed = pollster::block_on(engine.stream(&set, &variants, &mut |_| {})).unwrap();
        let sorted = pollster::block_on(engine.pass_sorted(&set, &variants, &mut |_| {})).unwrap();
        for pass in [&streamed, &sorted] {
            assert_eq!(pass.full, want_full, "{name}");
            assert_eq!(pass.pruned[0], want_masked, "{name}");
        }
        // Batched logits too.
        let inputs: Vec<(&str, Option<&str>)> = examples.iter().map(|e| (e.text.as_str(), e.text_pair.as_deref())).collect();
        let batched = pollster::block_on(engine.logits(&engine.model, &inputs, &[])).unwrap();
        let want: Vec<f64> = fx.examples.iter().flat_map(|e| e.logits.clone()).collect();
        assert!(worst(&batched, &want) <= 1e-4, "{name}: batched logits");
    }
    let (engine, _, examples) = load("bert-pair");
    // And the session reads the pair file by label name and evaluates it.
    let session = Session::new(Arc::new(engine), SessionOptions::default());
    let parsed = session.parse_data(&std::fs::read_to_string(folder("bert-pair").join("data.tsv")).unwrap()).unwrap();
    assert_eq!(parsed, examples);
}

/// The tiny pair checkpoint's files, to edit: (config, tensors, tokenizer).
fn pair_files() -> (serde_json::Value, Owned, Vec<u8>) {
    let dir = folder("bert-pair");
    let config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let t = tensors(&std::fs::read(dir.join("model.safetensors")).unwrap());
    (config, t, std::fs::read(dir.join("tokenizer.json")).unwrap())
}

fn load_edited(config: &serde_json::Value, t: &Owned, tokenizer: &[u8]) -> hies::Result<Engine> {
    let weights = serialize(t);
    let config = serde_json::to_vec(config).unwrap();
    let files =
        hies::ModelFiles { config: &config, weights: &weights, tokenizer, modules: None, pooling: None, sentence_bert_config: None, adapter: None };
    Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu)
}

fn refused(config: &serde_json::Value, t: &Owned, tokenizer: &[u8], words: &[&str]) {
    let e = load_edited(config, t, tokenizer).err().expect("refused").to_string();
    for w in words {
        assert!(e.contains(w), "{e:?} should mention {w:?}");
    }
}

#[test]
fn classifier_checkpoints_that_would_be_silently_wrong_are_refused() {
    let (config, t, tok) = pair_files();
    load_edited(&config, &t, &tok).expect("the unedited files load");
    // A classifier without the pooler it reads.
    let no_pooler: Vec<_> = t.iter().filter(|x| !x.0.contains("pooler")).cloned().collect();
    refused(&config, &no_pooler, &tok, &["classifier.weight", "pooler.dense.weight", "random"]);
    // id2label for another number of classes.
    let mut two = config.clone();
    two["id2label"] = serde_json::json!({"0": "no", "1": "yes"});
    refused(&two, &t, &tok, &["id2label names 2 labels", "no, yes", "3 rows"]);
    // A sequence-classification config without its classifier.
    let no_head: Vec<_> = t.iter().filter(|x| !x.0.starts_with("classifier")).cloned().collect();
    refused(&config, &no_head, &tok, &["BertForSequenceClassification", "no \"classifier.weight\""]);
    // One output is a regression head, never a 1-class classifier: with a config that says
    // otherwise it is refused.
    let mut one = t.clone();
    for x in one.iter_mut().filter(|x| x.0.starts_with("classifier")) {
        x.2[0] = 1;
        x.3.truncate(x.3.len() / 3);
    }
    refused(&config, &one, &tok, &["id2label names 3 labels", "1 rows"]);
    let mut single = config.clone();
    single["id2label"] = serde_json::json!({"0": "LABEL_0"});
    single["problem_type"] = "single_label_classification".into();
    refused(&single, &one, &tok, &["single_label_classification", "1 output", "regression head"]);
    single["problem_type"] = "regression".into();
    let e = load_edited(&single, &one, &tok).expect("a declared one-output regression head loads");
    assert!(e.classifier().unwrap().is_regression());
    // sentence-transformers' CrossEncoder: a sigmoid (or any other activation) on the score is
    // refused; the raw logit (Identity) loads, with a notice.
    single["sbert_ce_default_activation_function"] = "torch.nn.modules.activation.Sigmoid".into();
    refused(&single, &one, &tok, &["CrossEncoder", "torch.nn.modules.activation.Sigmoid(logit)"]);
    single["sbert_ce_default_activation_function"] = serde_json::Value::Null;
    single["sentence_transformers"] = serde_json::json!({"activation_fn": "torch.nn.modules.activation.Tanh", "version": "4.1.0"});
    refused(&single, &one, &tok, &["CrossEncoder", "Tanh(logit)"]);
    single["sentence_transformers"]["activation_fn"] = "torch.nn.modules.linear.Identity".into();
    let e = load_edited(&single, &one, &tok).expect("an Identity CrossEncoder loads");
    assert!(e.notices().iter().any(|n| n.contains("CrossEncoder")), "{:?}", e.notices());
    // problem_type decides the loss: multi-label heads are not softmax classifiers, and a
    // regression head of several outputs is not one score.
    for (problem, words) in [
        ("multi_label_classification", ["multi_label_classification", "single-label"]),
        ("regression", ["regression\" with 3 outputs", "num_labels = 1"]),
    ] {
        let mut c = config.clone();
        c["problem_type"] = problem.into();
        refused(&c, &t, &tok, &words);
    }
}

/// A one-output head (STS-B style; transformers reads num_labels = 1 as regression): logits,
/// masked and sliced scores, attention and HIS from the squared error's head-mask gradients
/// against transformers; Pearson, Spearman and agreement against numpy's; the CLI's and the
/// page adapter's records.
#[test]
fn a_regression_head_matches_transformers_and_is_measured_by_correlation() {
    check_against_transformers("bert-sts");
    let (engine, fx, examples) = load("bert-sts");
    let c = engine.classifier().unwrap();
    assert!(c.is_regression() && c.outputs() == 1);
    assert_eq!((examples[0].label, examples[3].label, examples[5].label), (4.2, 3.8, 3.8), "ties, for Spearman");
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(folder("bert-sts").join("expected.json")).unwrap()).unwrap();
    let want = |k: &str| raw[k].as_f64().unwrap();

    let session = Session::new(Arc::new(engine), SessionOptions::default());
    session.set_evaluation(&examples).unwrap();
    let full = pollster::block_on(session.evaluate(&Default::default(), &mut |_| {})).unwrap();
    let mut seen = Vec::new();
    let masked =
        pollster::block_on(session.evaluate(&hies::report::Removal { heads: fx.mask_off.clone(), structural: false }, &mut |p| seen.push(*p)))
            .unwrap();
    let sliced = pollster::block_on(session.evaluate(&hies::report::Removal { heads: fx.mask_off.clone(), structural: true }, &mut |_| {})).unwrap();
    let one_off: Vec<(usize, usize)> = serde_json::from_value(raw["one_off"].clone()).unwrap();
    let one = pollster::block_on(session.evaluate(&hies::report::Removal { heads: one_off, structural: false }, &mut |_| {})).unwrap();
    assert_eq!(full.metric, hies::config::Metric::Pearson);
    assert!(full.accuracy.is_none() && full.full_accuracy.is_none(), "no accuracy for a regression head");
    let d = [
        (full.pearson.unwrap() - want("pearson")).abs(),
        (full.spearman.unwrap() - want("spearman")).abs(),
        (masked.pearson.unwrap() - want("masked_pearson")).abs(),
        (masked.spearman.unwrap() - want("masked_spearman")).abs(),
        (sliced.pearson.unwrap() - want("masked_pearson")).abs(),
        (masked.full_pearson.unwrap() - want("pearson")).abs(),
    ];
    eprintln!("bert-sts: max |diff| Pearson/Spearman {:.1e}", d.iter().copied().fold(0.0, f64::max));
    assert!(d.iter().all(|&x| x <= 1e-5), "{d:?}");
    // Agreement: a score within 5 % of the gold range (0.2–4.6: ±0.22) of the unpruned one.
    assert!((full.agreement_tolerance - 0.05 * 4.4).abs() < 1e-6);
    assert_eq!((masked.agreement, sliced.agreement, one.agreement), (want("masked_agreement"), want("masked_agreement"), want("one_off_agreement")));
    // The streamed running figures end on the final ones.
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.correct, last.full_correct), (16, 0, 0));
    assert_eq!(last.agree as f64 / 16.0, masked.agreement);
    // (Summed in stream order, not example order: equal up to rounding.)
    assert!(
        (last.pearson.unwrap() - masked.pearson.unwrap()).abs() < 1e-12 && (last.full_pearson.unwrap() - masked.full_pearson.unwrap()).abs() < 1e-12
    );

    // Curves and the α sweep measure r too: the unpruned point is the full model's r, the CSV
    // names its columns so, and a sweep's wAUC (one ratio, weight 1) is the r of evaluating the
    // head set HIES(α) prunes.
    use hies::prune::{Criterion, PruneOptions};
    session.set_calibration(examples.clone());
    session.set_validation(&examples).unwrap();
    let scores = ScoreOptions::default();
    let options = hies::curves::CurveOptions {
        criteria: vec![Criterion::Hies, Criterion::Random],
        ratios: vec![0.0, 0.5],
        seeds: vec![0, 1],
        n: 8,
        per_layer: false,
        iterative_step: None,
        scores,
    };
    let curves = pollster::block_on(session.curves(&options, None, &mut |_| {})).unwrap();
    assert_eq!(curves.metric, hies::config::Metric::Pearson);
    assert!((curves.full_accuracy - want("pearson")).abs() < 1e-5 && (curves.points[0].accuracy_mean - want("pearson")).abs() < 1e-5);
    assert!(hies::report::curves_csv(&curves).starts_with("criterion,ratio,heads_pruned,pearson_mean,pearson_std,agreement_mean,"));
    let sweep_options = hies::sweep::SweepOptions { alphas: vec![0.0, 1.0], ratios: vec![0.5], seeds: vec![0], n: 8, scores };
    let sweep = pollster::block_on(session.alpha_sweep(&sweep_options, None, &mut |_| {})).unwrap();
    assert_eq!(sweep.metric, hies::config::Metric::Pearson);
    for p in &sweep.curve {
        let prune = PruneOptions {
            criterion: Criterion::Hies,
            ratio: 0.5,
            per_layer: false,
            iterative_step: None,
            scores: ScoreOptions { alpha: p.alpha, ..scores },
            random_seed: 0,
        };
        let plan = pollster::block_on(
            session.plan(&hies::session::PlanRequest { calibration: hies::session::Calibration { n: 8, seed: 0 }, options: prune }, &mut |_, _| {}),
        )
        .unwrap();
        let r = pollster::block_on(session.evaluate(&hies::report::Removal { heads: plan.pruned, structural: false }, &mut |_| {}))
            .unwrap()
            .pearson
            .unwrap();
        assert!((p.wauc[0] - r).abs() < 1e-5, "α {}: wAUC {} vs r {r}", p.alpha, p.wauc[0]);
    }

    // Inspect: the score, no softmax; importance is |∂ŷ/∂ξ| (nonzero: the loss against its own
    // prediction would be flat).
    let ex = &examples[0];
    let got = pollster::block_on(session.inspect(&ex.text, ex.text_pair.as_deref(), &fx.mask_off)).unwrap();
    assert!(got.full.probs.is_none() && got.full.label.is_none());
    assert!(
        (got.full.logits[0] as f64 - fx.examples[0].logits[0]).abs() < 1e-4
            && (got.pruned.logits[0] as f64 - fx.examples[0].masked_logits[0]).abs() < 1e-4
    );
    let grad: Vec<Vec<f64>> = serde_json::from_value(raw["examples"][0]["score_grad"].clone()).unwrap();
    for (g, w) in got.importance.iter().flatten().zip(grad.iter().flatten()) {
        assert!((g - w).abs() <= 1e-3 * w.abs() + 1e-6, "|dŷ/dξ| {:?} vs transformers {grad:?}", got.importance);
    }

    // hies classify: the score as logits, no probs or label; --data ends on Pearson and Spearman.
    let model = folder("bert-sts");
    let data = model.join("data.tsv");
    let out = classify(&["--model", model.to_str().unwrap(), "--data", data.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 17);
    assert!(lines[0]["probs"].is_null() && lines[0]["label"].is_null() && lines[0]["gold"].as_f64() == Some(4.2), "{}", lines[0]);
    assert!((lines[0]["logits"][0].as_f64().unwrap() - fx.examples[0].logits[0]).abs() < 1e-4);
    let last = &lines[16];
    assert!(last["accuracy"].is_null(), "{last}");
    assert!(
        (last["pearson"].as_f64().unwrap() - want("pearson")).abs() < 1e-5 && (last["spearman"].as_f64().unwrap() - want("spearman")).abs() < 1e-5,
        "{last}"
    );
    // A class name where a score belongs names the line and the reason.
    let bad = std::env::temp_dir().join(format!("hies-sts-bad-{}.tsv", std::process::id()));
    std::fs::write(&bad, "4.0\ta\tb\nsimilar\tc\td\n").unwrap();
    let out = classify(&["--model", model.to_str().unwrap(), "--data", bad.to_str().unwrap()], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 2") && err.contains("\"similar\" is not a number") && err.contains("regression head"),
        "{err}"
    );
    std::fs::remove_file(&bad).unwrap();
}

#[test]
fn pre_training_heads_are_ignored_with_a_notice() {
    let (mut config, t, tok) = pair_files();
    config["architectures"] = serde_json::json!(["BertForPreTraining"]);
    config.as_object_mut().unwrap().remove("id2label");
    // BertForPreTraining: the encoder under bert., the heads under cls.
    let mut pre: Vec<_> = t
        .iter()
        .filter(|x| !x.0.starts_with("classifier"))
        .map(|(n, d, s, b)| (format!("bert.{}", n.trim_start_matches("bert.")), *d, s.clone(), b.clone()))
        .collect();
    let f16 = |n: usize| vec![0u8; 2 * n];
    for (name, shape) in [
        ("cls.predictions.bias", vec![200]),
        ("cls.predictions.transform.dense.weight", vec![64, 64]),
        ("cls.predictions.transform.dense.bias", vec![64]),
        ("cls.predictions.transform.LayerNorm.weight", vec![64]),
        ("cls.predictions.transform.LayerNorm.bias", vec![64]),
        ("cls.seq_relationship.weight", vec![2, 64]),
        ("cls.seq_relationship.bias", vec![2]),
    ] {
        let n = shape.iter().product();
        pre.push((name.to_string(), safetensors::Dtype::F16, shape, f16(n)));
    }
    let e = load_edited(&config, &pre, &tok).expect("BertForPreTraining loads as its encoder");
    assert!(e.classifier.is_none());
    let notices = e.notices();
    assert!(notices.len() == 1 && notices[0].contains("7 tensors that this model does not use") && notices[0].contains("cls."), "{notices:?}");
    // Same encoder as the classification checkpoint: same hidden states.
    let (plain, _, _) = load("bert-pair");
    let s = ["two children run".to_string()];
    let (a, b) = (pollster::block_on(e.embed(&s)).unwrap(), pollster::block_on(plain.embed(&s)).unwrap());
    assert_eq!(a[0].embedding, b[0].embedding);
}

#[test]
fn sharded_checkpoints_load_and_pickles_are_refused_with_the_command_that_converts_them() {
    // transformers' own sharding (save_pretrained with max_shard_size) of the bert-pair weights.
    let sharded = ModelDir::read(&folder("bert-pair-sharded")).unwrap();
    let one = ModelDir::read(&folder("bert-pair")).unwrap();
    let device = burn::tensor::Device::flex();
    let a = Engine::load(&sharded.files(), device.clone(), Backend::Cpu).unwrap();
    let b = Engine::load(&one.files(), device, Backend::Cpu).unwrap();
    let input = [("A dog catches a red ball in the air.", Some("An animal is playing."))];
    assert_eq!(pollster::block_on(a.logits(&a.model, &input, &[])).unwrap(), pollster::block_on(b.logits(&b.model, &input, &[])).unwrap());

    let tmp = std::env::temp_dir().join(format!("hies-shards-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"] {
        std::fs::copy(folder("bert-pair-sharded").join(f), tmp.join(f)).unwrap();
    }
    let e = ModelDir::read(&tmp).err().expect("a missing shard is refused").to_string();
    assert!(e.contains("model-00002-of-00002.safetensors"), "{e}");
    // A shard holding a tensor the index puts elsewhere.
    std::fs::copy(folder("bert-pair-sharded").join("model-00001-of-00002.safetensors"), tmp.join("model-00002-of-00002.safetensors")).unwrap();
    let e = ModelDir::read(&tmp).err().expect("a wrong shard is refused").to_string();
    assert!(e.contains("model-00002-of-00002.safetensors holds") && e.contains("elsewhere"), "{e}");
    for f in ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
        std::fs::remove_file(tmp.join(f)).unwrap();
    }
    std::fs::write(tmp.join("pytorch_model.bin"), b"PK\x03\x04 not read").unwrap();
    let e = ModelDir::read(&tmp).err().expect("a pickle is refused").to_string();
    assert!(e.contains("pytorch_model.bin is a PyTorch pickle") && e.contains("weights_only=True") && e.contains("save_file"), "{e}");
    std::fs::remove_file(tmp.join("pytorch_model.bin")).unwrap();
    std::fs::write(tmp.join("tf_model.h5"), b"HDF").unwrap();
    let e = ModelDir::read(&tmp).err().expect("TensorFlow weights are refused").to_string();
    assert!(e.contains("tf_model.h5 holds TensorFlow or Flax weights") && e.contains("from_tf=True"), "{e}");
    std::fs::remove_dir_all(&tmp).unwrap();
}

fn classify(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hies"))
        .arg("classify")
        .args(args)
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hies_classify_reads_pairs_and_labelled_files() {
    let fx: Expected = serde_json::from_slice(&std::fs::read(folder("bert-pair").join("expected.json")).unwrap()).unwrap();
    let model = folder("bert-pair");
    let model = model.to_str().unwrap();
    let input: String = fx.examples.iter().map(|e| format!("{}\t{}\n", e.text, e.text_pair.as_deref().unwrap())).collect();
    let out = classify(&["--model", model], &input);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), fx.examples.len());
    let mut largest = 0f64;
    for (line, want) in lines.iter().zip(&fx.examples) {
        let ids: Vec<u32> = serde_json::from_value(line["ids"].clone()).unwrap();
        let types: Vec<u32> = serde_json::from_value(line["token_type_ids"].clone()).unwrap();
        assert_eq!((ids, types), (want.input_ids.clone(), want.token_type_ids.clone()));
        let logits: Vec<f32> = serde_json::from_value(line["logits"].clone()).unwrap();
        largest = largest.max(worst(&logits, &want.logits));
        assert!(line["label_name"].is_string() && line["probs"].as_array().unwrap().len() == 3);
    }
    assert!(largest <= 1e-4, "classify logits {largest:e}");

    // --data: each line with its gold label, then the accuracy transformers' logits give.
    let data = folder("bert-pair").join("data.tsv");
    let out = classify(&["--model", model, "--data", data.to_str().unwrap()], "");
    let text = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let labels = ["entailment", "neutral", "contradiction"];
    let argmax = |v: &[f64]| v.iter().enumerate().fold((0, f64::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0;
    let gold = std::fs::read_to_string(&data).unwrap();
    let correct = gold.lines().zip(&fx.examples).filter(|(l, e)| l.split('\t').next() == Some(labels[argmax(&e.logits)])).count();
    assert_eq!(last["n"].as_u64(), Some(16));
    assert!((last["accuracy"].as_f64().unwrap() - correct as f64 / 16.0).abs() < 1e-12, "{last}");

    // Mixed single sentences and pairs, and a model without a classifier, are refused.
    let out = classify(&["--model", model], "a\tb\nc\n");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("line 2"));
    let bare = std::env::temp_dir().join(format!("hies-bare-{}", std::process::id()));
    std::fs::create_dir_all(&bare).unwrap();
    let (mut config, t, tok) = pair_files();
    config["architectures"] = serde_json::json!(["BertModel"]);
    let encoder: Vec<_> = t
        .iter()
        .filter(|x| !x.0.starts_with("classifier"))
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(bare.join("model.safetensors"), safetensors::serialize(encoder, None).unwrap()).unwrap();
    std::fs::write(bare.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    std::fs::write(bare.join("tokenizer.json"), tok).unwrap();
    let out = classify(&["--model", bare.to_str().unwrap()], "a\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no classifier of its own") && err.contains("--classifier"), "{err}");
    std::fs::remove_dir_all(&bare).unwrap();
}

/// The tiny checkpoint `name` with other weights.
fn with_weights(name: &str, weights: Vec<u8>) -> hies::Result<Engine> {
    let (config, tokenizer) = (std::fs::read(folder(name).join("config.json")).unwrap(), std::fs::read(folder(name).join("tokenizer.json")).unwrap());
    let files = hies::ModelFiles {
        config: &config,
        weights: &weights,
        tokenizer: &tokenizer,
        modules: None,
        pooling: None,
        sentence_bert_config: None,
        adapter: None,
    };
    Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu)
}

#[test]
fn a_family_checkpoint_with_a_tensor_missing_names_it_as_the_family_does() {
    let dir = folder("distilbert");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = st.tensors().into_iter().filter(|(n, _)| n != "distilbert.transformer.layer.1.ffn.lin2.bias").collect();
    let e = with_weights("distilbert", safetensors::serialize(kept, None).unwrap()).err().expect("refused").to_string();
    assert!(e.contains("missing tensor \"transformer.layer.1.ffn.lin2.bias\""), "{e}");
    // And a DistilBERT classifier without pre_classifier says so in DistilBERT's words.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<_> = st.tensors().into_iter().filter(|(n, _)| !n.starts_with("pre_classifier")).collect();
    let e = with_weights("distilbert", safetensors::serialize(kept, None).unwrap()).err().expect("refused").to_string();
    assert!(e.contains("no \"pre_classifier.weight\"") && e.contains("relu(pre_classifier(h[CLS]))"), "{e}");
}

/// A checkpoint saved with heads sliced out: they count as pruned (first in every order), the
/// min-max leaves them out, and the loading notice says so.
#[test]
fn heads_sliced_out_before_saving_count_as_pruned_and_stay_out_of_the_min_max() {
    let (engine, fx, examples) = load("bert-pair");
    let config = std::fs::read(folder("bert-pair").join("config.json")).unwrap();
    let pruned = pollster::block_on(hies::export::export(&engine, &config, &fx.mask_off)).unwrap();
    let tokenizer = std::fs::read(folder("bert-pair").join("tokenizer.json")).unwrap();
    let files = hies::ModelFiles {
        config: pruned.config.as_bytes(),
        weights: &pruned.weights,
        tokenizer: &tokenizer,
        modules: None,
        pooling: None,
        sentence_bert_config: None,
        adapter: None,
    };
    let again = Engine::load(&files, burn::tensor::Device::flex(), Backend::Cpu).unwrap();
    let mut absent = fx.mask_off.clone();
    absent.sort();
    assert_eq!(again.absent_heads(), absent);
    assert!(again.notices().iter().any(|n| n.contains("4 heads were sliced out") && n.contains("count as pruned")), "{:?}", again.notices());
    let s = pollster::block_on(again.score(&examples, &[], ScoreOptions::default(), &mut |_, _| {})).unwrap();
    assert_eq!(s.absent_heads, absent);
    let present: Vec<f64> = (0..2).flat_map(|l| (0..4).map(move |h| (l, h))).filter(|x| !absent.contains(x)).map(|(l, h)| s.his[l][h]).collect();
    let (lo, hi) = present.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    assert_eq!((lo, hi), (0.0, 1.0), "HIS min-max over the 4 heads the model has: {:?}", s.his);
    assert!(absent.iter().all(|&(l, h)| s.his[l][h] == 0.0 && s.hies[l][h] == 0.0));
    for criterion in [hies::prune::Criterion::Hies, hies::prune::Criterion::Entropy, hies::prune::Criterion::WeightNorm] {
        let keep = hies::prune::keep_score(criterion, &s, 0);
        let mut first = hies::analysis::select_pruned(&keep, 4, false, &[]);
        first.sort();
        assert_eq!(first, absent, "{criterion:?}: the absent heads come first");
        // Then the heads the model has, lowest keep score first.
        let next = &hies::analysis::select_pruned(&keep, 6, false, &[])[4..];
        let mut present: Vec<(usize, usize)> = (0..2).flat_map(|l| (0..4).map(move |h| (l, h))).filter(|x| !absent.contains(x)).collect();
        present.sort_by(|a, b| keep[a.0][a.1].total_cmp(&keep[b.0][b.1]).then(a.cmp(b)));
        assert_eq!(next, &present[..2], "{criterion:?}");
    }
}

/// RobertaModel's own pooler next to RobertaForSequenceClassification's head (checkpoints saved
/// from a model with both): transformers drops the pooler, and so do we, with a note.
#[test]
fn a_roberta_classifier_that_still_carries_the_encoder_pooler_loads_without_it() {
    let dir = folder("roberta");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (w, b) = (vec![0u8; 64 * 64 * 2], vec![0u8; 64 * 2]);
    let mut views: Vec<_> = st.tensors();
    views.push(("roberta.pooler.dense.weight".into(), safetensors::tensor::TensorView::new(safetensors::Dtype::BF16, vec![64, 64], &w).unwrap()));
    views.push(("roberta.pooler.dense.bias".into(), safetensors::tensor::TensorView::new(safetensors::Dtype::BF16, vec![64], &b).unwrap()));
    let e = with_weights("roberta", safetensors::serialize(views, None).unwrap()).unwrap();
    assert!(e.notices().iter().any(|n| n.contains("roberta.pooler.dense")), "{:?}", e.notices());
    let (_, fx, _) = load("roberta");
    let x = &fx.examples[0];
    let got = pollster::block_on(e.logits(&e.model, &[(x.text.as_str(), x.text_pair.as_deref())], &[])).unwrap();
    assert!(worst(&got, &x.logits) <= 1e-4, "the head still reads classifier.dense, not the pooler");
}

/// A model labelled otherwise is never given the built-in data, whose 0/1 labels would be read
/// as its classes.
#[test]
fn the_built_in_data_is_refused_for_a_model_with_other_labels() {
    let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let e = hies::data::builtin_data_fits(Gold::Labels(&labels(&["entailment", "neutral", "contradiction"]))).unwrap_err().to_string();
    assert!(e.contains("entailment / neutral / contradiction") && e.contains("negative / positive") && e.contains("labelled file"), "{e}");
    hies::data::builtin_data_fits(Gold::Labels(&labels(&["Negative", "POSITIVE"]))).unwrap();
    assert!(hies::data::builtin_data_fits(Gold::Labels(&labels(&["positive", "negative"]))).is_err(), "order matters: index 0 is negative");
    // The CLI: a pair model without --data.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hies"))
        .args(["score", "--model", folder("bert-pair").to_str().unwrap(), "--n", "4"])
        .current_dir(root())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("built-in data") && err.contains("--data"), "{err}");
}
