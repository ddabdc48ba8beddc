//! The wgpu backend against the same float64 reference. Natively without a GPU this runs on Mesa
//! lavapipe (Vulkan on the CPU), which .ci/run installs.

use hies::Backend;

use crate::common::*;

#[test]
fn wgpu_matches_reference() {
    let engine = engine(Backend::Gpu);
    // The GPU multiplies in f32: q8 is refused there, not run as f32 under its name.
    assert!(engine.set_compute(hies::model::Compute::Q8).is_err());
    // Everything but the 512-token sentence: lavapipe is slow and the CPU test covers it.
    check_against_fixture(&engine, 17, 1e-4, 1e-5);
    check_gated_against_fixture(&engine, 1e-4);
}
