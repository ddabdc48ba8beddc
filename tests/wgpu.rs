//! The wgpu backend against the same float64 reference. Natively without a GPU this runs on Mesa
//! lavapipe (Vulkan on the CPU), which .ci/run installs.

mod common;

use common::*;
use hies::Backend;

#[test]
fn wgpu_matches_reference() {
    let engine = engine(Backend::Gpu);
    // Everything but the 512-token sentence: lavapipe is slow and the CPU test covers it.
    check_against_fixture(&engine, 17, 1e-4, 1e-5);
    let fx = fixture();
    for g in &fx.gated {
        let s = &fx.sentences[g.sentence];
        let batch = hies::batch::Batch::new(&[s.ids.as_slice()], 0);
        let (out, mask) = engine.forward(&batch, Some(gate_with_off(&engine, &g.off)), false);
        let got = pollster::block_on(hies::engine::read(hies::model::pool(out.hidden, mask, engine.pooling))).unwrap();
        assert!(max_abs_diff(&got, &g.embedding) <= 1e-4, "gated {:?}", g.off);
    }
}
