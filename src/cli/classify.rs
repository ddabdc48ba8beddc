//! `hies classify`: each input through the model's classifier, one JSON line each; with
//! `--data`, the labelled file instead, and its accuracy (for a regression head, Pearson's r and
//! Spearman's ρ) on a last line.

use std::io::{Read, Write};

use hies::evaluate;
use hies::report::{Classified, Removal};
use hies::{Session, SessionOptions};
use serde::Serialize;

use super::args::{Assets, ClassifierArgs, ModelArgs, Res, block, open_session, read_examples};
use super::inspect::parse_head;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    classifier: ClassifierArgs,
    /// A labelled file (label<TAB>text or label<TAB>text_a<TAB>text_b; a regression head's
    /// lines start with the gold score) to classify instead of stdin; each line then carries its
    /// gold label or score, and a last line the accuracy (regression: Pearson and Spearman).
    #[arg(long, value_name = "FILE")]
    data: Option<std::path::PathBuf>,
    /// Heads to remove first, as layer.head (e.g. 0.3,5.11).
    #[arg(long, value_delimiter = ',', value_parser = parse_head)]
    prune: Vec<(usize, usize)>,
    /// Slice the pruned heads out of the weights instead of masking them (same outputs).
    #[arg(long)]
    structural: bool,
}

#[derive(Serialize)]
struct Line<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text_pair: Option<&'a str>,
    #[serde(flatten)]
    out: &'a Classified,
    #[serde(skip_serializing_if = "Option::is_none")]
    gold: Option<Gold<'a>>,
}

/// A gold label by name, or a gold score.
#[derive(Serialize)]
#[serde(untagged)]
enum Gold<'a> {
    Label(&'a str),
    Score(f32),
}

/// The last line with `--data`: the classifier's accuracy, or a regression head's correlations.
#[derive(Serialize)]
struct Summary {
    n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pearson: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spearman: Option<f64>,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    let session: Session = open_session(assets, &a.model, &a.classifier, None, None, SessionOptions::default())?;
    let classifier = session.engine().classifier()?;
    let (labels, regression) = (classifier.labels.clone(), classifier.is_regression());
    let (texts, pairs, gold) = match &a.data {
        Some(path) => {
            let examples = read_examples(&session, (path.clone(), None))?;
            let pairs: Option<Vec<String>> =
                examples[0].text_pair.is_some().then(|| examples.iter().map(|e| e.text_pair.clone().unwrap_or_default()).collect());
            (examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>(), pairs, Some(examples.iter().map(|e| e.label).collect::<Vec<_>>()))
        }
        None => {
            let mut input = String::new();
            std::io::stdin().lock().read_to_string(&mut input).map_err(|e| format!("cannot read stdin ({e})"))?;
            let inputs = hies::data::parse_inputs(&input).map_err(|e| e.context("stdin"))?;
            let pairs = inputs.first().is_some_and(|i| i.1.is_some()).then(|| inputs.iter().map(|i| i.1.clone().unwrap_or_default()).collect());
            (inputs.into_iter().map(|i| i.0).collect::<Vec<_>>(), pairs, None)
        }
    };
    let removal = Removal { heads: a.prune.clone(), structural: a.structural };
    let out = block(session.classify(&texts, pairs.as_deref(), &removal))?;
    let mut stdout = std::io::stdout().lock();
    for (i, c) in out.iter().enumerate() {
        if c.truncated {
            eprintln!("hies: input {} truncated to {} tokens", i + 1, c.ids.len());
        }
        let g = gold.as_ref().map(|g| if regression { Gold::Score(g[i]) } else { Gold::Label(labels[g[i] as usize].as_str()) });
        let line = Line { text: &texts[i], text_pair: pairs.as_ref().map(|p| p[i].as_str()), out: c, gold: g };
        if writeln!(stdout, "{}", serde_json::to_string(&line)?).is_err() {
            return Ok(()); // a closed pipe (`| head`)
        }
    }
    if let Some(gold) = &gold {
        let pred: Vec<f32> = out.iter().flat_map(|c| evaluate::predictions(&c.logits, c.logits.len())).collect();
        let summary = Summary {
            n: out.len(),
            accuracy: (!regression).then(|| evaluate::accuracy(&pred, gold)),
            pearson: regression.then(|| evaluate::pearson(&pred, gold)),
            spearman: regression.then(|| evaluate::spearman(&pred, gold)),
        };
        let _ = writeln!(stdout, "{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}
