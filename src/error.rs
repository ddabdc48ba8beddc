//! One error type for the whole crate: a kind (which input is at fault) and a plain message.
//! It crosses the wasm boundary as a JS `Error` whose message is `Display` of this.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// config.json is unreadable or not a BERT config we can run.
    Config,
    /// The safetensors file is corrupt or does not match the config.
    Weights,
    /// tokenizer.json is unreadable.
    Tokenizer,
    /// A sentence or an argument the caller passed.
    Input,
    /// The compute device failed (no adapter, a lost device, a failed readback).
    Backend,
    /// The caller cancelled the job (`Engine::cancel`).
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    pub fn weights(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Weights, message)
    }
    pub fn tokenizer(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Tokenizer, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, message)
    }
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "the job was cancelled")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Config => "config.json",
            ErrorKind::Weights => "model.safetensors",
            ErrorKind::Tokenizer => "tokenizer.json",
            ErrorKind::Input => "input",
            ErrorKind::Backend => "backend",
            ErrorKind::Cancelled => "cancelled",
        };
        write!(f, "{what}: {}", self.message)
    }
}

impl std::error::Error for Error {}
