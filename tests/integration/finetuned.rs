//! The fine-tuned default model (the committed PEFT LoRA adapter merged at load) against the
//! float64 reference that merges it independently; bad adapters refused; the adapter reproduced
//! by its command; the α sweep and the paper check on small inputs, against brute force; the
//! passes behind them (length-sorted, heads sliced out, [CLS] alone in the last layer) against
//! the streamed, masked passes.

use std::sync::{Arc, OnceLock};

use hies::engine::AdapterFiles;
use hies::manifest::manifest;
use hies::paper::{PaperCheckOptions, Verdict};
use hies::report::Removal;
use hies::sweep::SweepOptions;
use hies::{Backend, Engine, Session, SessionOptions};
use serde::Deserialize;

use crate::common::*;

fn adapter_file(name: &str) -> Vec<u8> {
    std::fs::read(root().join(&manifest().finetuned.dir).join(name)).expect("the committed adapter")
}

fn load_with(config: &[u8], weights: &[u8], training: &[u8]) -> hies::Result<Engine> {
    let dir = model_dir();
    let mut files = dir.files();
    files.adapter = Some(AdapterFiles { config, weights, training });
    Engine::load(&files, pollster::block_on(hies::device::device(Backend::Cpu)).unwrap(), Backend::Cpu)
}

/// The fine-tuned model, loaded once.
fn finetuned() -> Arc<Engine> {
    static E: OnceLock<Arc<Engine>> = OnceLock::new();
    E.get_or_init(|| {
        let f = &manifest().finetuned.files;
        Arc::new(load_with(&adapter_file(&f.config), &adapter_file(&f.weights), &adapter_file(&f.training)).expect("the committed adapter merges"))
    })
    .clone()
}

#[derive(Deserialize)]
struct FinetunedFixture {
    merged_layers: usize,
    sentences: Vec<FixtureSentence>,
}

#[derive(Deserialize)]
struct FixtureSentence {
    text: String,
    logits: Vec<f64>,
}

#[test]
fn merged_adapter_logits_match_the_independent_float64_merge() {
    let fx: FinetunedFixture = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/finetuned.json")).unwrap()).unwrap();
    assert_eq!(fx.merged_layers, 12, "LoRA on query and value in 6 layers");
    let e = finetuned();
    assert_eq!(e.classifier().unwrap().labels, vec!["negative", "positive"]);
    let mut worst = 0f64;
    for s in &fx.sentences {
        let got = pollster::block_on(e.logits(&e.model, &[(s.text.as_str(), None)], &[])).unwrap();
        for (g, w) in got.iter().zip(&s.logits) {
            worst = worst.max((*g as f64 - w).abs());
        }
    }
    eprintln!("fine-tuned logits vs float64 reference: max |Δ| {worst:e}");
    assert!(worst <= 1e-4, "max |Δ| {worst:e} (if the adapter was retrained: python3 scripts/reference.py --finetuned-only)");
    // And the adapter changed the model: the base encoder has no classifier at all.
    assert!(engine(Backend::Cpu).classifier.is_none());
}

#[test]
fn bad_adapters_are_refused_with_the_problem_named() {
    let f = &manifest().finetuned.files;
    let (config, weights, training) = (adapter_file(&f.config), adapter_file(&f.weights), adapter_file(&f.training));
    let err = |c: &[u8], w: &[u8], t: &[u8]| load_with(c, w, t).err().map(|e| e.to_string()).unwrap_or_default();

    let dora = String::from_utf8(config.clone()).unwrap().replace("\"LORA\"", "\"IA3\"");
    assert!(err(dora.as_bytes(), &weights, &training).contains("only LORA adapters"), "peft_type");
    let bias = String::from_utf8(config.clone()).unwrap().replace("\"bias\": \"none\"", "\"bias\": \"all\"");
    assert!(err(bias.as_bytes(), &weights, &training).contains("bias"), "bias");
    let rank = String::from_utf8(config.clone()).unwrap().replace("\"r\": 8", "\"r\": 4");
    assert!(err(rank.as_bytes(), &weights, &training).contains("r = 4"), "{}", err(rank.as_bytes(), &weights, &training));
    assert!(err(&config, &weights[..100], &training).contains("adapter_model.safetensors"), "truncated");
    let three = br#"{"labels": ["a", "b", "c"]}"#;
    let e = err(&config, &weights, three);
    assert!(e.contains("3 labels") && e.contains("2 classifier rows"), "{e}");
    assert!(err(&config, &weights, b"[]").contains("training.json"), "training.json");
}

#[test]
fn the_committed_adapter_reproduces_from_its_command() {
    let out = std::env::temp_dir().join(format!("hies-finetune-{}", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_hies")).args(["fine-tune", "--out"]).arg(&out).status().unwrap();
    assert!(status.success());
    let f = &manifest().finetuned.files;
    let again = std::fs::read(out.join(&f.weights)).unwrap();
    let rerun: hies::finetune::TrainingRecord = serde_json::from_slice(&std::fs::read(out.join(&f.training)).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let record: hies::finetune::TrainingRecord = serde_json::from_slice(&adapter_file(&f.training)).unwrap();
    if record.simd.as_deref() == Some(hies::finetune::simd_level().as_str()) {
        assert!(again == adapter_file(&f.weights), "`hies fine-tune` no longer reproduces classifiers/…/adapter_model.safetensors byte for byte");
    } else {
        // Another SIMD level sums the matmuls in another order: the same training, not the same bits.
        let (a, b) = (hies::lora::Adapter::tensors(&again).unwrap(), hies::lora::Adapter::tensors(&adapter_file(&f.weights)).unwrap());
        let worst = a.iter().zip(&b).flat_map(|(x, y)| x.values.iter().zip(&y.values).map(|(p, q)| (p - q).abs())).fold(0f32, f32::max);
        let (was, now) = (record.dev_accuracy.unwrap(), rerun.dev_accuracy.unwrap());
        eprintln!(
            "trained at {:?}, reproduced at {}: max |Δ weight| {worst:e}, dev accuracy {was} → {now}",
            record.simd,
            hies::finetune::simd_level()
        );
        assert!((was - now).abs() <= 0.01, "dev accuracy {was} → {now}");
    }
}

fn finetuned_session(calibration: &[hies::data::Example], validation: &[hies::data::Example]) -> Session {
    let s = Session::new(finetuned(), SessionOptions::default());
    s.set_calibration(calibration.to_vec());
    s.set_validation(validation).unwrap();
    s.set_evaluation(validation).unwrap();
    s
}

/// Passes for totals (the sweep's, the curves', the check's) sort by length, slice the masked
/// heads out and run only [CLS] through the last layer when the classifier reads only it: the
/// same numbers as masking, and the same predictions as the streamed passes.
#[test]
fn the_sorted_pass_predicts_what_the_streamed_masked_pass_does() {
    use burn::tensor::{Tensor, TensorData};
    use hies::evaluate::{CacheBudget, Pruned};

    // The last layer's [CLS] row, three ways: full forward, [CLS] alone, heads sliced out.
    let e = finetuned();
    let (b, t, d) = (2, 7, 384);
    let x = Tensor::<3>::from_data(
        TensorData::new((0..b * t * d).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect::<Vec<_>>(), [b, t, d]),
        &e.device,
    );
    let mask = Tensor::<2>::from_data(TensorData::new(vec![1f32, 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 0., 0., 0.], [b, t]), &e.device);
    let bias = e.model.attention_bias(mask);
    let off = [1usize, 4, 5, 11];
    let mut g = vec![1f32; 12];
    off.iter().for_each(|&h| g[h] = 0.0);
    let gate = || Some(Tensor::<2>::from_data(TensorData::new(g.clone(), [1, 12]), &e.device));
    let layer = &e.model.layers[5];
    let rows = |y: Tensor<3>| y.slice([0..b, 0..1, 0..d]).into_data().try_to_vec::<f32>().unwrap();
    let full = rows(layer.forward(x.clone(), bias.clone(), gate(), false).hidden);
    let first = rows(layer.forward_first(x.clone(), bias.clone(), gate()));
    let sliced = rows(layer.without_heads(&off).forward_first(x.clone(), bias.clone(), None));
    assert!(max_abs_diff(&full, &first) < 1e-5, "[CLS] alone: {}", max_abs_diff(&full, &first));
    assert!(max_abs_diff(&full, &sliced) < 1e-5, "sliced: {}", max_abs_diff(&full, &sliced));

    // Whole passes, on the fine-tuned model ([CLS] pooler) and the probe (mean pooling).
    let examples = calibration_examples();
    let sets: Vec<Vec<(usize, usize)>> = vec![
        vec![],
        vec![(5, 3)],
        vec![(0, 1), (0, 2), (3, 3)],
        vec![(0, 1), (0, 2), (4, 0), (5, 11)],
        (0..12).map(|h| (2, h)).collect(),
        (36..72).map(|i| (i / 12, i % 12)).collect(),
        (0..72).filter(|i| i % 3 != 0).map(|i| (i / 12, i % 12)).collect(),
    ];
    let variants: Vec<Pruned> = sets.iter().map(|h| Pruned::Mask(h)).collect();
    for engine in [finetuned(), classifier_engine()] {
        let set = engine.prepare(&examples, CacheBudget::new(0)).unwrap();
        let streamed = pollster::block_on(engine.stream(&set, &variants, &mut |_| {})).unwrap();
        let sorted = pollster::block_on(engine.pass_sorted(&set, &variants, &mut |_| {})).unwrap();
        assert_eq!(sorted.full, streamed.full);
        assert_eq!(sorted.pruned, streamed.pruned);
        // Not all alike: the sets change predictions.
        assert!(sorted.pruned.iter().any(|p| *p != sorted.full));
    }
}

#[test]
fn the_sweep_is_deterministic_and_equals_evaluating_each_set() {
    let examples = calibration_examples();
    let s = finetuned_session(&examples, &examples);
    let o = SweepOptions { alphas: vec![0.0, 0.5, 1.0], ratios: vec![0.2, 0.6], seeds: vec![0, 1], n: 8, ..SweepOptions::default() };
    let a = pollster::block_on(s.alpha_sweep(&o, None, &mut |_| {})).unwrap();
    let b = pollster::block_on(s.alpha_sweep(&o, None, &mut |_| {})).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::to_value(&b).unwrap(), "the same seed gives the same sweep");
    // Brute force: each α × ratio × seed pruned with the scores' own HIES, evaluated on its own.
    let weights = hies::sweep::ratio_weights(&o.ratios);
    for p in &a.curve {
        for (k, &seed) in o.seeds.iter().enumerate() {
            let sample = hies::data::sample(&examples, o.n, seed);
            let scores =
                pollster::block_on(s.engine().score(&sample, &[], hies::scores::ScoreOptions { alpha: p.alpha, ..o.scores }, &mut |_, _| {}))
                    .unwrap();
            let order = hies::analysis::prune_order(&scores.hies, &[]);
            let acc: Vec<f64> = o
                .ratios
                .iter()
                .map(|&r| {
                    let heads = order[..hies::analysis::heads_for_ratio(r, 72)].to_vec();
                    pollster::block_on(s.evaluate(&Removal { heads, structural: false }, &mut |_| {})).unwrap().quality()
                })
                .collect();
            let want = hies::sweep::wauc(&weights, &acc);
            assert!((p.wauc[k] - want).abs() < 1e-12, "α {} seed {seed}: {} vs {want}", p.alpha, p.wauc[k]);
        }
    }
    let best = a.curve.iter().map(|p| p.wauc_mean).fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(a.curve.iter().find(|p| p.alpha == a.alpha_star).unwrap().wauc_mean, best);
}

#[test]
fn the_paper_check_applies_its_rules_to_its_own_numbers() {
    let examples = calibration_examples();
    let s = finetuned_session(&examples, &examples);
    let o = PaperCheckOptions { alpha: 0.5, seeds: vec![0, 1], n: 8, sizes: vec![4, 8, 16], ..PaperCheckOptions::default() };
    let c = pollster::block_on(s.paper_check(&o, None, &mut |_| {})).unwrap();
    let ids: Vec<&str> = c.claims.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["quality_30", "stability_30", "quality_50", "stability_50", "on_par_10", "stable_from_n", "layer_spread", "flops_50"]);
    for k in &c.claims {
        assert!(!k.paper.is_empty() && !k.ours.is_empty() && !k.how.is_empty(), "{}", k.id);
    }
    // Each quality verdict follows from the curve's own points.
    for (id, r) in [("quality_30", 0.3), ("quality_50", 0.5)] {
        let pt = |crit| c.curves.points.iter().find(|p| p.criterion == crit && p.ratio == r).unwrap();
        let (a, b) = (pt(hies::prune::Criterion::Hies), pt(hies::prune::Criterion::His));
        let (d, spread) = (a.accuracy_mean - b.accuracy_mean, (a.accuracy_std.powi(2) + b.accuracy_std.powi(2)).sqrt());
        let want = if d > spread {
            Verdict::Holds
        } else if d < -spread {
            Verdict::DoesNotHold
        } else {
            Verdict::WithinSeedSpread
        };
        assert_eq!(c.claims.iter().find(|k| k.id == id).unwrap().verdict, want, "{id}");
    }
    // Half the heads of MiniLM leave the feed-forward blocks: about 20-35 % of the FLOPs go.
    assert!(c.flops_saved_50 > 0.1 && c.flops_saved_50 < 0.4, "{}", c.flops_saved_50);
    assert_eq!(c.sizes.iter().map(|p| p.n).collect::<Vec<_>>(), vec![4, 8, 16]);
    // n joins the sizes when it is not among them; a size above n is required.
    let o2 = PaperCheckOptions { sizes: vec![4, 16], ..o.clone() };
    let c2 = pollster::block_on(s.paper_check(&o2, None, &mut |_| {})).unwrap();
    assert_eq!(c2.sizes.iter().map(|p| p.n).collect::<Vec<_>>(), vec![4, 8, 16]);
    let o3 = PaperCheckOptions { sizes: vec![4, 8], ..o };
    assert!(pollster::block_on(s.paper_check(&o3, None, &mut |_| {})).is_err());
    assert!(c.sizes.iter().all(|p| p.spearman_mean.abs() <= 1.0 + 1e-12));
}
