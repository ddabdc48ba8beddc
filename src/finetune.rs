//! Fine-tuning a sentence classifier as Hugging Face's BertForSequenceClassification
//! ([CLS] → pooler.dense + tanh → classifier), with LoRA (Hu et al. 2021) on the encoder's
//! attention projections and the pooler and classifier trained whole, in burn autodiff.
//! The result is a PEFT adapter ([`crate::lora`]) merged into the base checkpoint at load.
//!
//! Deterministic: seeded initialisation and shuffles, no dropout, a fixed batch order; the CPU
//! backend's results did not change with the thread count (1 and 2 threads gave the same bytes),
//! and a test reruns the command and compares the adapter byte for byte.

use burn::tensor::{Tensor, TensorData, activation::log_softmax};
use serde::{Deserialize, Serialize};

use crate::batch::{self, Batch};
use crate::classifier::{Classifier, Input};
use crate::config::ProblemType;
use crate::data::Example;
use crate::engine::{Engine, read};
use crate::error::{Error, Result};
use crate::lora::{self, LoraConfig, NamedTensor, PEFT_PREFIX};
use crate::model::{Bert, Linear};
use crate::rng::Rng;
use crate::tokenize::Encoded;

/// How to fine-tune; the defaults are what the committed adapter was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneOptions {
    pub epochs: usize,
    pub batch: usize,
    /// AdamW's peak learning rate, reached after `warmup` of the steps, then linear to 0.
    pub learning_rate: f64,
    pub warmup: f64,
    /// Decoupled weight decay on the pooler's and classifier's weights (not on LoRA or biases).
    pub weight_decay: f64,
    /// LoRA rank and alpha (scale = alpha / r).
    pub r: usize,
    pub lora_alpha: f64,
    /// Which projections of every layer get LoRA: `query`, `key`, `value`.
    pub target_modules: Vec<String>,
    pub seed: u64,
}

impl Default for FineTuneOptions {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch: 32,
            learning_rate: 1e-3,
            warmup: 0.06,
            weight_decay: 0.01,
            r: 8,
            lora_alpha: 16.0,
            target_modules: vec!["query".into(), "value".into()],
            seed: 0,
        }
    }
}

/// One epoch of the training curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub steps: usize,
    /// Mean cross-entropy over the epoch's batches.
    pub train_loss: f64,
    pub validation_accuracy: f64,
    pub seconds: f64,
}

/// What was trained, how, and how well: written beside the adapter as `training.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The classifier's label names, in row order (the engine reads these).
    pub labels: Vec<String>,
    #[serde(default)]
    pub base_model: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub options: Option<FineTuneOptions>,
    #[serde(default)]
    pub train_size: Option<usize>,
    #[serde(default)]
    pub validation_size: Option<usize>,
    /// The epoch kept: the best validation accuracy (model selection on validation only).
    #[serde(default)]
    pub best_epoch: Option<usize>,
    #[serde(default)]
    pub validation_accuracy: Option<f64>,
    #[serde(default)]
    pub dev_accuracy: Option<f64>,
    #[serde(default)]
    pub curve: Vec<EpochRecord>,
    #[serde(default)]
    pub trainable_parameters: Option<usize>,
    /// The SIMD level the CPU matmuls ran at ([`simd_level`]): the bytes reproduce exactly on a
    /// CPU with the same level (another level sums in another order).
    #[serde(default)]
    pub simd: Option<String>,
}

/// What decides the CPU matmuls' summation order here: gemm's kernel (AVX-512 when `avx512f` is
/// detected, else AVX2 with FMA) and, through its k-blocking, the cache geometry it reads from
/// /sys (L1d size, line and ways; L2 and L3 sizes). The same string means the same bits.
pub fn simd_level() -> String {
    #[cfg(target_arch = "x86_64")]
    let level = if std::arch::is_x86_feature_detected!("avx512f") {
        "x86_64 avx512f".to_string()
    } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        "x86_64 avx2+fma".to_string()
    } else {
        "x86_64".to_string()
    };
    #[cfg(not(target_arch = "x86_64"))]
    let level = std::env::consts::ARCH.to_string();
    let cache = |index: usize, what: &str| std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu0/cache/index{index}/{what}")).ok();
    // index0: L1d, index1: L1i, index2: L2, index3: L3 (Linux's numbering).
    match (cache(0, "size"), cache(0, "coherency_line_size"), cache(0, "ways_of_associativity")) {
        (Some(size), Some(line), Some(ways)) => {
            let more: Vec<String> = [2, 3].iter().filter_map(|&i| cache(i, "size").map(|s| format!("L{i} {}", s.trim()))).collect();
            format!("{level}; L1d {} ({} B lines, {}-way), {}", size.trim(), line.trim(), ways.trim(), more.join(", "))
        }
        _ => level,
    }
}

pub struct FineTuned {
    pub config: LoraConfig,
    pub tensors: Vec<NamedTensor>,
    pub record: TrainingRecord,
}

/// A trainable tensor in our layout ([in, out] for matrices; saved transposed), with AdamW's moments.
struct Param {
    /// Its PEFT name.
    name: String,
    dims: Vec<usize>,
    values: Vec<f32>,
    m: Vec<f64>,
    v: Vec<f64>,
    decay: bool,
}

impl Param {
    fn new(name: String, dims: Vec<usize>, values: Vec<f32>, decay: bool) -> Self {
        let n = values.len();
        Self { name, dims, values, m: vec![0.0; n], v: vec![0.0; n], decay }
    }

    fn tensor2(&self, device: &burn::tensor::Device) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(self.values.clone(), [self.dims[0], self.dims[1]]), device).autodiff().require_grad()
    }

    fn tensor1(&self, device: &burn::tensor::Device) -> Tensor<1> {
        Tensor::<1>::from_data(TensorData::new(self.values.clone(), [self.dims[0]]), device).autodiff().require_grad()
    }

    /// AdamW (Loshchilov & Hutter): decay applied to the weight, not through the moments.
    fn step(&mut self, g: &[f32], lr: f64, t: i32, weight_decay: f64) {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        let moments = self.m.iter_mut().zip(self.v.iter_mut());
        for ((p, &gi), (m, v)) in self.values.iter_mut().zip(g).zip(moments) {
            let gi = gi as f64;
            *m = b1 * *m + (1.0 - b1) * gi;
            *v = b2 * *v + (1.0 - b2) * gi * gi;
            let (mh, vh) = (*m / (1.0 - b1.powi(t)), *v / (1.0 - b2.powi(t)));
            let mut w = *p as f64;
            if self.decay {
                w -= lr * weight_decay * w;
            }
            *p = (w - lr * mh / (vh.sqrt() + eps)) as f32;
        }
    }
}

/// Normal(0, std) by Box-Muller on our seeded generator.
fn normal(rng: &mut Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let (u1, u2) = (rng.next_f64().max(1e-300), rng.next_f64());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect()
}

fn projection<'m>(layer: &'m mut crate::model::Layer, target: &str) -> Option<&'m mut Linear> {
    match target {
        "query" => Some(&mut layer.attention.query),
        "key" => Some(&mut layer.attention.key),
        "value" => Some(&mut layer.attention.value),
        _ => None,
    }
}

/// Fine-tunes `engine`'s encoder (its own classifier, if any, is ignored) on `train`, keeping the
/// epoch with the best accuracy on `validation`. `progress(step, steps)` after every step.
pub async fn fine_tune(
    engine: &Engine,
    labels: &[String],
    train: &[Example],
    validation: &[Example],
    o: &FineTuneOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<FineTuned> {
    if labels.len() < 2 || train.is_empty() || validation.is_empty() || o.batch == 0 || o.epochs == 0 || o.r == 0 {
        return Err(Error::input("fine-tune: needs 2+ labels, training and validation examples, and batch, epochs and r ≥ 1"));
    }
    for (i, t) in o.target_modules.iter().enumerate() {
        if !["query", "key", "value"].contains(&t.as_str()) {
            return Err(Error::input(format!("fine-tune: LoRA target \"{t}\" is not one of query, key, value")));
        }
        if o.target_modules[..i].contains(t) {
            return Err(Error::input(format!("fine-tune: LoRA target \"{t}\" is listed twice")));
        }
    }
    let device = engine.device.clone();
    let base = &engine.model;
    let c = base.config.clone();
    if c.model_type != crate::config::ModelType::Bert {
        return Err(Error::input(format!(
            "fine-tune: LoRA fine-tuning writes a BertForSequenceClassification adapter; this is a {} checkpoint",
            c.model_type
        )));
    }
    let (d, nl, k) = (c.hidden_size, c.num_hidden_layers, labels.len());
    let pooler = base.pooler.as_ref().ok_or_else(|| Error::weights("fine-tune: the checkpoint has no pooler.dense to start from"))?;
    let mut rng = Rng::new(o.seed);

    // LoRA A ~ U(±1/√in) (PEFT's kaiming-uniform with a = √5), B = 0: the start is the base model.
    let mut params: Vec<Param> = Vec::new();
    for l in 0..nl {
        for t in &o.target_modules {
            let module = format!("bert.encoder.layer.{l}.attention.self.{t}");
            let bound = 1.0 / (d as f64).sqrt();
            let a: Vec<f32> = (0..o.r * d).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32).collect(); // [r, in]
            params.push(Param::new(format!("{PEFT_PREFIX}{module}.lora_A.weight"), vec![d, o.r], lora::transpose(&a, o.r, d), false));
            params.push(Param::new(format!("{PEFT_PREFIX}{module}.lora_B.weight"), vec![o.r, d], vec![0.0; o.r * d], false));
        }
    }
    let n_lora = params.len();
    params.push(Param::new(format!("{PEFT_PREFIX}bert.pooler.dense.weight"), vec![d, d], read(pooler.weight.clone()).await?, true));
    params.push(Param::new(format!("{PEFT_PREFIX}bert.pooler.dense.bias"), vec![d], read(pooler.bias.clone()).await?, false));
    // As Hugging Face initialises a new classifier: N(0, initializer_range), bias 0.
    params.push(Param::new(format!("{PEFT_PREFIX}classifier.weight"), vec![d, k], normal(&mut rng, d * k, 0.02), true));
    params.push(Param::new(format!("{PEFT_PREFIX}classifier.bias"), vec![k], vec![0.0; k], false));
    let trainable: usize = params.iter().map(|p| p.values.len()).sum();
    let scale = o.lora_alpha / o.r as f64;

    let encode = |set: &[Example]| set.iter().map(|e| engine.encode(e)).collect::<Result<Vec<_>>>();
    let (train_ids, validation_ids) = (encode(train)?, encode(validation)?);
    let per_epoch = train.len().div_ceil(o.batch);
    let total = per_epoch * o.epochs;
    let warmup = ((total as f64) * o.warmup).round().max(1.0);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let (mut step, mut curve) = (0usize, Vec::new());
    let mut best: Option<(f64, usize, Vec<Vec<f32>>)> = None;
    for epoch in 1..=o.epochs {
        let started = crate::device::now_ms();
        rng.shuffle(&mut order);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(o.batch) {
            // The model of this step: W0 + s·(Aᵀ Bᵀ) on the targets ([in, r] · [r, out]), and
            // the trainable pooler and classifier; the rest is the frozen base.
            let leaves2: Vec<Option<Tensor<2>>> = params.iter().map(|p| (p.dims.len() == 2).then(|| p.tensor2(&device))).collect();
            let leaves1: Vec<Option<Tensor<1>>> = params.iter().map(|p| (p.dims.len() == 1).then(|| p.tensor1(&device))).collect();
            let mut model: Bert = base.clone();
            let mut i = 0;
            for layer in model.layers.iter_mut() {
                for t in &o.target_modules {
                    let lin = projection(layer, t).expect("targets were checked");
                    let (a, b) = (leaves2[i].clone().unwrap(), leaves2[i + 1].clone().unwrap());
                    *lin = Linear::new(lin.weight.clone() + a.matmul(b) * scale, lin.bias.clone()); // [in, out]
                    i += 2;
                }
            }
            model.pooler = Some(Linear::new(leaves2[n_lora].clone().unwrap(), leaves1[n_lora + 1].clone().unwrap()));
            let head = Classifier {
                linear: Linear::new(leaves2[n_lora + 2].clone().unwrap(), leaves1[n_lora + 3].clone().unwrap()),
                labels: labels.to_vec(),
                input: Input::Pooler,
                problem_type: ProblemType::SingleLabelClassification,
            };

            let seqs: Vec<&Encoded> = chunk.iter().map(|&j| &train_ids[j]).collect();
            let batch = Batch::from_encoded(&seqs, c.pad_token_id);
            let (ids, mask) = batch.tensors(&device);
            let out = model.forward(ids, mask.clone(), batch.token_type_ids(&device), None, false);
            let logits = head.logits(&model, out.last_hidden_state, mask, engine.pooling); // [B, C]
            let mut onehot = vec![0f32; chunk.len() * k];
            for (r, &j) in chunk.iter().enumerate() {
                onehot[r * k + train[j].class()] = 1.0;
            }
            let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [chunk.len(), k]), &device);
            let loss = -(log_softmax(logits, 1) * onehot).sum() / chunk.len() as f64; // mean cross-entropy
            loss_sum += read(loss.clone().detach()).await?[0] as f64;
            let grads = loss.backward();

            step += 1;
            let lr = if (step as f64) <= warmup {
                o.learning_rate * step as f64 / warmup
            } else {
                o.learning_rate * (total - step) as f64 / (total as f64 - warmup).max(1.0)
            };
            for (p, (l2, l1)) in params.iter_mut().zip(leaves2.iter().zip(&leaves1)) {
                let g = match (l2, l1) {
                    (Some(t), _) => read(t.grad(&grads).ok_or_else(|| Error::backend(format!("no gradient for {}", p.name)))?).await?,
                    (_, Some(t)) => read(t.grad(&grads).ok_or_else(|| Error::backend(format!("no gradient for {}", p.name)))?).await?,
                    _ => unreachable!("every parameter is a matrix or a vector"),
                };
                p.step(&g, lr, step as i32, o.weight_decay);
            }
            progress(step, total);
            engine.checkpoint().await?;
        }

        let merged = merged_model(base, &params, &o.target_modules, scale, &device);
        let acc = accuracy(engine, &merged, labels, &validation_ids, validation).await?;
        curve.push(EpochRecord {
            epoch,
            steps: step,
            train_loss: loss_sum / per_epoch as f64,
            validation_accuracy: acc,
            seconds: (crate::device::now_ms() - started) / 1000.0,
        });
        if best.as_ref().is_none_or(|b| acc > b.0) {
            best = Some((acc, epoch, params.iter().map(|p| p.values.clone()).collect()));
        }
    }
    let (validation_accuracy, best_epoch, values) = best.expect("at least one epoch");

    // PEFT layout: lora_A [r, in], lora_B [out, r], Linear weights [out, in].
    let tensors = params
        .iter()
        .zip(values)
        .map(|(p, v)| {
            let (shape, values) =
                if p.dims.len() == 2 { (vec![p.dims[1], p.dims[0]], lora::transpose(&v, p.dims[0], p.dims[1])) } else { (p.dims.clone(), v) };
            NamedTensor { name: p.name.clone(), shape, values }
        })
        .collect();
    let config = LoraConfig {
        peft_type: "LORA".into(),
        task_type: Some("SEQ_CLS".into()),
        base_model_name_or_path: None,
        r: o.r,
        lora_alpha: o.lora_alpha,
        lora_dropout: 0.0,
        target_modules: o.target_modules.clone(),
        modules_to_save: Some(vec!["classifier".into(), "pooler".into()]),
        fan_in_fan_out: false,
        bias: "none".into(),
        use_rslora: false,
        inference_mode: true,
        rank_pattern: Default::default(),
        alpha_pattern: Default::default(),
    };
    let record = TrainingRecord {
        labels: labels.to_vec(),
        base_model: None,
        command: None,
        options: Some(o.clone()),
        train_size: Some(train.len()),
        validation_size: Some(validation.len()),
        best_epoch: Some(best_epoch),
        validation_accuracy: Some(validation_accuracy),
        dev_accuracy: None,
        curve,
        trainable_parameters: Some(trainable),
        simd: Some(simd_level()),
    };
    Ok(FineTuned { config, tensors, record })
}

/// The base with the current parameters merged (no autodiff), for the validation pass.
fn merged_model(base: &Bert, params: &[Param], targets: &[String], scale: f64, device: &burn::tensor::Device) -> Bert {
    let t2 = |p: &Param| Tensor::<2>::from_data(TensorData::new(p.values.clone(), [p.dims[0], p.dims[1]]), device);
    let t1 = |p: &Param| Tensor::<1>::from_data(TensorData::new(p.values.clone(), [p.dims[0]]), device);
    let mut model = base.clone();
    let mut i = 0;
    for layer in model.layers.iter_mut() {
        for t in targets {
            let lin = projection(layer, t).expect("targets were checked");
            *lin = Linear::new(lin.weight.clone() + t2(&params[i]).matmul(t2(&params[i + 1])) * scale, lin.bias.clone());
            i += 2;
        }
    }
    model.pooler = Some(Linear::new(t2(&params[i]), t1(&params[i + 1])));
    model.classifier = Some(Linear::new(t2(&params[i + 2]), t1(&params[i + 3])));
    model
}

/// Accuracy of `model`'s own classifier on `examples` (token ids given).
async fn accuracy(engine: &Engine, model: &Bert, labels: &[String], ids: &[Encoded], examples: &[Example]) -> Result<f64> {
    let head = Classifier::from_checkpoint(model, Some(labels.to_vec()), Some(ProblemType::SingleLabelClassification))?
        .expect("merged_model sets the pooler and the classifier");
    let lens: Vec<usize> = ids.iter().map(|x| x.ids.len()).collect();
    let mut correct = 0;
    for group in batch::plan(&lens, 4096, 64) {
        let seqs: Vec<&Encoded> = group.iter().map(|&i| &ids[i]).collect();
        let batch = Batch::from_encoded(&seqs, model.config.pad_token_id);
        let (t_ids, mask) = batch.tensors(&engine.device);
        let out = model.forward(t_ids, mask.clone(), batch.token_type_ids(&engine.device), None, false);
        let logits = read(head.logits(model, out.last_hidden_state, mask, engine.pooling)).await?;
        let k = labels.len();
        for (r, &i) in group.iter().enumerate() {
            let row = &logits[r * k..(r + 1) * k];
            let pred = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            correct += usize::from(pred == examples[i].class());
        }
    }
    Ok(correct as f64 / examples.len() as f64)
}
