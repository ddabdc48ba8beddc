//! HIES Lab: a BERT encoder in burn with a gate on every attention head, and the analysis of
//! those heads (attention entropy, gradient importance HIS, HIES), the same code natively (the
//! `hies` CLI, the tests) and in the browser (wasm, WebGPU or CPU).
//!
//! - [`model`]: BERT, one file per concept, Hugging Face names.
//! - [`engine::Engine`]: a loaded checkpoint on a device (embed, forward, logits).
//! - [`session::Session`]: what a reader's session holds, and every operation the interfaces offer.
//! - [`analysis`], [`scores`], [`prune`], [`evaluate`], [`curves`]: the science, from plain
//!   functions over [L × H] grids to passes over a data set.
//! - [`report`]: the typed results the CLI prints and the page receives, and the CSV schema.
//! - `wasm` (wasm32 only) and `src/main.rs` + `src/cli/`: the two thin front ends.

pub mod analysis;
pub mod batch;
pub mod classifier;
pub mod config;
pub mod curves;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod finetune;
pub mod flops;
pub mod lora;
pub mod manifest;
pub mod model;
pub mod paper;
pub mod prune;
pub mod quantize;
pub mod report;
pub mod rng;
pub mod scores;
pub mod session;
pub mod sweep;
pub mod tokenize;
pub mod train;
pub mod weights;

#[cfg(target_family = "wasm")]
mod wasm;

pub use device::{Backend, BackendChoice};
pub use engine::{AttentionMaps, Embedded, Engine, ModelFiles};
pub use error::{Error, ErrorKind, Result};
pub use session::{Session, SessionOptions};
