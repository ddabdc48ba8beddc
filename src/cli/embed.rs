//! `hies embed`: pooled sentence embeddings, one JSON line per sentence.

use std::io::{BufRead, Write};

use serde::Serialize;

use super::args::{Assets, ModelArgs, Res, block};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// A sentence to embed (repeatable); without it, stdin is read.
    #[arg(long)]
    text: Vec<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    text: &'a str,
    ids: &'a [u32],
    truncated: bool,
    embedding: &'a [f32],
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    // Embeddings are the sentence-transformers checkpoint's own: the built-in models share the
    // base encoder here (the fine-tuned adapter is a classifier, not a new embedding model).
    if a.model.model.as_deref() == Some("finetuned") {
        return Err("embed: --model finetuned is a classifier; embeddings come from the base checkpoint (leave --model out) or a folder".into());
    }
    let engine = a.model.base_engine(assets)?;
    let texts = if a.text.is_empty() { std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>()? } else { a.text };
    let out = block(engine.embed(&texts))?;
    let mut stdout = std::io::stdout().lock();
    for (text, e) in texts.iter().zip(out) {
        if e.truncated {
            eprintln!("hies: truncated to {} tokens: {:.60}…", e.ids.len(), text);
        }
        let line = Line { text, ids: &e.ids, truncated: e.truncated, embedding: &e.embedding };
        writeln!(stdout, "{}", serde_json::to_string(&line)?)?;
    }
    Ok(())
}
