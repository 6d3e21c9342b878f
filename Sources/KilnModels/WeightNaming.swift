/// Checkpoint tensor names for each logical weight: the one place Hugging Face and GGUF names
/// appear. The families Kiln supports share these names; only their meaning differs (Llama's
/// `post_attention_layernorm` is the pre-MLP norm, Gemma 2/3's is applied to the attention output).
public enum WeightNaming: Sendable {
    case huggingFace(modelType: String)
    case gguf

    /// The tensor name of `weight`, nil when the format has no such tensor.
    public func name(of weight: LogicalWeight) -> String? {
        switch self {
        case let .huggingFace(modelType):
            let postNorms = modelType == "gemma2" || modelType == "gemma3"
            func layer(_ index: Int, _ suffix: String) -> String { "model.layers.\(index).\(suffix)" }
            switch weight {
            case .embedding: return "model.embed_tokens.weight"
            case .finalNorm: return "model.norm.weight"
            case .output: return "lm_head.weight"
            case let .attentionNorm(i): return layer(i, "input_layernorm.weight")
            case let .postAttentionNorm(i): return postNorms ? layer(i, "post_attention_layernorm.weight") : nil
            case let .feedForwardNorm(i):
                return layer(i, postNorms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight")
            case let .postFeedForwardNorm(i): return postNorms ? layer(i, "post_feedforward_layernorm.weight") : nil
            case let .query(i): return layer(i, "self_attn.q_proj.weight")
            case let .key(i): return layer(i, "self_attn.k_proj.weight")
            case let .value(i): return layer(i, "self_attn.v_proj.weight")
            case let .attentionOutput(i): return layer(i, "self_attn.o_proj.weight")
            case let .queryBias(i): return layer(i, "self_attn.q_proj.bias")
            case let .keyBias(i): return layer(i, "self_attn.k_proj.bias")
            case let .valueBias(i): return layer(i, "self_attn.v_proj.bias")
            case let .queryNorm(i): return layer(i, "self_attn.q_norm.weight")
            case let .keyNorm(i): return layer(i, "self_attn.k_norm.weight")
            case let .gate(i): return layer(i, "mlp.gate_proj.weight")
            case let .up(i): return layer(i, "mlp.up_proj.weight")
            case let .down(i): return layer(i, "mlp.down_proj.weight")
            case .ropeFrequencies: return nil
            }
        case .gguf:
            func block(_ index: Int, _ suffix: String) -> String { "blk.\(index).\(suffix)" }
            switch weight {
            case .embedding: return "token_embd.weight"
            case .finalNorm: return "output_norm.weight"
            case .output: return "output.weight"
            case let .attentionNorm(i): return block(i, "attn_norm.weight")
            case let .postAttentionNorm(i): return block(i, "post_attention_norm.weight")
            case let .feedForwardNorm(i): return block(i, "ffn_norm.weight")
            case let .postFeedForwardNorm(i): return block(i, "post_ffw_norm.weight")
            case let .query(i): return block(i, "attn_q.weight")
            case let .key(i): return block(i, "attn_k.weight")
            case let .value(i): return block(i, "attn_v.weight")
            case let .attentionOutput(i): return block(i, "attn_output.weight")
            case let .queryBias(i): return block(i, "attn_q.bias")
            case let .keyBias(i): return block(i, "attn_k.bias")
            case let .valueBias(i): return block(i, "attn_v.bias")
            case let .queryNorm(i): return block(i, "attn_q_norm.weight")
            case let .keyNorm(i): return block(i, "attn_k_norm.weight")
            case let .gate(i): return block(i, "ffn_gate.weight")
            case let .up(i): return block(i, "ffn_up.weight")
            case let .down(i): return block(i, "ffn_down.weight")
            case .ropeFrequencies: return "rope_freqs.weight"
            }
        }
    }
}
