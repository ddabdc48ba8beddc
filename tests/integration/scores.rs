//! Head scores against the float64 reference (central differences on the head mask), and the
//! pruning machinery: masked = structural, iterative with one step = one-shot.

use hies::analysis::{self, HisNorm};
use hies::data::{Example, Gold};
use hies::manifest::manifest;
use hies::prune::{Criterion, PruneOptions};
use hies::scores::ScoreOptions;
use serde::Deserialize;

use crate::common::*;

#[derive(Deserialize)]
struct ScoreFixture {
    examples: Vec<FixtureExample>,
    tokens: usize,
    entropy: Vec<Vec<f64>>,
    entropy_nats: Vec<Vec<f64>>,
    confidence: Vec<Vec<f64>>,
    his_raw: Vec<Vec<f64>>,
    his_token_mean: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct FixtureExample {
    label: usize,
    text: String,
}

fn score_fixture() -> (ScoreFixture, Vec<Example>) {
    let f: ScoreFixture = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/scores.json")).unwrap()).unwrap();
    let ex = f.examples.iter().map(|e| Example::single(e.label, e.text.clone())).collect();
    (f, ex)
}

#[test]
fn entropy_confidence_and_his_match_reference() {
    let engine = classifier_engine();
    let (fx, examples) = score_fixture();
    let s = pollster::block_on(engine.score(&examples, &[], ScoreOptions::default(), &mut |_, _| {})).unwrap();
    assert_eq!((s.n, s.tokens), (16, fx.tokens));
    let (mut worst_ae, mut worst_his) = (0f64, 0f64);
    for l in 0..s.layers {
        for h in 0..s.heads {
            for (name, got, want) in [
                ("entropy", s.entropy[l][h], fx.entropy[l][h]),
                ("entropy_nats", s.entropy_nats[l][h], fx.entropy_nats[l][h]),
                ("confidence", s.confidence[l][h], fx.confidence[l][h]),
            ] {
                assert!((got - want).abs() <= 1e-5, "{name}[{l}][{h}]: {got} vs {want}");
                worst_ae = worst_ae.max((got - want).abs());
            }
            // Both presets' raw HIS: bertology's plain mean and the paper's token average.
            for (name, got, want) in
                [("his_raw", s.his_raw[l][h], fx.his_raw[l][h]), ("his_token_mean", s.his_token_mean[l][h], fx.his_token_mean[l][h])]
            {
                let rel = (got - want).abs() / want.abs();
                worst_his = worst_his.max(rel);
                assert!(rel <= 1e-3, "{name}[{l}][{h}]: {got:e} vs {want:e} (relative {rel:e})");
            }
        }
    }
    eprintln!("max |Δ| entropy/confidence {worst_ae:e}, max relative Δ his_raw/his_token_mean {worst_his:e}");

    // HIES from the same tables: α = 1 is HIS, α = 0 is 1 − mm(entropy); the default HIS is normalised.
    let one = s.with_options(ScoreOptions { alpha: 1.0, ..ScoreOptions::default() });
    assert_eq!(one.hies, one.his);
    let flat: Vec<f64> = s.his.iter().flatten().copied().collect();
    assert_eq!(flat.iter().cloned().fold(f64::INFINITY, f64::min), 0.0);
    assert_eq!(flat.iter().cloned().fold(f64::NEG_INFINITY, f64::max), 1.0);
    let off = HisNorm { token_mean: false, layer_l2: false, global_min_max: false };
    assert_eq!(s.with_options(ScoreOptions { his_norm: off, ..ScoreOptions::default() }).his, s.his_raw);
    let tokens = s.with_options(ScoreOptions { his_norm: HisNorm { token_mean: true, ..off }, ..ScoreOptions::default() });
    assert_eq!(tokens.his, s.his_token_mean);
    // The paper preset (the default) is the token average min-maxed over all heads.
    assert_eq!(s.his, analysis::min_max(&s.his_token_mean, &[]));
    let bertology = s.with_options(ScoreOptions { his_norm: HisNorm::bertology(), ..ScoreOptions::default() });
    let l2: Vec<Vec<f64>> = s
        .his_raw
        .iter()
        .map(|r| {
            let n = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            r.iter().map(|x| x / n).collect()
        })
        .collect();
    let want = analysis::min_max(&l2, &[]);
    assert!(bertology.his.iter().flatten().zip(want.iter().flatten()).all(|(a, b)| (a - b).abs() < 1e-12));
    // And they rank differently on real gradients (else the preset would not matter).
    assert_ne!(analysis::prune_order(&s.his, &[]), analysis::prune_order(&bertology.his, &[]));
}

#[test]
fn masked_and_structural_models_give_the_same_logits() {
    let engine = classifier_engine();
    let texts: Vec<String> = score_fixture().1.iter().map(|e| e.text.clone()).collect();
    let whole_layer: Vec<(usize, usize)> = (0..12).map(|h| (3, h)).collect();
    let mut mixed = whole_layer.clone();
    mixed.extend([(0, 0), (0, 5), (5, 11), (1, 7)]);
    let spread: Vec<(usize, usize)> = (0..72).filter(|i| i % 3 == 0).map(|i| (i / 12, i % 12)).collect();
    for off in [vec![(2, 4)], whole_layer, mixed, spread] {
        let small = engine.model.without_heads(&off);
        assert!(small.num_params() < engine.model.num_params());
        let masked = pollster::block_on(engine.logits(&engine.model, &singles(&texts), &off)).unwrap();
        let structural = pollster::block_on(engine.logits(&small, &singles(&texts), &[])).unwrap();
        let d = max_abs_diff(&masked, &structural);
        assert!(d <= 1e-4, "{} heads off: masked vs structural logits differ by {d:e}", off.len());
        // And pruning changed something.
        let full = pollster::block_on(engine.logits(&engine.model, &singles(&texts), &[])).unwrap();
        assert!(max_abs_diff(&full, &masked) > 1e-4);
    }
    // Parameters: each head holds 3·(D·dh + dh) + dh·D.
    let small = engine.model.without_heads(&[(0, 0), (1, 1)]);
    assert_eq!(engine.model.num_params() - small.num_params(), 2 * (3 * (384 * 32 + 32) + 32 * 384));
}

#[test]
fn iterative_with_one_step_equals_one_shot() {
    let engine = classifier_engine();
    let (_, examples) = score_fixture();
    for criterion in [Criterion::Hies, Criterion::His, Criterion::Entropy] {
        let mut o = PruneOptions { criterion, ratio: 0.3, per_layer: false, iterative_step: None, scores: ScoreOptions::default(), random_seed: 0 };
        let (one_shot, _) = pollster::block_on(engine.plan_pruning(&examples, &o, &mut |_, _| {})).unwrap();
        o.iterative_step = Some(0.3);
        let (one_step, _) = pollster::block_on(engine.plan_pruning(&examples, &o, &mut |_, _| {})).unwrap();
        assert_eq!(one_shot, one_step, "{criterion:?}");
        assert_eq!(one_shot.len(), 22);
        // Several steps re-score and may choose differently, but prune as many.
        o.iterative_step = Some(0.1);
        let (iterative, _) = pollster::block_on(engine.plan_pruning(&examples, &o, &mut |_, _| {})).unwrap();
        assert_eq!(iterative.len(), 22);
    }
    // Per layer: the same count from every layer (22 over 6 layers → 4 or 3 each).
    let o = PruneOptions {
        criterion: Criterion::Hies,
        ratio: 0.3,
        per_layer: true,
        iterative_step: None,
        scores: ScoreOptions::default(),
        random_seed: 0,
    };
    let (per_layer, _) = pollster::block_on(engine.plan_pruning(&examples, &o, &mut |_, _| {})).unwrap();
    let counts: Vec<usize> = (0..6).map(|l| per_layer.iter().filter(|p| p.0 == l).count()).collect();
    assert_eq!(counts, vec![4, 4, 4, 4, 3, 3]);
}

#[test]
fn committed_classifier_reaches_its_recorded_dev_accuracy() {
    let meta = classifier_meta();
    let dev = std::fs::read_to_string(root().join(&manifest().data.evaluation)).expect("run scripts/setup-assets.py");
    let dev = hies::data::parse_tsv(&dev, Gold::Labels(&meta.labels)).unwrap();
    assert_eq!(dev.len(), 800);
    let s = session(&dev, 0);
    let e = pollster::block_on(s.evaluate(&Default::default(), &mut |_| {})).unwrap();
    assert_eq!(e.sentences, 800);
    let full = e.full_accuracy.unwrap();
    assert!((full - meta.dev_accuracy.unwrap()).abs() < 2e-3, "dev accuracy {full} vs recorded {:?}", meta.dev_accuracy);
    assert!(full > 0.70, "a frozen MiniLM with a linear classifier reaches about 0.75, got {full}");
}
