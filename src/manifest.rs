//! The default model, classifier and data (`src/manifest.json`, shared with the page and the
//! build) and, natively, where to find them: relative to the repository, not to the working
//! directory, so `hies score` works from anywhere.

use std::sync::OnceLock;

use serde::Deserialize;

/// The checkpoint's file names by role: Hugging Face's and sentence-transformers' conventions.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointFiles {
    pub config: String,
    pub weights: String,
    pub tokenizer: String,
    /// sentence-transformers `modules.json` (declares Normalize); optional.
    pub modules: String,
    /// sentence-transformers `1_Pooling/config.json`; optional.
    pub pooling: String,
    /// sentence-transformers `sentence_bert_config.json` (declares `max_seq_length`); optional.
    pub sentence_bert_config: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    /// The checkpoint folder, relative to the assets root.
    pub dir: String,
}

/// The fine-tuned default model: a PEFT LoRA adapter folder over `model`, merged at load.
#[derive(Debug, Clone, Deserialize)]
pub struct FinetunedEntry {
    pub name: String,
    /// The adapter folder, relative to the assets root (committed: about 1 MB).
    pub dir: String,
    pub files: AdapterFileNames,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AdapterFileNames {
    /// PEFT's `adapter_config.json`.
    pub config: String,
    /// PEFT's `adapter_model.safetensors`.
    pub weights: String,
    /// Our `training.json`: label names and how the adapter was made.
    pub training: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClassifierEntry {
    pub name: String,
    /// safetensors with `classifier.weight` / `classifier.bias`.
    pub weights: String,
    /// Its JSON sidecar ([`crate::classifier::ClassifierMeta`]).
    pub meta: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataEntry {
    pub name: String,
    /// `label<TAB>text`: the pool calibration samples are drawn from (the training split).
    pub calibration: String,
    /// `label<TAB>text`: the held-out evaluation set (the dev split).
    pub evaluation: String,
    /// `label<TAB>text`: held out from training, for model selection and choosing α.
    pub validation: String,
    /// The label names, index order.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The command that fetches the assets that are not committed.
    pub setup: String,
    pub checkpoint_files: CheckpointFiles,
    pub model: ModelEntry,
    pub finetuned: FinetunedEntry,
    /// The frozen encoder's linear probe.
    pub classifier: ClassifierEntry,
    pub data: DataEntry,
    /// α* per built-in model and HIS preset (`crate::sweep::AlphaTable`).
    pub alpha_star: String,
    /// What to say about weights in a format HIES Lab does not read (the CLI and the page).
    pub other_weight_formats: OtherFormats,
}

/// Messages for weights files HIES Lab does not read, each after the file's name.
#[derive(Debug, Clone, Deserialize)]
pub struct OtherFormats {
    /// `pytorch_model.bin` and its shards: a pickle, with the command that converts it.
    pub pytorch: String,
    /// `tf_model.h5`, `flax_model.msgpack`.
    pub tensorflow_flax: String,
}

/// The manifest compiled into this build.
pub fn manifest() -> &'static Manifest {
    static M: OnceLock<Manifest> = OnceLock::new();
    M.get_or_init(|| serde_json::from_str(include_str!("manifest.json")).expect("src/manifest.json is valid (a unit test reads it)"))
}

/// The folder the manifest's paths are relative to: `explicit` (`--assets`), else
/// `$HIES_ASSETS`, else the repository this binary was built from.
#[cfg(not(target_family = "wasm"))]
pub fn assets_root(explicit: Option<&std::path::Path>) -> std::path::PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    match std::env::var_os("HIES_ASSETS") {
        Some(dir) if !dir.is_empty() => dir.into(),
        _ => env!("CARGO_MANIFEST_DIR").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_parses_and_names_relative_paths() {
        let m = manifest();
        for p in
            [&m.model.dir, &m.finetuned.dir, &m.classifier.weights, &m.classifier.meta, &m.data.calibration, &m.data.evaluation, &m.data.validation]
        {
            assert!(!p.starts_with('/') && !p.contains(".."), "{p} must be relative to the assets root");
        }
        assert_eq!(m.checkpoint_files.weights, "model.safetensors");
    }
}
