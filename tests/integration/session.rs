//! The session the CLI and the page share: `inspect` equals the separate computations it
//! replaces, the layer cache changes memory and never numbers, one pass serves several removals,
//! and bad requests are errors, not panics.

use hies::data::Example;
use hies::report::Removal;
use hies::scores::ScoreOptions;
use hies::session::{Calibration, LatencyRequest, ScoreRequest};
use hies::{Backend, ErrorKind};

use crate::common::*;

fn block<T>(f: impl std::future::Future<Output = hies::Result<T>>) -> T {
    pollster::block_on(f).expect("session call")
}

#[test]
fn inspect_equals_attention_scoring_and_prediction_run_separately() {
    let s = session(&calibration_examples(), 0);
    let e = s.engine().clone();
    let text = "A gripping film, though the ending drags.";
    let off = vec![(0, 3), (2, 7), (5, 11)];
    let got = block(s.inspect(text, None, &off));

    // Attention: a plain forward of the bare encoder.
    let plain = block(engine(Backend::Cpu).attentions(text));
    let m = &got.maps;
    assert_eq!((m.len, m.layers, m.heads, &m.tokens), (plain.len, 6, 12, &plain.tokens));
    let d = max_abs_diff(&m.attentions.0, &plain.attentions.0);
    // A batch of two rows runs other matmul blockings than a batch of one: float rounding only.
    assert!(d <= 1e-5, "attention maps differ by {d:e}");

    // Entropy and confidence: the analysis functions on those maps.
    let stats = hies::analysis::example_head_stats(&plain.attentions.0, 72, plain.len, plain.len);
    for (k, (nats, normed, conf)) in stats.iter().enumerate() {
        let (l, h) = (k / 12, k % 12);
        assert!(
            (got.entropy_nats[l][h] - nats).abs() < 1e-5 && (got.entropy[l][h] - normed).abs() < 1e-5 && (got.confidence[l][h] - conf).abs() < 1e-5
        );
    }

    // Predictions: the classifier's logits, unpruned, masked and sliced.
    let texts = [text.to_string()];
    let full = block(e.logits(&e.model, &singles(&texts), &[]));
    let masked = block(e.logits(&e.model, &singles(&texts), &off));
    let sliced = block(e.logits(&e.model.without_heads(&off), &singles(&texts), &[]));
    assert!(max_abs_diff(&got.full.logits, &full) <= 1e-5, "{:?} vs {full:?}", got.full.logits);
    assert!(max_abs_diff(&got.pruned.logits, &masked) <= 1e-5, "{:?} vs {masked:?}", got.pruned.logits);
    assert!(max_abs_diff(&got.pruned.logits, &sliced) <= 1e-4);
    assert!((got.full.probs.as_ref().unwrap().iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert_eq!(got.heads_pruned, 3);

    // Importance: the scoring pass on this one sentence, labelled with the model's prediction.
    let one = [Example::single(got.full.label.unwrap(), text)];
    let scored = block(e.score(&one, &[], ScoreOptions::default(), &mut |_, _| {}));
    let mut worst = 0f64;
    for l in 0..6 {
        for h in 0..12 {
            let (a, b) = (got.importance[l][h], scored.his_raw[l][h]);
            worst = worst.max((a - b).abs() / b.abs().max(1e-12));
        }
    }
    assert!(worst <= 1e-4, "importance vs scoring: relative difference {worst:e}");
    // Nothing pruned: one row, and the pruned prediction is the full one.
    let alone = block(s.inspect(text, None, &[]));
    assert_eq!(alone.pruned, alone.full);
    for l in 0..6 {
        for h in 0..12 {
            let (a, b) = (alone.importance[l][h], got.importance[l][h]);
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1e-9), "importance[{l}][{h}] with one row {a:e} vs two {b:e}");
        }
    }
}

#[test]
fn the_layer_cache_changes_memory_not_numbers() {
    let examples = calibration_examples();
    let removals = [
        Removal { heads: vec![(4, 1), (4, 2), (5, 0), (5, 7)], structural: false },
        Removal { heads: vec![(1, 0), (3, 3), (3, 4)], structural: true },
        Removal { heads: vec![(0, 2), (2, 2)], structural: false },
    ];
    let run = |budget: usize| {
        let s = session(&examples, budget);
        // Twice: the second pass reads what the first kept.
        let first: Vec<_> = removals.iter().map(|r| block(s.evaluate(r, &mut |_| {}))).collect();
        let second: Vec<_> = removals.iter().map(|r| block(s.evaluate(r, &mut |_| {}))).collect();
        assert_eq!(first, second, "budget {budget}: a second pass gives the same numbers");
        let all = block(s.evaluate_all(&removals, &mut |_, _| {}));
        assert_eq!(all.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), first, "budget {budget}: one pass for all = one pass each");
        (first, all.into_iter().map(|r| r.1).collect::<Vec<_>>(), s.cached_bytes())
    };
    let (none, pred_none, held_none) = run(0);
    // 16 sentences of ≈ 14 tokens: 5 layer inputs × 384 f32 per padded token ≈ 1.7 MB in all;
    // 0.8 MB holds the first batch or two.
    let (part, pred_part, held_part) = run(800_000);
    let (all, pred_all, held_all) = run(64 << 20);
    assert_eq!(held_none, 0);
    assert!(held_part > 0 && held_part <= 800_000, "partial budget holds {held_part} bytes");
    assert!(held_all > held_part, "a large budget holds every batch ({held_all} bytes)");
    assert_eq!(none, part);
    assert_eq!(none, all);
    assert_eq!(pred_none, pred_part);
    assert_eq!(pred_none, pred_all);
    // And every pass, whichever layer it starts from, predicts what the pruned model predicts
    // run from scratch on each sentence alone.
    let e = classifier_engine();
    for (r, pred) in removals.iter().zip(&pred_none) {
        let model = if r.structural { e.model.without_heads(&r.heads) } else { e.model.clone() };
        let mask: &[(usize, usize)] = if r.structural { &[] } else { &r.heads };
        for (i, ex) in examples.iter().enumerate() {
            let logits = block(e.logits(&model, &[(ex.text.as_str(), None)], mask));
            assert_eq!(pred[i], hies::evaluate::argmax_rows(&logits, 2)[0] as f32, "{:?}, sentence {i}", r.heads);
        }
    }
    // The sliced model predicts what the same heads masked predict.
    let s = session(&examples, 0);
    let heads = removals[1].heads.clone();
    let both = block(s.evaluate_all(&[Removal { heads: heads.clone(), structural: false }, Removal { heads, structural: true }], &mut |_, _| {}));
    assert_eq!(both[0].1, both[1].1);
    assert!(both[1].0.parameters < both[0].0.parameters);
    // The classifier gets its own kind of sentences mostly right.
    assert!(none[0].full_quality() >= 0.75, "accuracy {} on the calibration sentences", none[0].full_quality());
}

#[test]
fn replacing_the_evaluation_set_gives_its_cache_back() {
    let examples = calibration_examples();
    let s = session(&examples, 64 << 20);
    block(s.evaluate(&Removal { heads: vec![(3, 3)], structural: false }, &mut |_| {}));
    assert!(s.cached_bytes() > 0);
    s.set_evaluation(&examples[..4]).unwrap();
    assert_eq!(s.cached_bytes(), 0, "the old set's layer inputs are released with it");
}

#[test]
fn streamed_counts_add_up_to_the_final_figures() {
    let s = session(&calibration_examples(), 0);
    let mut seen = Vec::new();
    let r = block(s.evaluate(&Removal { heads: vec![(0, 0), (1, 1), (2, 2)], structural: true }, &mut |p| seen.push(*p)));
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (16, 16));
    assert!(seen.windows(2).all(|w| w[0].done < w[1].done), "counts grow batch by batch");
    assert_eq!(Some(last.correct as f64 / 16.0), r.accuracy);
    assert_eq!(last.agree as f64 / 16.0, r.agreement);
    assert_eq!(Some(last.full_correct as f64 / 16.0), r.full_accuracy);
}

#[test]
fn latency_and_scores_through_the_session() {
    let s = session(&calibration_examples(), 0);
    let t = block(s.latency(&LatencyRequest { removal: Removal { heads: vec![(0, 0)], structural: true }, sentences: 2, rounds: 1 }, &mut |_, _| {}));
    assert!(t.full_ms > 0.0 && t.masked_ms > 0.0 && t.structural_ms.unwrap() > 0.0);
    assert_eq!((t.runs, t.sentences), (2, 2));
    let a = block(s.score(&ScoreRequest { calibration: Calibration { n: 8, seed: 4 }, off: vec![], options: None }, &mut |_, _| {}));
    let b = block(s.score(&ScoreRequest { calibration: Calibration { n: 8, seed: 4 }, off: vec![], options: None }, &mut |_, _| {}));
    assert_eq!((a.n, a.seed), (8, Some(4)));
    assert_eq!(a.his_raw, b.his_raw, "a seed draws the same sample every time");
}

#[test]
fn bad_requests_are_errors_that_say_what_is_wrong() {
    let s = session(&calibration_examples(), 0);
    let e = pollster::block_on(s.inspect("fine", None, &[(6, 0)])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Input);
    assert!(e.to_string().contains("head 6.0 does not exist") && e.to_string().contains("6 layers × 12 heads"), "{e}");
    let e = pollster::block_on(s.evaluate(&Removal { heads: vec![(0, 12)], structural: true }, &mut |_| {})).unwrap_err();
    assert!(e.to_string().contains("head 0.12"), "{e}");
    let e = s.parse_data("1\tgood\nmaybe\tbad\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Data);
    assert!(e.to_string().contains("line 2") && e.to_string().contains("negative"), "{e}");
    let empty = hies::Session::new(classifier_engine(), Default::default());
    assert!(
        pollster::block_on(empty.score(&ScoreRequest { calibration: Calibration { n: 4, seed: 0 }, off: vec![], options: None }, &mut |_, _| {}))
            .unwrap_err()
            .to_string()
            .contains("no calibration set")
    );
    assert!(pollster::block_on(empty.evaluate(&Removal::default(), &mut |_| {})).unwrap_err().to_string().contains("no evaluation set"));
}
