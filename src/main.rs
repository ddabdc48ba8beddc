//! `hies`: the native command line over the same engine the browser runs.

#[cfg(target_family = "wasm")]
fn main() {}

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// glibc hands every block over 128 KiB back to the kernel when it is freed, so each layer's
/// tensors arrive as fresh pages the kernel must fault in and zero: about 10 % of a native run in
/// `perf`. Keeping blocks up to 32 MiB (glibc's limit; the largest activation here is 25 MB) in
/// the heap made the forward 1.19× and scoring 1.12× faster (`hies bench`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

#[cfg(all(not(target_family = "wasm"), not(all(target_os = "linux", target_env = "gnu"))))]
fn keep_freed_memory() {}

#[cfg(not(target_family = "wasm"))]
mod cli {
    use std::io::{BufRead, Write};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::time::Instant;

    use clap::{Args, Parser, Subcommand};
    use hies::analysis::{Grid, HisNorm};
    use hies::classifier::{HeadMeta, head_to_safetensors};
    use hies::data::{self, Example};
    use hies::engine::ModelDir;
    use hies::evaluate::{self, Pruned};
    use hies::prune::{Criterion, CurveOptions, CurveProgress, PruneOptions};
    use hies::scores::ScoreOptions;
    use hies::train::{TrainOptions, train_head};
    use hies::{Backend, Engine, device};
    use serde::Serialize;
    use serde_json::json;

    type Res<T> = Result<T, Box<dyn std::error::Error>>;

    #[derive(Parser)]
    #[command(name = "hies", version, about = "Attention-head importance and entropy (HIES) for BERT models")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Args, Clone)]
    struct ModelArgs {
        /// A checkpoint folder: config.json, model.safetensors, tokenizer.json.
        #[arg(long, default_value = hies::DEFAULT_MODEL_DIR)]
        model: PathBuf,
        /// cpu (burn flex) or gpu (wgpu).
        #[arg(long, default_value = "cpu")]
        backend: String,
    }

    #[derive(Args, Clone)]
    struct HeadArgs {
        /// A classifier head (classifier.weight/bias safetensors; its sidecar is FILE with .json).
        /// Ignored when the checkpoint has its own classifier.
        #[arg(long, default_value = hies::DEFAULT_HEAD)]
        head: PathBuf,
    }

    #[derive(Args, Clone)]
    struct ScoreArgs {
        /// Labelled sentences (label<TAB>text) to draw the calibration set from.
        #[arg(long, default_value = hies::DEFAULT_TRAIN)]
        data: PathBuf,
        /// Calibration examples.
        #[arg(long, default_value_t = 32)]
        n: usize,
        /// Seed of the calibration sample.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// HIES weight on importance: α·mm(HIS) + (1−α)·(1 − mm(entropy)).
        #[arg(long, default_value_t = 0.5)]
        alpha: f64,
        /// Min-max HIS and entropy per layer inside HIES (default: globally).
        #[arg(long)]
        per_layer_minmax: bool,
        /// HIS: divide by the calibration set's token count (bertology) instead of its size.
        #[arg(long)]
        his_by_tokens: bool,
        /// HIS: skip the per-layer ℓ2 normalisation.
        #[arg(long)]
        no_layer_l2: bool,
        /// HIS: skip the global min-max.
        #[arg(long)]
        no_global_minmax: bool,
    }

    impl ScoreArgs {
        fn options(&self) -> ScoreOptions {
            ScoreOptions {
                alpha: self.alpha,
                his_norm: HisNorm { by_tokens: self.his_by_tokens, layer_l2: !self.no_layer_l2, global_min_max: !self.no_global_minmax },
                per_layer_min_max: self.per_layer_minmax,
            }
        }
    }

    #[derive(Subcommand)]
    enum Command {
        /// Embed sentences (one per line on stdin, or --text): one JSON line each on stdout.
        Embed {
            #[command(flatten)]
            model: ModelArgs,
            /// A sentence to embed (repeatable); without it, stdin is read.
            #[arg(long)]
            text: Vec<String>,
        },
        /// Train the linear sentiment head on frozen embeddings and write it with its sidecar.
        TrainHead {
            #[command(flatten)]
            model: ModelArgs,
            #[arg(long, default_value = hies::DEFAULT_TRAIN)]
            train: PathBuf,
            #[arg(long, default_value = hies::DEFAULT_DEV)]
            dev: PathBuf,
            #[arg(long, default_value = hies::DEFAULT_HEAD)]
            out: PathBuf,
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
        },
        /// Score every head on a calibration set: entropy, HIS, HIES, confidence, weight norm.
        Score {
            #[command(flatten)]
            model: ModelArgs,
            #[command(flatten)]
            head: HeadArgs,
            #[command(flatten)]
            score: ScoreArgs,
            /// Print the whole result as JSON.
            #[arg(long)]
            json: bool,
            /// Also write one row per head as CSV.
            #[arg(long)]
            csv: Option<PathBuf>,
        },
        /// Prune heads by a criterion and evaluate on the dev set.
        Prune {
            #[command(flatten)]
            model: ModelArgs,
            #[command(flatten)]
            head: HeadArgs,
            #[command(flatten)]
            score: ScoreArgs,
            /// hies, his, entropy, confidence, weight_norm or random.
            #[arg(long, default_value = "hies")]
            criterion: String,
            /// Share of all heads to prune.
            #[arg(long, default_value_t = 0.3)]
            ratio: f64,
            /// Prune in steps, re-scoring the survivors after each.
            #[arg(long)]
            iterative: bool,
            /// Share of all heads per iterative step.
            #[arg(long, default_value_t = 0.1)]
            step: f64,
            /// The same share of heads from every layer (default: lowest scores globally).
            #[arg(long)]
            per_layer: bool,
            /// Also build the structurally pruned model, check it and time it.
            #[arg(long)]
            structural: bool,
            #[arg(long, default_value = hies::DEFAULT_DEV)]
            dev: PathBuf,
            #[arg(long)]
            json: bool,
        },
        /// One sentence: every head's attention, its entropy, and its importance |∂L/∂ξ| with the
        /// model's own prediction as the label (JSON; the page's precomputed example sentences).
        Attention {
            #[command(flatten)]
            model: ModelArgs,
            #[command(flatten)]
            head: HeadArgs,
            #[arg(long)]
            text: String,
        },
        /// Timed runs for bench/ (not a test): the dev set forward, head scoring on the calibration
        /// sample, and structural pruning (HIES order) against its FLOP prediction. JSON out.
        Bench {
            #[command(flatten)]
            model: ModelArgs,
            #[command(flatten)]
            head: HeadArgs,
            #[command(flatten)]
            score: ScoreArgs,
            #[arg(long, default_value = hies::DEFAULT_DEV)]
            dev: PathBuf,
            /// Timed repetitions of each measurement (after one warm-up); medians are reported.
            #[arg(long, default_value_t = 3)]
            runs: usize,
            #[arg(long, value_delimiter = ',', default_value = "0.3,0.5,0.7")]
            ratios: Vec<f64>,
            /// Also write the calibration sample (label<TAB>text), so other systems score the same sentences.
            #[arg(long)]
            calibration_out: Option<PathBuf>,
        },
        /// Accuracy and agreement vs pruning ratio for every criterion (mean ± std over seeds).
        Curve {
            #[command(flatten)]
            model: ModelArgs,
            #[command(flatten)]
            head: HeadArgs,
            #[command(flatten)]
            score: ScoreArgs,
            #[arg(long, value_delimiter = ',', default_value = "hies,his,entropy,confidence,weight_norm,random")]
            criteria: Vec<String>,
            #[arg(long, value_delimiter = ',', default_value = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")]
            ratios: Vec<f64>,
            /// Calibration seeds (the random baseline uses them too).
            #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4")]
            seeds: Vec<u64>,
            #[arg(long)]
            per_layer: bool,
            /// Iterative pruning with this step (share of all heads).
            #[arg(long)]
            iterative_step: Option<f64>,
            #[arg(long, default_value = hies::DEFAULT_DEV)]
            dev: PathBuf,
            #[arg(long)]
            json: bool,
            #[arg(long)]
            csv: Option<PathBuf>,
        },
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

    fn block<T>(f: impl std::future::Future<Output = hies::Result<T>>) -> Res<T> {
        Ok(pollster::block_on(f)?)
    }

    fn load(m: &ModelArgs) -> Res<Engine> {
        let backend = Backend::parse(&m.backend)?;
        let dir = ModelDir::read(&m.model)?;
        Ok(Engine::load(&dir.files(), block(device::device(backend))?, backend)?)
    }

    fn load_with_head(m: &ModelArgs, h: &HeadArgs) -> Res<Engine> {
        let mut engine = load(m)?;
        if engine.classifier.is_none() {
            let bytes = std::fs::read(&h.head).map_err(|e| format!("cannot read head {} ({e})", h.head.display()))?;
            let meta = read_meta(&h.head)?;
            engine.set_head(&bytes, &meta)?;
        }
        Ok(engine)
    }

    fn sidecar(head: &Path) -> PathBuf {
        head.with_extension("json")
    }

    fn read_meta(head: &Path) -> Res<HeadMeta> {
        let path = sidecar(head);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {} ({e})", path.display()))?;
        Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?)
    }

    fn read_tsv(path: &Path, labels: &[String]) -> Res<Vec<Example>> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {} ({e}); run `python3 scripts/setup-assets.py`", path.display()))?;
        Ok(data::parse_tsv(&text, labels).map_err(|e| format!("{}: {e}", path.display()))?)
    }

    /// Labelled sentences for the engine's classifier.
    fn read_data(path: &Path, engine: &Engine) -> Res<Vec<Example>> {
        read_tsv(path, &engine.classifier()?.labels)
    }

    fn print_json(v: &impl Serialize) -> Res<()> {
        println!("{}", serde_json::to_string_pretty(v)?);
        Ok(())
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
    }

    /// Median milliseconds per sentence, batch 1, over `rounds` passes through `texts` after one warm-up pass.
    fn latency_ms(engine: &Engine, model: &hies::model::Bert, texts: &[String], off: &[(usize, usize)], rounds: usize) -> Res<f64> {
        let mut times = Vec::new();
        for round in 0..=rounds {
            for t in texts {
                let start = Instant::now();
                block(engine.logits(model, std::slice::from_ref(t), off))?;
                if round > 0 {
                    times.push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        Ok(median(times))
    }

    /// Seconds for `f`, median of `runs` after one warm-up call.
    fn timed(runs: usize, mut f: impl FnMut() -> Res<()>) -> Res<(f64, Vec<f64>)> {
        f()?;
        let mut times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            f()?;
            times.push(start.elapsed().as_secs_f64());
        }
        Ok((median(times.clone()), times))
    }

    fn bench(model: &ModelArgs, head: &HeadArgs, score: &ScoreArgs, dev: &Path, runs: usize, ratios: &[f64], calibration_out: Option<&Path>) -> Res<()> {
        use hies::batch::{self, Batch};
        use hies::flops::{encoder_flops, kept_per_layer};
        let engine = load_with_head(model, head)?;
        let c = engine.config().clone();
        let calibration = data::sample(&read_data(&score.data, &engine)?, score.n, score.seed);
        if let Some(path) = calibration_out {
            std::fs::write(path, calibration.iter().map(|e| format!("{}\t{}\n", e.label, e.text)).collect::<String>())?;
        }
        let texts: Vec<String> = read_data(dev, &engine)?.into_iter().map(|e| e.text).collect();
        let encoded = texts.iter().map(|t| engine.encode(t)).collect::<hies::Result<Vec<_>>>()?;
        let lens: Vec<usize> = encoded.iter().map(|e| e.ids.len()).collect();

        // 1. Forward: tokenize, encode and pool the dev set, batched as `embed` batches.
        eprintln!("bench: forward over {} sentences", texts.len());
        let (forward_s, forward_runs) = timed(runs, || block(engine.embed(&texts)).map(|_| ()))?;

        // 2. Scoring: entropy, confidence and HIS (forward + backward) on the calibration sample.
        eprintln!("bench: scoring {} sentences", calibration.len());
        let mut scores = None;
        let (score_s, score_runs) = timed(runs, || {
            scores = Some(block(engine.score(&calibration, &[], score.options(), &mut |_, _| {}))?);
            Ok(())
        })?;
        let scores = scores.expect("ran");

        // 3. Structural pruning in HIES order: encoder time over the dev set vs the FLOP count.
        let batches: Vec<Batch> = batch::plan(&lens, 4096, 64)
            .into_iter()
            .map(|g| Batch::new(&g.iter().map(|&i| encoded[i].ids.as_slice()).collect::<Vec<_>>(), c.pad_token_id))
            .collect();
        let encode_all = |m: &hies::model::Bert| -> Res<()> {
            for b in &batches {
                let (ids, mask) = b.tensors(&engine.device);
                block(hies::engine::read(m.forward(ids, mask, None, false).hidden.sum()))?;
            }
            Ok(())
        };
        let flops = |kept: &[usize]| batches.iter().map(|b| encoder_flops(&c, kept, b.b, b.t)).sum::<f64>();
        let full_flops = flops(&kept_per_layer(&c, &[]));
        let mut pruning = Vec::new();
        let keep = hies::prune::keep_score(Criterion::Hies, &scores, score.seed);
        for &ratio in ratios {
            let count = hies::analysis::heads_for_ratio(ratio, c.num_hidden_layers * c.num_attention_heads);
            let off = hies::analysis::select_pruned(&keep, count, false, &[]);
            let small = engine.model.without_heads(&off);
            eprintln!("bench: pruning {count} heads");
            // Interleaved, so drift on a shared machine hits both alike.
            let (mut full_t, mut small_t) = (Vec::new(), Vec::new());
            encode_all(&engine.model)?;
            encode_all(&small)?;
            for _ in 0..runs {
                let t = Instant::now();
                encode_all(&engine.model)?;
                full_t.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                encode_all(&small)?;
                small_t.push(t.elapsed().as_secs_f64());
            }
            let (full_s, small_s) = (median(full_t), median(small_t));
            let predicted = full_flops / flops(&kept_per_layer(&c, &off));
            pruning.push(json!({
                "ratio": ratio, "heads_pruned": count, "full_s": full_s, "structural_s": small_s,
                "measured_speedup": full_s / small_s, "flop_predicted_speedup": predicted,
                "share_of_predicted": (full_s / small_s - 1.0) / (predicted - 1.0),
            }));
        }
        let tokens: usize = lens.iter().sum();
        let padded: usize = batches.iter().map(|b| b.b * b.t).sum();
        print_json(&json!({
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "forward": { "sentences": texts.len(), "tokens": tokens, "padded_tokens": padded, "median_s": forward_s, "runs_s": forward_runs,
                         "sentences_per_s": texts.len() as f64 / forward_s, "gflop_per_s": full_flops / forward_s / 1e9, "encoder_gflop": full_flops / 1e9 },
            "score": { "n": calibration.len(), "median_s": score_s, "runs_s": score_runs, "his_raw": scores.his_raw, "entropy": scores.entropy },
            "pruning": pruning,
        }))
    }

    fn grid_table(name: &str, g: &Grid) -> String {
        let mut s = format!("{name}\n      ");
        for h in 0..g[0].len() {
            s += &format!("{h:>6}");
        }
        for (l, row) in g.iter().enumerate() {
            s += &format!("\n  L{l:<3}");
            for x in row {
                s += &format!("{x:>6.3}");
            }
        }
        s + "\n"
    }

    fn run(cli: Cli) -> Res<()> {
        match cli.command {
            Command::Embed { model, text } => {
                let engine = load(&model)?;
                let texts = if text.is_empty() {
                    std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>()?
                } else {
                    text
                };
                let out = block(engine.embed(&texts))?;
                let mut stdout = std::io::stdout().lock();
                #[derive(Serialize)]
                struct Line<'a> {
                    text: &'a str,
                    ids: &'a [u32],
                    truncated: bool,
                    embedding: &'a [f32],
                }
                for (text, e) in texts.iter().zip(out) {
                    if e.truncated {
                        eprintln!("hies: truncated to {} tokens: {:.60}…", e.ids.len(), text);
                    }
                    let line = Line { text, ids: &e.ids, truncated: e.truncated, embedding: &e.embedding };
                    writeln!(stdout, "{}", serde_json::to_string(&line)?)?;
                }
                Ok(())
            }

            Command::TrainHead { model, train, dev, out, labels, seed, epochs, lr, json } => {
                let engine = load(&model)?;
                let started = Instant::now();
                let (train, dev) = (read_tsv(&train, &labels)?, read_tsv(&dev, &labels)?);
                let d = engine.config().hidden_size;
                let features = |set: &[Example]| -> Res<Vec<f32>> {
                    let texts: Vec<String> = set.iter().map(|e| e.text.clone()).collect();
                    cached_embeddings(&engine, &model.model, &texts)
                };
                let (xt, xd) = (features(&train)?, features(&dev)?);
                let embed_s = started.elapsed().as_secs_f64();
                let yt: Vec<usize> = train.iter().map(|e| e.label).collect();
                let yd: Vec<usize> = dev.iter().map(|e| e.label).collect();
                let options = TrainOptions { epochs, learning_rate: lr, seed, ..TrainOptions::default() };
                let head = block(train_head(&xt, &yt, d, labels.len(), options, &engine.device))?;
                let train_accuracy = evaluate::accuracy(&head.predict(&xt, d), &yt);
                let dev_accuracy = evaluate::accuracy(&head.predict(&xd, d), &yd);
                let meta = HeadMeta {
                    labels: labels.clone(),
                    pooling: format!("{:?}", engine.pooling.mode).to_lowercase(),
                    normalized: engine.pooling.normalize,
                    train_accuracy: Some(round4(train_accuracy)),
                    dev_accuracy: Some(round4(dev_accuracy)),
                    seed: Some(seed),
                    epochs: Some(epochs),
                    learning_rate: Some(lr),
                    model: model.model.file_name().map(|n| n.to_string_lossy().into_owned()),
                };
                if let Some(dir) = out.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&out, head_to_safetensors(&head.weight, &head.bias, d))?;
                std::fs::write(sidecar(&out), serde_json::to_string_pretty(&meta)? + "\n")?;
                let report = json!({
                    "head": out, "train_accuracy": train_accuracy, "dev_accuracy": dev_accuracy,
                    "train": train.len(), "dev": dev.len(), "embed_seconds": embed_s,
                    "total_seconds": started.elapsed().as_secs_f64(),
                });
                if json {
                    print_json(&report)?;
                } else {
                    println!("wrote {} (+ sidecar): train accuracy {train_accuracy:.4}, dev accuracy {dev_accuracy:.4} ({:.1} s)", out.display(), started.elapsed().as_secs_f64());
                }
                Ok(())
            }

            Command::Score { model, head, score, json, csv } => {
                let engine = load_with_head(&model, &head)?;
                let all = read_data(&score.data, &engine)?;
                let calibration = data::sample(&all, score.n, score.seed);
                let s = block(engine.score(&calibration, &[], score.options(), &mut |d, t| eprint!("\rscoring {d}/{t}")))?;
                eprintln!();
                if let Some(path) = csv {
                    let mut w = String::from("layer,head,entropy,entropy_nats,his_raw,his,hies,confidence,weight_norm\n");
                    for l in 0..s.layers {
                        for h in 0..s.heads {
                            w += &format!(
                                "{l},{h},{},{},{},{},{},{},{}\n",
                                s.entropy[l][h], s.entropy_nats[l][h], s.his_raw[l][h], s.his[l][h], s.hies[l][h], s.confidence[l][h], s.weight_norm[l][h]
                            );
                        }
                    }
                    std::fs::write(path, w)?;
                }
                if json {
                    let mut v = serde_json::to_value(&s)?;
                    v["seed"] = json!(score.seed);
                    print_json(&v)?;
                } else {
                    print!("{}", grid_table(&format!("HIES (α = {})", s.alpha), &s.hies));
                    print!("{}", grid_table("HIS", &s.his));
                    print!("{}", grid_table("entropy (normalised)", &s.entropy));
                }
                Ok(())
            }

            Command::Prune { model, head, score, criterion, ratio, iterative, step, per_layer, structural, dev, json } => {
                let engine = load_with_head(&model, &head)?;
                let train = read_data(&score.data, &engine)?;
                let calibration = data::sample(&train, score.n, score.seed);
                let options = PruneOptions {
                    criterion: Criterion::parse(&criterion)?,
                    ratio,
                    per_layer,
                    iterative_step: iterative.then_some(step),
                    scores: score.options(),
                    random_seed: score.seed,
                };
                let (mut pruned, _) = block(engine.plan_pruning(&calibration, &options, &mut |_, _| {}))?;
                pruned.sort();
                let dev_examples = read_data(&dev, &engine)?;
                let mut set = engine.prepare(&dev_examples)?;
                let full = block(engine.predict_full(&mut set, &mut |_, _| {}))?;
                let masked = block(engine.predict(&set, Pruned::Mask(&pruned), &mut |_, _| {}))?;
                let texts: Vec<String> = dev_examples.iter().take(32).map(|e| e.text.clone()).collect();
                let full_ms = latency_ms(&engine, &engine.model, &texts, &[], 3)?;
                let masked_ms = latency_ms(&engine, &engine.model, &texts, &pruned, 3)?;
                let mut report = json!({
                    "criterion": options.criterion, "ratio": ratio, "alpha": score.alpha, "iterative": iterative,
                    "per_layer": per_layer, "n": score.n, "seed": score.seed,
                    "pruned": pruned.iter().map(|&(l, h)| [l, h]).collect::<Vec<_>>(),
                    "heads_pruned": pruned.len(),
                    "accuracy_full": evaluate::accuracy(&full, &set.labels),
                    "accuracy": evaluate::accuracy(&masked, &set.labels),
                    "agreement": evaluate::agreement(&masked, &full),
                    "latency_ms_full": full_ms, "latency_ms_masked": masked_ms,
                    "parameters_full": engine.num_params(&engine.model),
                });
                if structural {
                    let small = engine.model.without_heads(&pruned);
                    let sp = block(engine.predict(&set, Pruned::Structural(&small, &pruned), &mut |_, _| {}))?;
                    report["accuracy_structural"] = json!(evaluate::accuracy(&sp, &set.labels));
                    report["structural_equals_masked"] = json!(sp == masked);
                    report["latency_ms_structural"] = json!(latency_ms(&engine, &small, &texts, &[], 3)?);
                    report["parameters_structural"] = json!(engine.num_params(&small));
                }
                if json {
                    print_json(&report)?;
                } else {
                    for (k, v) in report.as_object().unwrap() {
                        if k != "pruned" {
                            println!("{k:>26}: {v}");
                        }
                    }
                    println!("{:>26}: {}", "pruned", pruned.iter().map(|(l, h)| format!("{l}.{h}")).collect::<Vec<_>>().join(" "));
                }
                Ok(())
            }

            Command::Attention { model, head, text } => {
                let engine = load_with_head(&model, &head)?;
                let a = block(engine.attention(&text))?;
                let logits = block(engine.logits(&engine.model, std::slice::from_ref(&text), &[]))?;
                let predicted = logits.iter().enumerate().fold(0, |best, (i, &x)| if x > logits[best] { i } else { best });
                let s = block(engine.score(&[Example { label: predicted, text: text.clone() }], &[], ScoreOptions::default(), &mut |_, _| {}))?;
                let stats = hies::analysis::example_head_stats(&a.probs, a.layers * a.heads, a.len, a.len);
                let mut v = serde_json::to_value(&a)?;
                v["text"] = json!(text);
                v["predicted"] = json!(predicted);
                v["entropy"] = json!(stats.iter().map(|s| s.1).collect::<Vec<_>>());
                v["importance"] = json!(s.his_raw);
                print_json(&v)?;
                Ok(())
            }

            Command::Bench { model, head, score, dev, runs, ratios, calibration_out } => bench(&model, &head, &score, &dev, runs, &ratios, calibration_out.as_deref()),

            Command::Curve { model, head, score, criteria, ratios, seeds, per_layer, iterative_step, dev, json, csv } => {
                let engine = load_with_head(&model, &head)?;
                let train = read_data(&score.data, &engine)?;
                let mut set = engine.prepare(&read_data(&dev, &engine)?)?;
                let options = CurveOptions {
                    criteria: criteria.iter().map(|c| Criterion::parse(c)).collect::<hies::Result<_>>()?,
                    ratios,
                    seeds,
                    n: score.n,
                    per_layer,
                    iterative_step,
                    scores: score.options(),
                };
                let started = Instant::now();
                let curves = block(engine.curves(&train, &mut set, &options, &mut |p: CurveProgress| {
                    eprint!("\r{} {}/{}   ", p.stage, p.done, p.total)
                }))?;
                eprintln!("\rdone in {:.0} s ({} distinct head sets)", started.elapsed().as_secs_f64(), curves.evaluations);
                if let Some(path) = csv {
                    let mut w = String::from("criterion,ratio,heads_pruned,accuracy_mean,accuracy_std,agreement_mean,agreement_std\n");
                    for p in &curves.points {
                        w += &format!(
                            "{},{},{},{},{},{},{}\n",
                            p.criterion.name(), p.ratio, p.heads_pruned, p.accuracy_mean, p.accuracy_std, p.agreement_mean, p.agreement_std
                        );
                    }
                    std::fs::write(path, w)?;
                }
                if json {
                    print_json(&curves)?;
                } else {
                    println!("unpruned dev accuracy {:.4}", curves.full_accuracy);
                    println!("{:>12} {:>6} {:>16} {:>16}", "criterion", "ratio", "accuracy", "agreement");
                    for p in &curves.points {
                        println!(
                            "{:>12} {:>6.2} {:>8.4} ± {:<6.4} {:>8.4} ± {:<6.4}",
                            p.criterion.name(), p.ratio, p.accuracy_mean, p.accuracy_std, p.agreement_mean, p.agreement_std
                        );
                    }
                }
                Ok(())
            }
        }
    }

    /// Sentence embeddings, cached in assets/.cache by a hash of the model files and the texts:
    /// retraining the head then takes seconds.
    fn cached_embeddings(engine: &Engine, model_dir: &Path, texts: &[String]) -> Res<Vec<f32>> {
        let mut hash = 0xcbf2_9ce4_8422_2325u64; // FNV-1a
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            eat(&std::fs::read(model_dir.join(f))?);
        }
        for t in texts {
            eat(t.as_bytes());
            eat(b"\n");
        }
        let d = engine.config().hidden_size;
        let path = PathBuf::from("assets/.cache").join(format!("embeddings-{hash:016x}.f32"));
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.len() == texts.len() * d * 4
        {
            return Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
        }
        let v: Vec<f32> = block(engine.embed(texts))?.into_iter().flat_map(|e| e.embedding).collect();
        std::fs::create_dir_all("assets/.cache")?;
        std::fs::write(&path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())?;
        Ok(v)
    }

    fn round4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }
}
