//! `hies alpha-sweep`: HIES's α chosen on the validation split, the paper's way.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hies::curves::CurveProgress;
use hies::manifest::manifest;
use hies::sweep::{AlphaTable, SweepOptions};

use super::args::{Assets, ClassifierArgs, ModelArgs, Res, ScoreArgs, block, open_session, print_json, progress, read_examples, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    classifier: ClassifierArgs,
    #[command(flatten)]
    score: ScoreArgs,
    /// Held-out sentences to choose α on (default: the validation split; never the dev set).
    #[arg(long, value_name = "FILE")]
    validation: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95,1")]
    alphas: Vec<f64>,
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")]
    ratios: Vec<f64>,
    /// Calibration seeds.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
    seeds: Vec<u64>,
    /// Record α* for this built-in model and preset in classifiers/alpha-star.json, where the
    /// CLI and the page take their default α from.
    #[arg(long)]
    record: bool,
    /// Print the whole sweep as JSON (alpha_star, alphas, curve, …).
    #[arg(long)]
    json: bool,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    if a.score.alpha.is_some() {
        return Err("alpha-sweep chooses α itself: --alpha does not apply (the calibration seeds are --seeds)".into());
    }
    let session = open_session(assets, &a.model, &a.classifier, Some(&a.score), None, Default::default())?;
    let validation = read_examples(&session, assets.pick(&a.validation, &manifest().data.validation))?;
    session.set_validation(&validation)?;
    let options = SweepOptions { alphas: a.alphas, ratios: a.ratios, seeds: a.seeds, n: a.score.n, scores: a.score.options(&a.model, assets) };
    let started = Instant::now();
    let (mut scoring, mut evaluating) = (progress("scoring seed"), progress("evaluating"));
    let sweep = block(session.alpha_sweep(&options, None, &mut |p: CurveProgress| match p.stage {
        "scoring" => scoring(p.done, p.total),
        _ => evaluating(p.done, p.total),
    }))?;
    eprintln!(
        "hies: α sweep in {:.0} s ({} distinct head sets on {} validation sentences)",
        started.elapsed().as_secs_f64(),
        sweep.evaluations,
        sweep.validation_size
    );
    if a.record {
        let id = a.model.choice().id().ok_or("--record is for the built-in models (finetuned, probe)")?;
        if a.score.per_layer_minmax {
            return Err("--record keeps α* for global min-max only".into());
        }
        let path = assets.path(&manifest().alpha_star);
        let command = format!("hies {}", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
        record(&path, |table| table.set(id, a.score.preset(), &sweep, command))?;
        eprintln!("hies: α* = {} recorded for {id} / {} in {}", sweep.alpha_star, a.score.preset().id(), path.display());
    }
    if a.json {
        return print_json(&sweep);
    }
    println!("unpruned validation {} {:.4}; wAUC weights ∝ ratio", sweep.metric.name(), sweep.full_accuracy);
    println!("{:>6} {:>18}", "α", "wAUC (mean ± std)");
    for p in &sweep.curve {
        let star = if p.alpha == sweep.alpha_star { "  ← α*" } else { "" };
        println!("{:>6.2} {:>8.4} ± {:<8.4}{star}", p.alpha, p.wauc_mean, p.wauc_std);
    }
    println!("α* = {}", sweep.alpha_star);
    Ok(())
}

/// Updates alpha-star.json: read, change and replace under an exclusive lock on a file of its own
/// in the temp folder (sweeps of other models or presets may record at the same time: npm run
/// precompute runs two), written to a temporary file and renamed over it, so that a reader never
/// sees half of it. A missing file starts a new table; an unreadable one is an error.
fn record(path: &Path, update: impl FnOnce(&mut AlphaTable)) -> Res<()> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(path.parent().unwrap_or(Path::new("."))).unwrap_or_default().hash(&mut h);
    let lock_path = std::env::temp_dir().join(format!("hies-alpha-star-{:016x}.lock", h.finish()));
    let lock = std::fs::File::create(&lock_path).map_err(|e| format!("cannot create {} ({e})", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {} ({e})", lock_path.display()))?;
    let mut table = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => AlphaTable {
            note:
                "α* per built-in model and HIS preset, chosen on the validation split by `hies alpha-sweep --record` (weighted AUC, weights ∝ ratio)."
                    .into(),
            ..Default::default()
        },
        Err(e) => return Err(format!("cannot read {} ({e})", path.display()).into()),
    };
    update(&mut table);
    let tmp = path.with_extension("json.tmp");
    write(&tmp, serde_json::to_string_pretty(&table)? + "\n")?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {} ({e})", path.display()).into())
}
