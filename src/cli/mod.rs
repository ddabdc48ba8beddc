//! The commands: parse, dispatch, print the error. Each command is one module with its flags
//! and a `run` that opens a [`hies::Session`], calls it and prints what it returns.

mod alpha_sweep;
mod args;
mod bench;
mod classify;
mod curve;
mod embed;
mod export;
mod fine_tune;
mod inspect;
mod paper_check;
mod prune;
mod quantize;
mod score;
mod train_classifier;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use args::{Assets, Res};

#[derive(Parser)]
#[command(name = "hies", version, about = "Attention-head importance and entropy (HIES) for BERT models")]
struct Cli {
    /// The folder the default model, classifier and data are found in (a HIES Lab checkout;
    /// default: $HIES_ASSETS, else the repository this binary was built from).
    #[arg(long, global = true, value_name = "DIR")]
    assets: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed sentences (one per line on stdin, or --text): one JSON line each on stdout.
    Embed(embed::Args),
    /// Classify lines of text or text_a<TAB>text_b on stdin (or a labelled --data file): one
    /// JSON line each (ids, token_type_ids, logits, probs, label; a regression head's score is
    /// its one logit), and with --data the accuracy (regression: Pearson and Spearman).
    Classify(classify::Args),
    /// Score every head on a calibration set: entropy, HIS, HIES, confidence, weight norm.
    Score(score::Args),
    /// Prune heads by a criterion and evaluate on the dev set.
    Prune(prune::Args),
    /// One sentence: every head's attention, entropy and importance |∂L/∂ξ| (with the model's
    /// own prediction as the label; a regression head: |∂ŷ/∂ξ|), and the full and pruned
    /// predictions (JSON).
    #[command(alias = "attention")]
    Inspect(inspect::Args),
    /// Accuracy (regression: Pearson's r) and agreement vs pruning ratio for every criterion
    /// (mean ± std over seeds).
    Curve(curve::Args),
    /// Choose HIES's α on the validation split: weighted AUC of accuracy over pruning ratios
    /// (weights ∝ ratio), mean ± std over calibration seeds.
    AlphaSweep(alpha_sweep::Args),
    /// Does the paper hold here? Its claims checked with HIES at α* against HIS: accuracy,
    /// stability, calibration size, where each prunes, FLOPs. Mean ± std over seeds.
    PaperCheck(paper_check::Args),
    /// Write the model as a Hugging Face checkpoint folder (its family's …ForSequenceClassification),
    /// with --prune'd heads sliced out and listed in config.json's pruned_heads (a layer left
    /// without heads keeps a zero stand-in head, named in hies_zeroed_heads: transformers cannot
    /// run an empty layer).
    Export(export::Args),
    /// Write a float checkpoint as int8 (hies-int8-v1: linear weights and word embeddings
    /// per output channel with f32 scales, the rest as it was): a quarter of an f32 file. Use it
    /// as the folder's model.safetensors.
    Quantize(quantize::Args),
    /// Train the linear sentiment probe on frozen embeddings and write it with its sidecar.
    TrainClassifier(train_classifier::Args),
    /// Fine-tune the encoder as BertForSequenceClassification with LoRA; writes a PEFT adapter.
    FineTune(fine_tune::Args),
    /// Timed runs for bench/ (not a test): the dev set forward, head scoring on the calibration
    /// sample, and structural pruning (HIES order) against its FLOP prediction. JSON out.
    Bench(bench::Args),
}

pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hies: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Res<()> {
    let assets = Assets::new(cli.assets.as_deref());
    match cli.command {
        Command::Embed(a) => embed::run(&assets, a),
        Command::Classify(a) => classify::run(&assets, a),
        Command::Score(a) => score::run(&assets, a),
        Command::Prune(a) => prune::run(&assets, a),
        Command::Inspect(a) => inspect::run(&assets, a),
        Command::Curve(a) => curve::run(&assets, a),
        Command::TrainClassifier(a) => train_classifier::run(&assets, a),
        Command::FineTune(a) => fine_tune::run(&assets, a),
        Command::AlphaSweep(a) => alpha_sweep::run(&assets, a),
        Command::PaperCheck(a) => paper_check::run(&assets, a),
        Command::Export(a) => export::run(&assets, a),
        Command::Quantize(a) => quantize::run(a),
        Command::Bench(a) => bench::run(&assets, a),
    }
}
