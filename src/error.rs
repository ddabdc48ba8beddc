//! One error type for the whole crate: a kind (which input is at fault) and a plain message.
//! In JS it is an `Error` whose message is `Display` of this and whose `kind` property is
//! [`ErrorKind::name`], so callers branch on the kind, never on the text.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// config.json is unreadable or not a BERT config we can run.
    Config,
    /// The safetensors file is corrupt or does not match the config.
    Weights,
    /// tokenizer.json is unreadable.
    Tokenizer,
    /// The classifier file or its sidecar is unreadable or does not fit the model.
    Classifier,
    /// A labelled data file (`label<TAB>text`) is malformed or names unknown labels.
    Data,
    /// A sentence or an argument the caller passed.
    Input,
    /// The compute device failed (no adapter, a lost device, a failed readback).
    Backend,
    /// The caller cancelled the job (`Engine::cancel`).
    Cancelled,
}

impl ErrorKind {
    /// The kind's name in JS (`error.kind`) and in the CLI's messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Weights => "weights",
            Self::Tokenizer => "tokenizer",
            Self::Classifier => "classifier",
            Self::Data => "data",
            Self::Input => "input",
            Self::Backend => "backend",
            Self::Cancelled => "cancelled",
        }
    }

    /// What the message is about, as the reader knows it: the file, or the kind of problem.
    fn subject(self) -> &'static str {
        match self {
            Self::Config => "config.json",
            Self::Weights => "model.safetensors",
            Self::Tokenizer => "tokenizer.json",
            other => other.name(),
        }
    }
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
    pub fn classifier(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Classifier, message)
    }
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
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

    /// The same error with `context` (e.g. a file's path) put in front of its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self { message: format!("{context}: {}", self.message), ..self }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.subject(), self.message)
    }
}

impl std::error::Error for Error {}
