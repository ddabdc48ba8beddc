//! `hies quantize`: a float safetensors checkpoint as int8 (`hies::quantize`, format
//! hies-int8-v1: linear weights and word embeddings per row in int8 with f32 scales, the rest f32).

use std::path::PathBuf;

use super::args::{Res, write};

#[derive(clap::Args)]
pub struct Args {
    /// The float checkpoint (model.safetensors: F32, F16, BF16 or F64).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// The int8 file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

pub fn run(a: Args) -> Res<()> {
    let bytes = std::fs::read(&a.input).map_err(|e| format!("cannot read {} ({e})", a.input.display()))?;
    let int8 = hies::quantize::quantize(&bytes).map_err(|e| e.context(a.input.display()))?;
    write(&a.out, &int8)?;
    eprintln!("hies: wrote {} ({:.1} MB from {:.1} MB)", a.out.display(), int8.len() as f64 / 1e6, bytes.len() as f64 / 1e6);
    Ok(())
}
