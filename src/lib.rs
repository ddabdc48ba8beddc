//! HIES Lab: a BERT encoder in burn with a gate on every attention head, the same code natively
//! (CLI, tests) and in the browser (wasm, WebGPU or CPU).

pub mod batch;
pub mod config;
pub mod device;
pub mod engine;
pub mod error;
pub mod model;
pub mod tokenize;
pub mod weights;

#[cfg(target_family = "wasm")]
mod wasm;

pub use device::Backend;
pub use engine::{AttentionMaps, Embedded, Engine, ModelFiles};
pub use error::{Error, ErrorKind, Result};

/// The model folder that `scripts/setup-assets.py` fills, relative to the repository root.
pub const DEFAULT_MODEL_DIR: &str = "assets/models/all-MiniLM-L6-v2";
