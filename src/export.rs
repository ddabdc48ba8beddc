//! A model as a standard Hugging Face checkpoint: BertForSequenceClassification weights in
//! PyTorch layout (`bert.` prefix, [out, in] matrices) with any adapter already merged, and the
//! pruned heads sliced out of query/key/value and attention.output.dense and listed in
//! config.json's `pruned_heads`, which is what transformers 4.x's `prune_heads` +
//! `save_pretrained` leave (`from_pretrained` prunes the fresh model by that list before loading).
//! A layer that loses every head keeps a zero stand-in head (see `hies_zeroed_heads` below).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::Head;
use crate::classifier::Input;
use crate::config::ModelType;
use crate::engine::{Engine, read};
use crate::error::{Error, Result};
use crate::lora::{NamedTensor, transpose};
use crate::model::{LayerNorm, Linear};

/// The two files of the export: `config.json` text and `model.safetensors` bytes.
pub struct Exported {
    pub config: String,
    pub weights: Vec<u8>,
    pub heads_pruned: usize,
    pub parameters: usize,
}

/// A tensor's name in the family's *ForSequenceClassification, from BERT's name without prefix:
/// the encoder under `bert.`/`distilbert.`/`roberta.`/`electra.`, the head outside it (BERT's
/// pooler excepted, which BertModel holds).
fn export_name(canonical: &str, model_type: ModelType) -> String {
    let head = canonical.starts_with("classifier.") || (canonical.starts_with("pooler.") && model_type != ModelType::Bert);
    let name = crate::weights::family_name(canonical, model_type);
    if head { name } else { format!("{}{name}", model_type.prefix()) }
}

/// Exports `engine`'s model without the heads in `remove`. `config_json`: the checkpoint's own
/// config.json, whose other keys are kept. Errors: a classifier that is not the checkpoint's own
/// pooler + classifier (the linear probe sits on the mean-pooled embedding, which
/// BertForSequenceClassification does not compute).
pub async fn export(engine: &Engine, config_json: &[u8], remove: &[Head]) -> Result<Exported> {
    let classifier = engine.classifier()?;
    if classifier.input != Input::Pooler {
        return Err(Error::classifier(
            "this classifier reads the mean-pooled sentence embedding, which a …ForSequenceClassification model does not compute: export the fine-tuned model or a checkpoint with its own pooler and classifier",
        ));
    }
    let c = engine.config();
    let model = engine.model.without_heads(remove);
    let mut pruned: BTreeMap<usize, Vec<usize>> = c.pruned_heads.clone();
    for (&l, heads) in &c.zeroed_heads {
        pruned.entry(l).or_default().extend(heads);
    }
    for &(l, h) in remove {
        pruned.entry(l).or_default().push(h);
    }
    pruned.values_mut().for_each(|v| {
        v.sort();
        v.dedup();
    });
    let heads_pruned = pruned.values().map(Vec::len).sum();
    // transformers 4.57 cannot run a layer without heads (its self-attention's
    // `.view(batch, -1, 0, head_dim)` of the empty projection fails), so such a layer keeps one
    // stand-in head, its lowest, with zero weights: it adds exactly 0. `hies_zeroed_heads` names
    // it, and our loader checks and drops it.
    let mut zeroed: BTreeMap<usize, usize> = BTreeMap::new();
    for (&l, heads) in pruned.iter_mut() {
        if heads.len() == c.num_attention_heads {
            zeroed.insert(l, heads.remove(0));
        }
    }

    let mut tensors: Vec<NamedTensor> = Vec::new();
    async fn push2(out: &mut Vec<NamedTensor>, name: String, t: &burn::tensor::Tensor<2>) -> Result<()> {
        let [r, c] = t.dims();
        out.push(NamedTensor { name, shape: vec![r, c], values: read(t.clone()).await? });
        Ok(())
    }
    async fn linear(out: &mut Vec<NamedTensor>, prefix: &str, l: &Linear) -> Result<()> {
        let [d_in, d_out] = l.weight.dims();
        // Ours is [in, out]; PyTorch's Linear.weight is [out, in].
        out.push(NamedTensor {
            name: format!("{prefix}.weight"),
            shape: vec![d_out, d_in],
            values: transpose(&read(l.weight.clone()).await?, d_in, d_out),
        });
        out.push(NamedTensor { name: format!("{prefix}.bias"), shape: vec![d_out], values: read(l.bias.clone()).await? });
        Ok(())
    }
    async fn norm(out: &mut Vec<NamedTensor>, prefix: &str, n: &LayerNorm) -> Result<()> {
        let d = n.weight.dims()[0];
        out.push(NamedTensor { name: format!("{prefix}.weight"), shape: vec![d], values: read(n.weight.clone()).await? });
        out.push(NamedTensor { name: format!("{prefix}.bias"), shape: vec![d], values: read(n.bias.clone()).await? });
        Ok(())
    }
    // BERT's names first, each family's at the end (`export_name`).
    let e = &model.embeddings;
    push2(&mut tensors, "embeddings.word_embeddings.weight".into(), &e.word_embeddings).await?;
    push2(&mut tensors, "embeddings.position_embeddings.weight".into(), &e.position_embeddings).await?;
    if let Some(types) = &e.token_type_embeddings {
        push2(&mut tensors, "embeddings.token_type_embeddings.weight".into(), types).await?;
    }
    norm(&mut tensors, "embeddings.LayerNorm", &e.layer_norm).await?;
    if let Some(project) = &e.project {
        linear(&mut tensors, "embeddings_project", project).await?;
    }
    let (d, dh) = (c.hidden_size, c.head_dim());
    for (i, layer) in model.layers.iter().enumerate() {
        let p = format!("encoder.layer.{i}");
        let a = &layer.attention;
        if zeroed.contains_key(&i) {
            for name in ["query", "key", "value"] {
                tensors.push(NamedTensor { name: format!("{p}.attention.self.{name}.weight"), shape: vec![dh, d], values: vec![0.0; dh * d] });
                tensors.push(NamedTensor { name: format!("{p}.attention.self.{name}.bias"), shape: vec![dh], values: vec![0.0; dh] });
            }
            let bias = read(a.output_dense.bias.clone()).await?;
            tensors.push(NamedTensor { name: format!("{p}.attention.output.dense.weight"), shape: vec![d, dh], values: vec![0.0; d * dh] });
            tensors.push(NamedTensor { name: format!("{p}.attention.output.dense.bias"), shape: vec![d], values: bias });
        } else {
            linear(&mut tensors, &format!("{p}.attention.self.query"), &a.query).await?;
            linear(&mut tensors, &format!("{p}.attention.self.key"), &a.key).await?;
            linear(&mut tensors, &format!("{p}.attention.self.value"), &a.value).await?;
            linear(&mut tensors, &format!("{p}.attention.output.dense"), &a.output_dense).await?;
        }
        norm(&mut tensors, &format!("{p}.attention.output.LayerNorm"), &a.output_layer_norm).await?;
        linear(&mut tensors, &format!("{p}.intermediate.dense"), &layer.intermediate_dense).await?;
        linear(&mut tensors, &format!("{p}.output.dense"), &layer.output_dense).await?;
        norm(&mut tensors, &format!("{p}.output.LayerNorm"), &layer.output_layer_norm).await?;
    }
    let pooler = model.pooler.as_ref().expect("a Pooler classifier implies a pooler");
    linear(&mut tensors, "pooler.dense", pooler).await?;
    linear(&mut tensors, "classifier", &classifier.linear).await?;
    for t in &mut tensors {
        t.name = export_name(&t.name, c.model_type);
    }
    let weights = crate::lora::safetensors_bytes(&tensors)?;

    let mut config: Value = serde_json::from_slice(config_json).map_err(|e| Error::config(format!("not valid JSON ({e})")))?;
    let obj = config.as_object_mut().ok_or_else(|| Error::config("config.json is not an object"))?;
    let labels = &classifier.labels;
    let architecture = match c.model_type {
        ModelType::Bert => "BertForSequenceClassification",
        ModelType::DistilBert => "DistilBertForSequenceClassification",
        ModelType::Roberta if obj.get("model_type").and_then(Value::as_str) == Some("xlm-roberta") => "XLMRobertaForSequenceClassification",
        ModelType::Roberta => "RobertaForSequenceClassification",
        ModelType::Electra => "ElectraForSequenceClassification",
    };
    obj.insert("architectures".into(), json!([architecture]));
    obj.insert("id2label".into(), Value::Object(labels.iter().enumerate().map(|(i, l)| (i.to_string(), json!(l))).collect()));
    obj.insert("label2id".into(), Value::Object(labels.iter().enumerate().map(|(i, l)| (l.clone(), json!(i))).collect()));
    obj.insert("pruned_heads".into(), Value::Object(pruned.iter().filter(|(_, h)| !h.is_empty()).map(|(l, h)| (l.to_string(), json!(h))).collect()));
    obj.remove("hies_zeroed_heads");
    if !zeroed.is_empty() {
        obj.insert("hies_zeroed_heads".into(), Value::Object(zeroed.iter().map(|(l, h)| (l.to_string(), json!([h]))).collect()));
    }
    obj.insert("torch_dtype".into(), json!("float32"));
    // The parameters in the file: the model's and the stand-ins' (three projections, and their
    // columns of attention.output.dense).
    let parameters = model.num_params() + zeroed.len() * (3 * (dh * d + dh) + d * dh);
    Ok(Exported { config: serde_json::to_string_pretty(&config).expect("JSON") + "\n", weights, heads_pruned, parameters })
}
