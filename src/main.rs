//! `hies`: the native command line over the same engine the browser runs.

#[cfg(target_family = "wasm")]
fn main() {}

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_family = "wasm"))]
mod cli {
    use std::io::{BufRead, Write};
    use std::path::PathBuf;
    use std::process::ExitCode;

    use clap::{Parser, Subcommand};
    use hies::engine::ModelDir;
    use hies::{Backend, Engine, device};

    #[derive(Parser)]
    #[command(name = "hies", version, about = "Attention-head importance and entropy for BERT models")]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Embed sentences (one per line on stdin, or --text): one JSON line each on stdout.
        Embed {
            /// A checkpoint folder: config.json, model.safetensors, tokenizer.json.
            #[arg(long, default_value = hies::DEFAULT_MODEL_DIR)]
            model: PathBuf,
            /// A sentence to embed (repeatable); without it, stdin is read.
            #[arg(long)]
            text: Vec<String>,
            /// cpu (burn flex) or gpu (wgpu).
            #[arg(long, default_value = "cpu")]
            backend: String,
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

    fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
        match cli.command {
            Command::Embed { model, text, backend } => {
                let backend = Backend::parse(&backend)?;
                let dir = ModelDir::read(&model)?;
                let engine = Engine::load(&dir.files(), pollster::block_on(device::device(backend))?, backend)?;
                let texts = if text.is_empty() {
                    std::io::stdin().lock().lines().collect::<Result<Vec<_>, _>>()?
                } else {
                    text
                };
                let out = pollster::block_on(engine.embed(&texts))?;
                let mut stdout = std::io::stdout().lock();
                for (text, e) in texts.iter().zip(out) {
                    if e.truncated {
                        eprintln!("hies: truncated to {} tokens: {:.60}…", e.ids.len(), text);
                    }
                    let line = serde_json::json!({"text": text, "ids": e.ids, "truncated": e.truncated, "embedding": e.embedding});
                    writeln!(stdout, "{line}")?;
                }
                Ok(())
            }
        }
    }
}
