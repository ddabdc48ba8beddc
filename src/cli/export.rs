//! `hies export`: the model as a standard Hugging Face checkpoint folder (config.json,
//! model.safetensors and the tokenizer files), pruned heads sliced out and listed in
//! `pruned_heads`, as transformers saves a pruned …ForSequenceClassification of the model's
//! family (see
//! `hies::export` for the stand-in head of a layer left without heads).

use std::path::PathBuf;

use hies::SessionOptions;
use hies::manifest::manifest;

use super::args::{Assets, ClassifierArgs, ModelArgs, Res, block, open_session, print_json, write};
use super::inspect::parse_head;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    classifier: ClassifierArgs,
    /// The folder to write (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Heads to slice out, as layer.head (e.g. 0.3,5.11); none: the model as loaded.
    #[arg(long, value_delimiter = ',', value_parser = parse_head)]
    prune: Vec<(usize, usize)>,
}

/// Tokenizer files copied beside the weights when the checkpoint has them.
const TOKENIZER_FILES: &[&str] = &["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];

#[derive(serde::Serialize)]
struct Report {
    out: PathBuf,
    heads_pruned: usize,
    parameters: usize,
    files: Vec<String>,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = open_session(assets, &a.model, &a.classifier, None, None, SessionOptions::default())?;
    let heads = session.heads(&a.prune)?;
    let base = a.model.base_dir(assets);
    let config_path = base.join(&manifest().checkpoint_files.config);
    let config = std::fs::read(&config_path).map_err(|e| format!("cannot read {} ({e})", config_path.display()))?;
    let exported = block(hies::export::export(session.engine(), &config, &heads))?;
    let mut files = vec!["config.json".to_string(), "model.safetensors".to_string()];
    write(&a.out.join("config.json"), exported.config)?;
    write(&a.out.join("model.safetensors"), exported.weights)?;
    for name in TOKENIZER_FILES {
        if let Ok(bytes) = std::fs::read(base.join(name)) {
            write(&a.out.join(name), bytes)?;
            files.push(name.to_string());
        }
    }
    print_json(&Report { out: a.out, heads_pruned: exported.heads_pruned, parameters: exported.parameters, files })
}
