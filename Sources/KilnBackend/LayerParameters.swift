/// How RoPE pairs the dimensions of a head.
public enum RopeStyle: Sendable, Equatable {
    /// Dimension i pairs with i + headDim/2 (Hugging Face `rotate_half`, llama.cpp NEOX).
    case halves
    /// Dimension 2i pairs with 2i+1 (GPT-J; llama.cpp's "normal" rope, which GGUF Llama weights
    /// are permuted for).
    case interleaved
}

/// Rotary position embedding of one layer kind: angle of pair i at position p = p * inverseFrequencies[i].
public struct RopeParameters: Sendable, Equatable {
    /// `[rotaryDim / 2]` inverse frequencies, scaling already applied.
    public var inverseFrequencies: [Float]
    /// Pairing of dimensions.
    public var style: RopeStyle

    /// Creates RoPE parameters.
    public init(inverseFrequencies: [Float], style: RopeStyle) {
        self.inverseFrequencies = inverseFrequencies
        self.style = style
    }
}

/// One attention layer's settings.
public struct AttentionParameters: Sendable, Equatable {
    /// Query heads.
    public var heads: Int
    /// Key/value heads (query head h reads kv head h / (heads / kvHeads)).
    public var kvHeads: Int
    /// Size of one head.
    public var headDim: Int
    /// Multiplier of q·k (1/sqrt(headDim) or Gemma's query_pre_attn_scalar^-1/2).
    public var scale: Float
    /// A query at position p sees keys at positions > p - window; nil: all previous positions.
    public var slidingWindow: Int?
    /// Scores become cap * tanh(score / cap) (Gemma 2), nil: none.
    public var softcap: Float?

    /// Creates attention parameters.
    public init(heads: Int, kvHeads: Int, headDim: Int, scale: Float, slidingWindow: Int?, softcap: Float?) {
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.scale = scale
        self.slidingWindow = slidingWindow
        self.softcap = softcap
    }
}

/// The activation of a gated MLP: out = act(gate) * up.
public enum GateActivation: String, Sendable, Equatable {
    /// SwiGLU: x * sigmoid(x).
    case silu
    /// GeGLU with the tanh approximation of GELU.
    case geluTanh
}

/// Shape of the paged KV cache.
public struct KVCacheShape: Sendable, Hashable {
    public var layers: Int
    public var blocks: Int
    /// Tokens per block.
    public var blockSize: Int
    public var kvHeads: Int
    public var headDim: Int

    /// Creates a cache shape.
    public init(layers: Int, blocks: Int, blockSize: Int, kvHeads: Int, headDim: Int) {
        self.layers = layers
        self.blocks = blocks
        self.blockSize = blockSize
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    /// Bytes for K and V of every layer at `bytesPerElement`.
    public func bytes(bytesPerElement: Int) -> Int { layers * 2 * blocks * blockSize * kvHeads * headDim * bytesPerElement }
}
