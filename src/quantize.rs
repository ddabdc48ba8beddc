//! The int8 checkpoint: a safetensors file of the same tensors, four times lighter to download.
//!
//! Format (`hies-int8-v1`; anyone can write it, e.g. with numpy and safetensors):
//! - every 2-D `….weight` of a linear layer (PyTorch's [out, in]) and
//!   `embeddings.word_embeddings.weight` [vocab, hidden] is stored as **I8** under its own name,
//!   with **F32** `….weight_scale` [rows, 1] beside it (the llm-compressor / compressed-tensors
//!   name and shape for a per-channel scale): `w[r, c] = q[r, c] · scale[r]`;
//! - symmetric per row (per output channel; per token for the embeddings): `scale[r] =
//!   max_c |w[r, c]| / 127`, `q = round(w / scale)` half away from zero, in [−127, 127]; a row of
//!   zeros has scale 0;
//! - every other tensor (biases, LayerNorms, the position and token type embeddings) stays as it
//!   was, in its dtype;
//! - the header's metadata says `"quantization": "hies-int8-v1"`.
//!
//! Loading (`crate::weights`) turns each I8 tensor back into f32 with its scale; the q8 compute
//! path re-quantises those values per output channel and gets the same integers back. The file
//! takes the place of `model.safetensors` in a checkpoint folder (one file: `hies quantize` joins
//! shards first). From F32 weights it is a quarter of the size in the quantised tensors (MiniLM:
//! 90.9 MB → 23.6 MB); from F16 or BF16 a half.

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Error, Result};
use crate::model::quantize_row;
use crate::weights::to_f32;

/// The format's name in the header's metadata.
pub const FORMAT: &str = "hies-int8-v1";
/// The suffix of a quantised tensor's scale: `NAME_scale` beside `NAME`.
pub const SCALE_SUFFIX: &str = "_scale";

/// Whether `name` [shape] is stored as int8: a linear layer's weight or the word embeddings.
pub fn quantized(name: &str, shape: &[usize]) -> bool {
    shape.len() == 2
        && name.ends_with(".weight")
        && (name.ends_with("word_embeddings.weight") || !(name.contains("position_embeddings") || name.contains("token_type_embeddings")))
}

/// The int8 checkpoint of a float safetensors file (F32, F16, BF16 or F64 tensors), in the
/// format above. Deterministic: the same input gives the same bytes.
/// Errors: not a safetensors file, a tensor that is not a float, a file already quantised.
pub fn quantize(bytes: &[u8]) -> Result<Vec<u8>> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| Error::weights(format!("not a valid safetensors file: {e}")))?;
    let mut out: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, view) in file.tensors() {
        if view.dtype() == Dtype::I8 || name.ends_with(SCALE_SUFFIX) {
            return Err(Error::weights(format!("tensor \"{name}\" is already quantised ({FORMAT})")));
        }
        // Integer tensors some checkpoints carry (position_ids) are buffers, not weights: kept.
        let Some(values) = to_f32(view.dtype(), view.data()) else {
            out.insert(name.clone(), (view.dtype(), view.shape().to_vec(), view.data().to_vec()));
            continue;
        };
        let shape = view.shape().to_vec();
        if !quantized(&name, &shape) {
            out.insert(name, (view.dtype(), shape, view.data().to_vec()));
            continue;
        }
        let (rows, cols) = (shape[0], shape[1]);
        let mut q = Vec::with_capacity(rows * cols);
        let mut scales = Vec::with_capacity(rows * 4);
        for r in 0..rows {
            let (row, s) = quantize_row(values[r * cols..(r + 1) * cols].iter().copied());
            q.extend(row.into_iter().map(|v| v as u8));
            scales.extend(s.to_le_bytes());
        }
        out.insert(format!("{name}{SCALE_SUFFIX}"), (Dtype::F32, vec![rows, 1], scales));
        out.insert(name, (Dtype::I8, shape, q));
    }
    let views: Vec<(String, TensorView)> = out
        .iter()
        .map(|(n, (d, s, b))| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::weights(format!("cannot write the int8 file: {e}")))?;
    // One key: the metadata is a HashMap, so two keys would be written in either order.
    let metadata = [("quantization".to_string(), FORMAT.to_string())].into_iter().collect();
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::weights(format!("cannot write the int8 file: {e}")))
}
