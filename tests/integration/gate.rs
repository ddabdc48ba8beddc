//! Head-mask semantics: ξ = 1 everywhere is the unmasked model; ξ[l,h] = 0 is the same as zeroing
//! that head's slice of the context (the rows of attention.output.dense that read it).

use burn::tensor::{Tensor, TensorData};
use hies::Backend;
use hies::batch::Batch;
use hies::engine::read;

use crate::common::*;

fn hidden(engine: &hies::Engine, head_mask: Option<Tensor<3>>) -> Vec<f32> {
    let e = engine.tokenize("the acting is wooden but the score soars").unwrap();
    let e2 = engine.tokenize("meh").unwrap();
    let batch = Batch::new(&[e.ids.as_slice(), e2.ids.as_slice()], 0);
    pollster::block_on(read(engine.forward(&batch, head_mask, false).0.last_hidden_state)).unwrap()
}

#[test]
fn all_ones_head_mask_equals_none() {
    let engine = engine(Backend::Cpu);
    let d = max_abs_diff(&hidden(&engine, None), &hidden(&engine, Some(head_mask_without(&engine, &[]))));
    assert_eq!(d, 0.0, "an all-ones head mask must not change a single value");
}

#[test]
fn zeroed_head_equals_zeroed_context_slice() {
    let reference = engine(Backend::Cpu);
    let c = reference.config().clone();
    let dh = c.head_dim();
    for [l, h] in [[0usize, 2usize], [3, 7], [5, 11]] {
        let gated = hidden(&reference, Some(head_mask_without(&reference, &[[l, h]])));
        let ungated = hidden(&reference, None);
        assert!(max_abs_diff(&gated, &ungated) > 1e-4, "gating head {l}.{h} must change something");

        // Same model with rows h*dh..(h+1)*dh of attention.output.dense ([in, out]) zeroed.
        let mut surgery = load_engine(Backend::Cpu);
        let dense = &mut surgery.model.layers[l].attention.output_dense;
        let mut w = pollster::block_on(read(dense.weight.clone())).unwrap();
        w[h * dh * c.hidden_size..(h + 1) * dh * c.hidden_size].fill(0.0);
        dense.weight = Tensor::from_data(TensorData::new(w, [c.hidden_size, c.hidden_size]), &surgery.device);
        let sliced = hidden(&surgery, None);
        let d = max_abs_diff(&gated, &sliced);
        assert!(d <= 1e-5, "head {l}.{h}: gate vs context slice differ by {d:e}");
    }
}

#[test]
fn per_example_head_mask_rows_act_on_their_own_example() {
    // A [B, L, H] mask whose rows differ must give each example what a shared mask gives it alone.
    let engine = engine(Backend::Cpu);
    let off = [(1usize, 4usize), (2, 0)];
    let shared_off = hidden(&engine, Some(engine.head_mask(&off)));
    let shared_on = hidden(&engine, None);
    let rows = Tensor::cat(vec![engine.head_mask(&off), engine.head_mask(&[])], 0); // [2, L, H]
    let mixed = hidden(&engine, Some(rows));
    let half = mixed.len() / 2;
    assert_eq!(max_abs_diff(&mixed[..half], &shared_off[..half]), 0.0);
    assert_eq!(max_abs_diff(&mixed[half..], &shared_on[half..]), 0.0);
}
