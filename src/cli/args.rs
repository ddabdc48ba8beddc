//! The flags several commands share, where the defaults come from (`src/manifest.json` under
//! the assets root), and opening a session from them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use hies::analysis::HisNorm;
use hies::classifier::ClassifierMeta;
use hies::data::Example;
use hies::engine::ModelDir;
use hies::manifest::manifest;
use hies::scores::ScoreOptions;
use hies::session::Calibration;
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
    fn hint(&self) -> String {
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
    /// A checkpoint folder: config.json, model.safetensors, tokenizer.json (default: MiniLM).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// cpu (burn flex), gpu (wgpu) or auto (gpu when an adapter exists, else cpu).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
}

impl ModelArgs {
    pub fn dir(&self, assets: &Assets) -> PathBuf {
        assets.pick(&self.model, &manifest().model.dir).0
    }

    /// The engine for this checkpoint on the chosen device, without a separate classifier.
    pub fn engine(&self, assets: &Assets) -> Res<Engine> {
        let (dir, hint) = assets.pick(&self.model, &manifest().model.dir);
        let files = ModelDir::read(&dir).map_err(|e| with_hint(e, &hint))?;
        let (device, backend, fallback) = block(device::choose(BackendChoice::parse(&self.backend)?))?;
        if let Some(why) = fallback {
            eprintln!("hies: no GPU ({why}); running on the CPU");
        }
        Ok(Engine::load(&files.files(), device, backend)?)
    }
}

#[derive(Args, Clone)]
pub struct ClassifierArgs {
    /// A classifier (classifier.weight/bias safetensors; its sidecar is FILE with .json) for
    /// checkpoints without their own (default: the Rotten Tomatoes sentiment classifier).
    #[arg(long, value_name = "FILE")]
    pub classifier: Option<PathBuf>,
}

impl ClassifierArgs {
    /// Puts the classifier on `engine` unless the checkpoint has its own.
    pub fn apply(&self, assets: &Assets, engine: &mut Engine) -> Res<()> {
        if engine.classifier.is_some() {
            if let Some(path) = &self.classifier {
                eprintln!("hies: the checkpoint has its own classifier; {} is not used", path.display());
            }
            return Ok(());
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
    /// Seed of the calibration sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// HIES weight on importance: α·mm(HIS) + (1−α)·(1 − mm(entropy)).
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Min-max HIS and entropy per layer inside HIES (default: globally).
    #[arg(long)]
    pub per_layer_minmax: bool,
    /// HIS: divide by the calibration set's token count (bertology) instead of its size.
    #[arg(long)]
    pub his_by_tokens: bool,
    /// HIS: skip the per-layer ℓ2 normalisation.
    #[arg(long)]
    pub no_layer_l2: bool,
    /// HIS: skip the global min-max.
    #[arg(long)]
    pub no_global_minmax: bool,
}

impl ScoreArgs {
    pub fn options(&self) -> ScoreOptions {
        ScoreOptions {
            alpha: self.alpha,
            his_norm: HisNorm { by_tokens: self.his_by_tokens, layer_l2: !self.no_layer_l2, global_min_max: !self.no_global_minmax },
            per_layer_min_max: self.per_layer_minmax,
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

/// Reads `label<TAB>text` with these label names; errors name the file (and, for a default
/// file, how to fetch it).
pub fn read_tsv((path, hint): (PathBuf, Option<String>), labels: &[String]) -> Res<Vec<Example>> {
    let text = std::fs::read_to_string(&path).map_err(|e| with_hint(format!("data: cannot read {} ({e})", path.display()), &hint))?;
    Ok(hies::data::parse_tsv(&text, labels).map_err(|e| e.context(path.display()))?)
}

/// Reads `label<TAB>text` for the session's classifier.
pub fn read_examples(session: &Session, file: (PathBuf, Option<String>)) -> Res<Vec<Example>> {
    read_tsv(file, &session.engine().classifier()?.labels)
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
    classifier.apply(assets, &mut engine)?;
    let session = Session::new(Arc::new(engine), options);
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

pub fn print_json(v: &impl Serialize) -> Res<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Writes `text` to `path`, naming the path in any error.
pub fn write(path: &Path, text: impl AsRef<[u8]>) -> Res<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {} ({e})", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {} ({e})", path.display()).into())
}
