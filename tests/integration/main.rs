//! The integration tests, in one binary (each binary links burn and wgpu again: minutes on two
//! cores). Shared fixtures are in `common`: the fetched MiniLM, loaded once per process, and the
//! committed reference fixtures.

mod bad_input;
mod cli;
mod common;
mod export;
mod finetuned;
mod gate;
mod parity;
mod quantize;
mod ranking;
mod scores;
mod session;
mod tiny;
mod wgpu;
