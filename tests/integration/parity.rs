//! The CPU (burn flex) engine against the independent float64 reference in tests/fixtures.

use hies::Backend;

use crate::common::*;

#[test]
fn cpu_matches_reference_ids_embeddings_and_attention() {
    let engine = engine(Backend::Cpu);
    check_against_fixture(&engine, usize::MAX, 1e-4, 1e-5);
}

#[test]
fn upstream_cosines_to_four_decimals() {
    let engine = engine(Backend::Cpu);
    let texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."].map(String::from);
    let e = pollster::block_on(engine.embed(&texts)).unwrap();
    let c = |i: usize, j: usize| (cosine(&e[i].embedding, &e[j].embedding) * 1e4).round() / 1e4;
    assert_eq!(c(0, 1), 0.6660);
    assert_eq!(c(0, 2), 0.1046);
    assert_eq!(c(1, 2), 0.1411);
}

#[test]
fn gated_runs_match_reference_head_mask() {
    check_gated_against_fixture(&engine(Backend::Cpu), 1e-4);
}

#[test]
fn padding_in_a_batch_changes_nothing() {
    // The long and the short sentences share batches in `embed`; one at a time must agree.
    let engine = engine(Backend::Cpu);
    let fx = fixture();
    let texts: Vec<String> = fx.sentences.iter().take(8).map(|s| s.text.clone()).collect();
    let together = pollster::block_on(engine.embed(&texts)).unwrap();
    for (t, e) in texts.iter().zip(&together) {
        let alone = pollster::block_on(engine.embed(std::slice::from_ref(t))).unwrap();
        assert!(max_abs_diff(&alone[0].embedding, &e.embedding) <= 1e-5, "{t:?}");
    }
}

#[test]
fn attention_rows_are_distributions() {
    let engine = engine(Backend::Cpu);
    let a = pollster::block_on(engine.attentions("Rows of attention sum to one.")).unwrap();
    assert_eq!(a.attentions.0.len(), a.layers * a.heads * a.len * a.len);
    for row in a.attentions.0.chunks(a.len) {
        let s: f32 = row.iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "row sums to {s}");
    }
}
