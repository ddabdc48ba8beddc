//! `hies train-classifier`: the linear sentiment classifier on frozen pooled embeddings,
//! written with its sidecar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hies::Engine;
use hies::classifier::{ClassifierMeta, classifier_to_safetensors};
use hies::data::{Example, Gold};
use hies::evaluate;
use hies::manifest::manifest;
use hies::train::{TrainOptions, train_classifier};
use serde::Serialize;

use super::args::{Assets, ModelArgs, Res, block, print_json, read_tsv, write};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Training sentences, label<TAB>text (default: the Rotten Tomatoes training split).
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,
    /// Held-out sentences for the reported accuracy (default: the dev split).
    #[arg(long, value_name = "FILE")]
    dev: Option<PathBuf>,
    /// Where to write it; the sidecar goes beside it with .json (default: the committed one).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Label names, index order.
    #[arg(long, value_delimiter = ',', default_value = "negative,positive")]
    labels: Vec<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    epochs: usize,
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    lr: f64,
    #[arg(long)]
    json: bool,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    classifier: &'a Path,
    train_accuracy: f64,
    dev_accuracy: f64,
    train: usize,
    dev: usize,
    embed_seconds: f64,
    total_seconds: f64,
}

pub fn run(assets: &Assets, a: Args) -> Res<()> {
    a.model.f32_only("train-classifier")?;
    let engine = a.model.base_engine(assets)?;
    let started = Instant::now();
    let train = read_tsv(assets.pick(&a.train, &manifest().data.calibration), Gold::Labels(&a.labels))?;
    let dev = read_tsv(assets.pick(&a.dev, &manifest().data.evaluation), Gold::Labels(&a.labels))?;
    let d = engine.config().hidden_size;
    let cache = assets.path("assets/.cache");
    let model_dir = a.model.base_dir(assets);
    let features = |set: &[Example]| -> Res<Vec<f32>> {
        let texts: Vec<String> = set.iter().map(|e| e.text.clone()).collect();
        cached_embeddings(&engine, &model_dir, &cache, &texts)
    };
    let (xt, xd) = (features(&train)?, features(&dev)?);
    let embed_s = started.elapsed().as_secs_f64();
    let yt: Vec<usize> = train.iter().map(Example::class).collect();
    let yd: Vec<usize> = dev.iter().map(Example::class).collect();
    let options = TrainOptions { epochs: a.epochs, learning_rate: a.lr, seed: a.seed, ..TrainOptions::default() };
    let trained = block(train_classifier(&xt, &yt, d, a.labels.len(), options, &engine.device))?;
    let train_accuracy = evaluate::accuracy(&trained.predict(&xt, d), &yt);
    let dev_accuracy = evaluate::accuracy(&trained.predict(&xd, d), &yd);
    let meta = ClassifierMeta {
        labels: a.labels.clone(),
        pooling: format!("{:?}", engine.pooling.mode).to_lowercase(),
        normalized: engine.pooling.normalize,
        train_accuracy: Some(round4(train_accuracy)),
        dev_accuracy: Some(round4(dev_accuracy)),
        seed: Some(a.seed),
        epochs: Some(a.epochs),
        learning_rate: Some(a.lr),
        model: model_dir.file_name().map(|n| n.to_string_lossy().into_owned()),
    };
    let out = assets.pick(&a.out, &manifest().classifier.weights).0;
    write(&out, classifier_to_safetensors(&trained.weight, &trained.bias, d))?;
    write(&out.with_extension("json"), serde_json::to_string_pretty(&meta)? + "\n")?;
    let seconds = started.elapsed().as_secs_f64();
    if a.json {
        print_json(&Report {
            classifier: &out,
            train_accuracy,
            dev_accuracy,
            train: train.len(),
            dev: dev.len(),
            embed_seconds: embed_s,
            total_seconds: seconds,
        })
    } else {
        println!("wrote {} (+ sidecar): train accuracy {train_accuracy:.4}, dev accuracy {dev_accuracy:.4} ({seconds:.1} s)", out.display());
        Ok(())
    }
}

/// Sentence embeddings, cached under `cache` by a hash of the model files and the texts:
/// retraining then takes seconds.
fn cached_embeddings(engine: &Engine, model_dir: &Path, cache: &Path, texts: &[String]) -> Res<Vec<f32>> {
    let mut hash = 0xcbf2_9ce4_8422_2325u64; // FNV-1a
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    let names = &manifest().checkpoint_files;
    for f in [&names.config, &names.tokenizer, &names.weights] {
        eat(&std::fs::read(model_dir.join(f))?);
    }
    for t in texts {
        eat(t.as_bytes());
        eat(b"\n");
    }
    let d = engine.config().hidden_size;
    let path = cache.join(format!("embeddings-{hash:016x}.f32"));
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == texts.len() * d * 4
    {
        return Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
    }
    let v: Vec<f32> = block(engine.embed(texts))?.into_iter().flat_map(|e| e.embedding).collect();
    write(&path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())?;
    Ok(v)
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}
