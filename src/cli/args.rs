//! The flags several commands share, where the defaults come from (`src/manifest.json` under
//! the assets root), and opening a session from them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use hies::analysis::Preset;
use hies::classifier::ClassifierMeta;
use hies::data::{Example, Gold};
use hies::engine::{AdapterFiles, ModelDir};
use hies::manifest::manifest;
use hies::model::Compute;
use hies::scores::ScoreOptions;
use hies::session::Calibration;
use hies::sweep::AlphaTable;
use hies::{BackendChoice, Engine, Session, SessionOptions, device};
use serde::Serialize;

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The folder the manifest's default paths are relative to.
pub struct Assets {
    root: PathBuf,
}

impl Assets {
    pub fn new(explicit: Option<&Path>) -> Self {
        Self { root: hies::manifest::assets_root(explicit) }
    }

    /// A default file or folder: `relative` (from the manifest) under the root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// What to say when a default file is missing.
    pub fn hint(&self) -> String {
        format!("the default assets are missing under {}: run `{}` there, or give the file or --assets", self.root.display(), manifest().setup)
    }

    /// `given`, or the default with a hint attached to any error reading it.
    pub fn pick(&self, given: &Option<PathBuf>, default: &str) -> (PathBuf, Option<String>) {
        match given {
            Some(p) => (p.clone(), None),
            None => (self.path(default), Some(self.hint())),
        }
    }
}

/// Adds the hint (when the path was a default) to an error.
fn with_hint(e: impl std::fmt::Display, hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// "finetuned" (all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes: the LoRA adapter in
    /// classifiers/, merged at load; the default), "probe" (the frozen encoder with the linear
    /// probe) or a checkpoint folder: config.json, model.safetensors, tokenizer.json (a folder
    /// named like a built-in model needs a path: ./probe).
    #[arg(long, value_name = "finetuned|probe|DIR")]
    pub model: Option<String>,
    /// cpu (burn flex), gpu (wgpu) or auto (gpu when an adapter exists, else cpu).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// How inference multiplies: exact (f32) or q8 (int8 weights per output channel, int8
    /// activations per block of 32 inputs; CPU only). Scores, attention maps and training keep f32.
    #[arg(long, default_value = "exact", value_parser = parse_compute)]
    pub compute: Compute,
    /// The built-in models' weights: fp32 (model.safetensors) or int8 (that file quantised in
    /// memory to exactly the bytes `hies quantize` writes, which the page downloads by default).
    /// A folder's weights are whatever its model.safetensors holds.
    #[arg(long, value_enum, default_value_t = Weights::Fp32)]
    pub weights: Weights,
}

/// Which file of a built-in model's weights `--weights` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Weights {
    Fp32,
    Int8,
}

fn parse_compute(s: &str) -> Result<Compute, String> {
    match s {
        "exact" => Ok(Compute::Exact),
        "q8" => Ok(Compute::Q8),
        _ => Err(format!("\"{s}\": use exact or q8")),
    }
}

/// What `--model` names.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    Finetuned,
    Probe,
    Dir(PathBuf),
}

impl ModelChoice {
    /// "finetuned" or "probe" for the built-in models.
    pub fn id(&self) -> Option<&'static str> {
        match self {
            ModelChoice::Finetuned => Some("finetuned"),
            ModelChoice::Probe => Some("probe"),
            ModelChoice::Dir(_) => None,
        }
    }
}

impl ModelArgs {
    pub fn choice(&self) -> ModelChoice {
        match self.model.as_deref() {
            None | Some("finetuned") => ModelChoice::Finetuned,
            Some("probe") => ModelChoice::Probe,
            Some(dir) => ModelChoice::Dir(dir.into()),
        }
    }

    /// The checkpoint folder: the base encoder for the built-in models, else the one given.
    pub fn base_dir(&self, assets: &Assets) -> PathBuf {
        match self.choice() {
            ModelChoice::Dir(d) => d,
            _ => assets.path(&manifest().model.dir),
        }
    }

    /// Refuses `--compute q8` and `--weights int8` for a command that trains: training (and what
    /// it caches) is f32, on the fp32 weights the built-in adapter and probe were trained on.
    pub fn f32_only(&self, command: &str) -> Res<()> {
        if self.compute == Compute::Q8 {
            return Err(
                format!("{command} trains in f32: --compute q8 is for inference (embed, classify, score's evaluations, prune, curve, …)").into()
            );
        }
        if self.weights == Weights::Int8 {
            return Err(format!("{command} trains on the fp32 weights: --weights int8 is for inference and scoring").into());
        }
        Ok(())
    }

    fn device(&self) -> Res<(burn::tensor::Device, hies::Backend)> {
        // q8 is a CPU path: "auto" means the CPU then, and "gpu" is refused before any probing.
        let choice = match (BackendChoice::parse(&self.backend)?, self.compute) {
            (BackendChoice::Gpu, Compute::Q8) => {
                return Err("--compute q8 runs on the CPU; the GPU multiplies in f32 (use --backend cpu or auto)".into());
            }
            (BackendChoice::Auto, Compute::Q8) => BackendChoice::Cpu,
            (choice, _) => choice,
        };
        let (device, backend, fallback) = block(device::choose(choice))?;
        if let Some(why) = fallback {
            eprintln!("hies: no GPU ({why}); running on the CPU");
        }
        Ok((device, backend))
    }

    /// The checkpoint folder's files, with the built-in weights in int8 for `--weights int8`.
    fn read_base(&self, assets: &Assets) -> Res<ModelDir> {
        let dir = self.base_dir(assets);
        let builtin = !matches!(self.choice(), ModelChoice::Dir(_));
        if self.weights == Weights::Int8 && !builtin {
            return Err(format!(
                "--weights int8 is for the built-in models; for {}, write the int8 file with `hies quantize` and use a folder that holds it",
                dir.display()
            )
            .into());
        }
        let mut files = ModelDir::read(&dir).map_err(|e| with_hint(e, &builtin.then(|| assets.hint())))?;
        if self.weights == Weights::Int8 {
            files.weights = hies::quantize::quantize(&files.weights).map_err(|e| e.context(dir.display()))?;
        }
        Ok(files)
    }

    /// The checkpoint folder's engine, never with the fine-tuned adapter (embeddings, training).
    pub fn base_engine(&self, assets: &Assets) -> Res<Engine> {
        let files = self.read_base(assets)?;
        let (device, backend) = self.device()?;
        let engine = Engine::load(&files.files(), device, backend)?;
        engine.set_compute(self.compute)?;
        Ok(engine)
    }

    /// The engine `--model` names; for "finetuned", the base with the adapter merged. No
    /// separate classifier yet (see [`ClassifierArgs::apply`]).
    pub fn engine(&self, assets: &Assets) -> Res<Engine> {
        if self.choice() != ModelChoice::Finetuned {
            return self.base_engine(assets);
        }
        let files = self.read_base(assets)?;
        let adapter = AdapterDir::read(&assets.path(&manifest().finetuned.dir))?;
        let mut model = files.files();
        model.adapter = Some(adapter.files());
        let (device, backend) = self.device()?;
        let dir = assets.path(&manifest().finetuned.dir);
        let engine = Engine::load(&model, device, backend).map_err(|e| e.context(dir.display()))?;
        engine.set_compute(self.compute)?;
        Ok(engine)
    }
}

/// A PEFT adapter folder read from disk (names from `src/manifest.json`).
pub struct AdapterDir {
    config: Vec<u8>,
    weights: Vec<u8>,
    training: Vec<u8>,
}

impl AdapterDir {
    pub fn read(dir: &Path) -> Res<Self> {
        let names = &manifest().finetuned.files;
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| format!("adapter: cannot read {} ({e}); `hies fine-tune` writes it", path.display()))
        };
        Ok(Self { config: read(&names.config)?, weights: read(&names.weights)?, training: read(&names.training)? })
    }

    pub fn files(&self) -> AdapterFiles<'_> {
        AdapterFiles { config: &self.config, weights: &self.weights, training: &self.training }
    }
}

#[derive(Args, Clone)]
pub struct ClassifierArgs {
    /// A classifier (classifier.weight/bias safetensors; its sidecar is FILE with .json) for
    /// checkpoints without their own (the built-in models' default: the Rotten Tomatoes
    /// sentiment probe, which fits only the built-in encoder).
    #[arg(long, value_name = "FILE")]
    pub classifier: Option<PathBuf>,
}

impl ClassifierArgs {
    /// Puts the classifier on `engine` unless the checkpoint has its own.
    /// The built-in probe belongs to the built-in encoder: another checkpoint without its own
    /// classifier needs `--classifier`, since the probe on a different encoder (even one of the
    /// same width) would give numbers that mean nothing.
    pub fn apply(&self, assets: &Assets, model: &ModelArgs, engine: &mut Engine) -> Res<()> {
        if engine.classifier.is_some() {
            if let Some(path) = &self.classifier {
                eprintln!("hies: the model has its own classifier; {} is not used", path.display());
            }
            return Ok(());
        }
        if let (ModelChoice::Dir(dir), None) = (model.choice(), &self.classifier) {
            let builtin = assets.path(&manifest().model.dir);
            let same = |p: &Path| std::fs::canonicalize(p).ok();
            if same(&dir).is_none() || same(&dir) != same(&builtin) {
                return Err(format!(
                    "{}: this checkpoint has no classifier of its own (no \"classifier.weight\"): give one with --classifier FILE, or use a *ForSequenceClassification checkpoint (the built-in Rotten Tomatoes probe fits only {})",
                    dir.display(),
                    manifest().model.name
                )
                .into());
            }
        }
        let (path, hint) = assets.pick(&self.classifier, &manifest().classifier.weights);
        let bytes = std::fs::read(&path).map_err(|e| with_hint(format!("classifier: cannot read {} ({e})", path.display()), &hint))?;
        let sidecar = path.with_extension("json");
        let text = std::fs::read_to_string(&sidecar).map_err(|e| format!("classifier: cannot read {} ({e})", sidecar.display()))?;
        let meta: ClassifierMeta = serde_json::from_str(&text).map_err(|e| format!("classifier: {}: {e}", sidecar.display()))?;
        engine.set_classifier(&bytes, &meta).map_err(|e| e.context(path.display()))?;
        Ok(())
    }
}

/// The calibration sample and how scores are normalised.
#[derive(Args, Clone)]
pub struct ScoreArgs {
    /// Labelled sentences (label<TAB>text) to draw the calibration set from (default: the
    /// Rotten Tomatoes training split).
    #[arg(long, visible_alias = "calibration", value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Calibration examples.
    #[arg(long, default_value_t = 32)]
    pub n: usize,
    /// Seed of the calibration sample (commands over several seeds take --seeds instead).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// HIES weight on importance: α·mm(HIS) + (1−α)·(1 − mm(entropy)). Default: α* that
    /// `hies alpha-sweep --record` chose for the built-in model and preset
    /// (classifiers/alpha-star.json), else 0.5.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// How HIS is normalised: "paper" (arXiv 2510.13832: each example's |∂L/∂ξ| divided by its
    /// real tokens, mean over examples, global min-max) or "bertology" (Michel et al.: mean over
    /// examples, per-layer ℓ2, global min-max).
    #[arg(long, default_value = "paper", value_parser = ["paper", "bertology"])]
    pub preset: String,
    /// Min-max HIS and entropy within each layer inside HIES instead of over all heads. The
    /// paper is ambiguous here: its Eq. 1 reads global, its App. D.1 uses layer-wise scores.
    #[arg(long)]
    pub per_layer_minmax: bool,
}

impl ScoreArgs {
    pub fn preset(&self) -> Preset {
        if self.preset == "bertology" { Preset::Bertology } else { Preset::Paper }
    }

    /// The options with α resolved for `model` (see `--alpha`).
    pub fn options(&self, model: &ModelArgs, assets: &Assets) -> ScoreOptions {
        let alpha = self.alpha.unwrap_or_else(|| self.recorded_alpha(model, assets).unwrap_or(0.5));
        ScoreOptions { alpha, his_norm: self.preset().his_norm(), per_layer_min_max: self.per_layer_minmax }
    }

    /// α* recorded for a built-in model with this preset (global min-max only).
    pub fn recorded_alpha(&self, model: &ModelArgs, assets: &Assets) -> Option<f64> {
        let id = model.choice().id()?;
        if self.per_layer_minmax {
            return None;
        }
        let path = assets.path(&manifest().alpha_star);
        match AlphaTable::read(&path) {
            Ok(table) => table.get(id, self.preset()).map(|r| r.alpha_star),
            Err(e) if path.exists() => {
                eprintln!("hies: {e}: α* unreadable, using α = 0.5");
                None
            }
            Err(_) => None,
        }
    }

    pub fn calibration(&self) -> Calibration {
        Calibration { n: self.n, seed: self.seed }
    }

    pub fn data_path(&self, assets: &Assets) -> (PathBuf, Option<String>) {
        assets.pick(&self.data, &manifest().data.calibration)
    }
}

/// The evaluation set.
#[derive(Args, Clone)]
pub struct EvaluationArgs {
    /// Labelled sentences (label<TAB>text) to evaluate on (default: the Rotten Tomatoes dev split).
    #[arg(long, visible_alias = "evaluation", value_name = "FILE")]
    pub dev: Option<PathBuf>,
}

/// What the commands that evaluate pruned models take: the model, its classifier, the calibration
/// sample and the dev set.
#[derive(Args, Clone)]
pub struct AnalysisArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub classifier: ClassifierArgs,
    #[command(flatten)]
    pub score: ScoreArgs,
    #[command(flatten)]
    pub dev: EvaluationArgs,
}

impl AnalysisArgs {
    /// A session with both data sets. These commands run every variant in one pass over the dev
    /// set, so nothing is kept between passes.
    pub fn open(&self, assets: &Assets) -> Res<Session> {
        open_session(assets, &self.model, &self.classifier, Some(&self.score), Some(&self.dev), SessionOptions { cache_bytes: 0 })
    }
}

/// Reads `label<TAB>text` (or pairs) with these label names, or gold scores; errors name the
/// file (and, for a default file, how to fetch it).
pub fn read_tsv((path, hint): (PathBuf, Option<String>), gold: Gold) -> Res<Vec<Example>> {
    let text = std::fs::read_to_string(&path).map_err(|e| with_hint(format!("data: cannot read {} ({e})", path.display()), &hint))?;
    Ok(hies::data::parse_tsv(&text, gold).map_err(|e| e.context(path.display()))?)
}

/// Reads `label<TAB>text` (or pairs) for the session's classifier; the built-in data (a path
/// that came with a hint) only for a model labelled as they are.
pub fn read_examples(session: &Session, file: (PathBuf, Option<String>)) -> Res<Vec<Example>> {
    let gold = session.engine().classifier()?.gold();
    if file.1.is_some() {
        hies::data::builtin_data_fits(gold).map_err(|e| format!("{e} (--data, --dev, --validation)"))?;
    }
    read_tsv(file, gold)
}

/// A session on the checkpoint with its classifier and, when given, calibration and dev sets.
pub fn open_session(
    assets: &Assets,
    model: &ModelArgs,
    classifier: &ClassifierArgs,
    score: Option<&ScoreArgs>,
    dev: Option<&EvaluationArgs>,
    options: SessionOptions,
) -> Res<Session> {
    let mut engine = model.engine(assets)?;
    classifier.apply(assets, model, &mut engine)?;
    let session = Session::new(Arc::new(engine), options);
    for notice in session.info().notices {
        eprintln!("hies: note: {notice}");
    }
    if let Some(score) = score {
        session.set_calibration(read_examples(&session, score.data_path(assets))?);
    }
    if let Some(dev) = dev {
        let examples = read_examples(&session, assets.pick(&dev.dev, &manifest().data.evaluation))?;
        session.set_evaluation(&examples)?;
    }
    Ok(session)
}

/// A progress callback `(done, total)` for a long step: a self-overwriting line on a terminal,
/// nothing when stderr is a file or a pipe (logs stay readable).
pub fn progress(what: &'static str) -> impl FnMut(usize, usize) {
    let tty = std::io::stderr().is_terminal();
    move |done, total| {
        if tty {
            eprint!("\r{what} {done}/{total}   ");
            if done == total {
                eprintln!();
            }
        }
    }
}

pub fn block<T>(f: impl std::future::Future<Output = hies::Result<T>>) -> Res<T> {
    Ok(pollster::block_on(f)?)
}

/// Pretty JSON on stdout; a closed pipe (`hies … | head`) ends quietly instead of panicking.
pub fn print_json(v: &impl Serialize) -> Res<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v)? + "\n";
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Writes `text` to `path`, naming the path in any error.
pub fn write(path: &Path, text: impl AsRef<[u8]>) -> Res<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {} ({e})", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {} ({e})", path.display()).into())
}
