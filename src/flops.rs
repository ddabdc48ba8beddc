//! Multiply-add work of the encoder, counted from the shapes: what a structurally pruned model
//! should save, to compare with what it measurably saves. Embedding lookups, layer norms,
//! softmax and GELU are left out (a few per cent at these sizes).

use crate::config::BertConfig;

/// FLOPs (2 per multiply-add) of one encoder pass over a padded [b, t] batch when layer l keeps
/// `kept[l]` heads.
pub fn encoder_flops(c: &BertConfig, kept: &[usize], b: usize, t: usize) -> f64 {
    let (d, dh, f) = (c.hidden_size as f64, c.head_dim() as f64, c.intermediate_size as f64);
    let rows = (b * t) as f64;
    kept.iter()
        .map(|&k| {
            let inner = k as f64 * dh;
            let qkv = 3.0 * 2.0 * rows * d * inner;
            let scores_and_mix = 2.0 * 2.0 * b as f64 * (t * t) as f64 * inner; // QKᵀ and P·V
            let out = 2.0 * rows * inner * d;
            let ffn = 2.0 * 2.0 * rows * d * f;
            qkv + scores_and_mix + out + ffn
        })
        .sum()
}

/// Heads kept per layer after removing `off`.
pub fn kept_per_layer(c: &BertConfig, off: &[(usize, usize)]) -> Vec<usize> {
    (0..c.num_hidden_layers).map(|l| c.num_attention_heads - off.iter().filter(|h| h.0 == l).count()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minilm() -> BertConfig {
        BertConfig::from_json(
            br#"{"model_type":"bert","vocab_size":30522,"hidden_size":384,"num_hidden_layers":6,
            "num_attention_heads":12,"intermediate_size":1536,"hidden_act":"gelu","max_position_embeddings":512,
            "type_vocab_size":2,"layer_norm_eps":1e-12,"pad_token_id":0}"#,
        )
        .unwrap()
    }

    #[test]
    fn about_21_mflop_per_token_for_minilm_and_pruning_saves_only_attention() {
        let c = minilm();
        // Per token at short lengths: 6 × (4·2·384² + 2·2·384·1536) ≈ 21.2 MFLOP.
        let per_token = encoder_flops(&c, &[12; 6], 1, 1);
        assert!((per_token - 21.24e6).abs() < 0.01e6, "{per_token}");
        let none = kept_per_layer(&c, &[]);
        let all = kept_per_layer(&c, &(0..6).flat_map(|l| (0..12).map(move |h| (l, h))).collect::<Vec<_>>());
        assert_eq!(none, vec![12; 6]);
        // Without heads only the FFN is left: two thirds of the work at T = 1 (4·D·F of 4·D² + 4·D·F + 4·D).
        let ratio = encoder_flops(&c, &all, 1, 1) / encoder_flops(&c, &none, 1, 1);
        assert!((ratio - 2_359_296.0 / 3_540_480.0).abs() < 1e-9, "{ratio}");
    }
}
