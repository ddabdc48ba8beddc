//! `hies inspect`: one sentence, everything the page shows about it (JSON).

use hies::SessionOptions;

use super::args::{Assets, ClassifierArgs, ModelArgs, Res, block, open_session, print_json};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    classifier: ClassifierArgs,
    #[arg(long)]
    text: String,
    /// The second sentence, for a sentence-pair model (transformers' `text_pair`).
    #[arg(long)]
    text_pair: Option<String>,
    /// Heads for the pruned prediction, as layer.head (e.g. 0.3,5.11).
    #[arg(long, value_delimiter = ',', value_parser = parse_head)]
    prune: Vec<(usize, usize)>,
}

/// `l.h` → (l, h).
pub fn parse_head(s: &str) -> Result<(usize, usize), String> {
    let (l, h) = s.split_once('.').ok_or_else(|| format!("\"{s}\" is not layer.head"))?;
    Ok((l.trim().parse().map_err(|_| format!("\"{s}\": bad layer"))?, h.trim().parse().map_err(|_| format!("\"{s}\": bad head"))?))
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session = open_session(assets, &a.model, &a.classifier, None, None, SessionOptions::default())?;
    print_json(&block(session.inspect(&a.text, a.text_pair.as_deref(), &a.prune))?)
}
