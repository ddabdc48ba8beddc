//! HIES Lab: a BERT encoder in burn with a gate on every attention head, the same code natively
//! (CLI, tests) and in the browser (wasm, WebGPU or CPU).

pub mod analysis;
pub mod batch;
pub mod classifier;
pub mod config;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod flops;
pub mod model;
pub mod prune;
pub mod rng;
pub mod scores;
pub mod tokenize;
pub mod train;
pub mod weights;

#[cfg(target_family = "wasm")]
mod wasm;

pub use device::Backend;
pub use engine::{AttentionMaps, Embedded, Engine, ModelFiles};
pub use error::{Error, ErrorKind, Result};

/// The model folder that `scripts/setup-assets.py` fills, relative to the repository root.
pub const DEFAULT_MODEL_DIR: &str = "assets/models/all-MiniLM-L6-v2";
/// The committed sentiment head for MiniLM (`hies train-head` writes it) and its sidecar.
pub const DEFAULT_HEAD: &str = "heads/minilm-rotten-tomatoes.safetensors";
/// The Rotten Tomatoes split that `scripts/setup-assets.py` writes.
pub const DEFAULT_TRAIN: &str = "assets/data/rotten-tomatoes/train.tsv";
pub const DEFAULT_DEV: &str = "assets/data/rotten-tomatoes/dev.tsv";
