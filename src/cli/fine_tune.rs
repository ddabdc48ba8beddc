//! `hies fine-tune`: the fine-tuned default model, as a PEFT LoRA adapter (adapter_config.json,
//! adapter_model.safetensors) and its training record (training.json) in one folder.

use std::path::PathBuf;
use std::time::Instant;

use hies::data::Gold;
use hies::engine::AdapterFiles;
use hies::finetune::{FineTuneOptions, fine_tune};
use hies::lora;
use hies::manifest::manifest;
use hies::session::Session;

use super::args::{Assets, ModelArgs, Res, block, print_json, progress, read_tsv, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Training sentences, label<TAB>text (default: the Rotten Tomatoes training split).
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,
    /// Held-out sentences for choosing the epoch (default: the validation split).
    #[arg(long, value_name = "FILE")]
    validation: Option<PathBuf>,
    /// Evaluation sentences for the reported dev accuracy only (default: the dev split).
    #[arg(long, value_name = "FILE")]
    dev: Option<PathBuf>,
    /// The adapter folder to write. Default: the committed one, and only with the default
    /// options (anything else needs --out, so the shipped adapter is never replaced by a try).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Label names, index order.
    #[arg(long, value_delimiter = ',', default_value = "negative,positive")]
    labels: Vec<String>,
    #[arg(long, default_value_t = FineTuneOptions::default().seed)]
    seed: u64,
    #[arg(long, default_value_t = FineTuneOptions::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = FineTuneOptions::default().batch)]
    batch: usize,
    #[arg(long, default_value_t = FineTuneOptions::default().learning_rate)]
    lr: f64,
    /// LoRA rank.
    #[arg(long, default_value_t = FineTuneOptions::default().r)]
    r: usize,
    #[arg(long, default_value_t = FineTuneOptions::default().lora_alpha)]
    lora_alpha: f64,
    /// The projections that get LoRA in every layer (query, key, value).
    #[arg(long, value_delimiter = ',', default_value = "query,value")]
    targets: Vec<String>,
    /// Only the first N training sentences (a quick try; the committed adapter uses all).
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long)]
    json: bool,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    a.model.f32_only("fine-tune")?;
    let started = Instant::now();
    let mut engine = a.model.base_engine(assets)?;
    // Trained as the BertForSequenceClassification it becomes (the merged model reads up to its
    // positions), not with sentence-transformers' shorter max_seq_length.
    engine.set_max_len(engine.config().max_input_len())?;
    engine.classifier = None;
    let data = &manifest().data;
    let mut train = read_tsv(assets.pick(&a.train, &data.calibration), Gold::Labels(&a.labels))?;
    if let Some(n) = a.limit {
        train.truncate(n);
    }
    let validation = read_tsv(assets.pick(&a.validation, &data.validation), Gold::Labels(&a.labels))?;
    let dev = read_tsv(assets.pick(&a.dev, &data.evaluation), Gold::Labels(&a.labels))?;
    let options = FineTuneOptions {
        epochs: a.epochs,
        batch: a.batch,
        learning_rate: a.lr,
        r: a.r,
        lora_alpha: a.lora_alpha,
        target_modules: a.targets.clone(),
        seed: a.seed,
        ..FineTuneOptions::default()
    };
    let defaults =
        options == FineTuneOptions::default() && a.limit.is_none() && a.model.model.is_none() && a.train.is_none() && a.validation.is_none();
    if a.out.is_none() && !defaults {
        return Err("give --out DIR: only the default options write the committed adapter".into());
    }
    let mut tuned = block(fine_tune(&engine, &a.labels, &train, &validation, &options, &mut progress("fine-tuning step")))?;
    let out = assets.pick(&a.out, &manifest().finetuned.dir).0;
    tuned.config.base_model_name_or_path = Some(match a.model.choice() {
        super::args::ModelChoice::Dir(d) => d.display().to_string(),
        _ => format!("sentence-transformers/{}", manifest().model.name),
    });
    let (config, weights) = lora::to_files(&tuned.config, &tuned.tensors)?;

    // The dev accuracy of what was written, loaded back the way every interface loads it.
    let files = &manifest().finetuned.files;
    let mut record = tuned.record;
    record.base_model = tuned.config.base_model_name_or_path.clone();
    record.command = Some(format!("hies {}", std::env::args().skip(1).collect::<Vec<_>>().join(" ")));
    let training = serde_json::to_string_pretty(&record)? + "\n";
    let dir = hies::engine::ModelDir::read(&a.model.base_dir(assets))?;
    let mut model = dir.files();
    model.adapter = Some(AdapterFiles { config: config.as_bytes(), weights: &weights, training: training.as_bytes() });
    let merged = hies::Engine::load(&model, engine.device.clone(), engine.backend)?;
    let session = Session::new(std::sync::Arc::new(merged), Default::default());
    session.set_evaluation(&dev)?;
    let e = block(session.evaluate(&Default::default(), &mut |_| {}))?;
    record.dev_accuracy = e.full_accuracy;

    write(&out.join(&files.config), config)?;
    write(&out.join(&files.weights), weights)?;
    write(&out.join(&files.training), serde_json::to_string_pretty(&record)? + "\n")?;
    eprintln!(
        "hies: wrote {} (validation {:.4} at epoch {}, dev {:.4}, {:.0} s)",
        out.display(),
        record.validation_accuracy.unwrap_or(f64::NAN),
        record.best_epoch.unwrap_or(0),
        e.full_quality(),
        started.elapsed().as_secs_f64()
    );
    if a.json {
        print_json(&record)?;
    }
    Ok(())
}
