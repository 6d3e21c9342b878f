/// The architecture-neutral description of a decoder-only transformer, filled from a Hugging
/// Face `config.json` (+ `generation_config.json`) or from GGUF metadata. Model code reads only
/// this; Hugging Face and GGUF key names stay in the readers.
public struct ModelConfig: Sendable, Equatable, Codable {
    /// Model family, normalised: "llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3", ...
    public var modelType: String
    /// Rows of the embedding table.
    public var vocabularySize: Int
    /// Width of the residual stream.
    public var hiddenSize: Int
    /// Width of the MLP's hidden layer.
    public var intermediateSize: Int
    /// Number of transformer blocks.
    public var layerCount: Int
    /// Query heads per layer.
    public var attentionHeads: Int
    /// Key/value heads per layer (== attentionHeads for MHA, 1 for MQA).
    public var kvHeads: Int
    /// Size of one attention head.
    public var headDim: Int
    /// Longest sequence the model was trained for (max_position_embeddings).
    public var contextLength: Int
    /// Epsilon of the RMSNorms.
    public var rmsNormEpsilon: Float
    /// RoPE base frequency (global layers).
    public var ropeTheta: Float
    /// RoPE base for local (sliding-window) layers when it differs (Gemma 3: 10,000).
    public var ropeLocalTheta: Float?
    /// RoPE frequency scaling (Llama 3.x "llama3", linear), nil when none.
    public var ropeScaling: RopeScaling?
    /// The output head shares the embedding table.
    public var tieWordEmbeddings: Bool
    /// MLP activation: "silu" (SwiGLU) or "gelu_pytorch_tanh" (GeGLU, tanh approximation).
    public var hiddenActivation: String
    /// Q/K/V projections have biases (Qwen2).
    public var attentionBias: Bool
    /// Sliding-window size of local layers, nil when every layer attends globally.
    public var slidingWindow: Int?
    /// Per layer: true when the layer uses the sliding window. Empty means none do.
    public var slidingLayers: [Bool]
    /// Gemma 2: `tanh` soft cap of attention scores.
    public var attentionLogitSoftcap: Float?
    /// Gemma 2/3: `tanh` soft cap of the final logits.
    public var finalLogitSoftcap: Float?
    /// Scores are multiplied by `1/sqrt(queryPreAttentionScalar)` (Gemma 2/3), else `1/sqrt(headDim)`.
    public var queryPreAttentionScalar: Float?
    /// BOS id from the config (tokenizers carry their own too).
    public var bosTokenID: Int?
    /// EOS ids from config.json / generation_config.json.
    public var eosTokenIDs: [Int]
    /// Weights' dtype in the checkpoint ("bfloat16"), informational.
    public var torchDtype: String?
    /// Sampling defaults from generation_config.json.
    public var generationDefaults: GenerationDefaults

    /// Creates a config; every optional feature defaults to off.
    public init(modelType: String, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, attentionHeads: Int, kvHeads: Int, headDim: Int, contextLength: Int,
                rmsNormEpsilon: Float, ropeTheta: Float, ropeLocalTheta: Float? = nil,
                ropeScaling: RopeScaling? = nil, tieWordEmbeddings: Bool, hiddenActivation: String,
                attentionBias: Bool = false, slidingWindow: Int? = nil, slidingLayers: [Bool] = [],
                attentionLogitSoftcap: Float? = nil, finalLogitSoftcap: Float? = nil,
                queryPreAttentionScalar: Float? = nil, bosTokenID: Int? = nil, eosTokenIDs: [Int] = [],
                torchDtype: String? = nil, generationDefaults: GenerationDefaults = GenerationDefaults()) {
        self.modelType = modelType
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.attentionHeads = attentionHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.contextLength = contextLength
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.ropeLocalTheta = ropeLocalTheta
        self.ropeScaling = ropeScaling
        self.tieWordEmbeddings = tieWordEmbeddings
        self.hiddenActivation = hiddenActivation
        self.attentionBias = attentionBias
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers
        self.attentionLogitSoftcap = attentionLogitSoftcap
        self.finalLogitSoftcap = finalLogitSoftcap
        self.queryPreAttentionScalar = queryPreAttentionScalar
        self.bosTokenID = bosTokenID
        self.eosTokenIDs = eosTokenIDs
        self.torchDtype = torchDtype
        self.generationDefaults = generationDefaults
    }

    /// Checks the shape is self-consistent; the message names the field.
    public func validate(source: String) throws {
        func fail(_ reason: String) -> KilnError { .invalidFile(path: source, reason: reason) }
        for (name, value) in [("vocabulary size", vocabularySize), ("hidden size", hiddenSize),
                              ("intermediate size", intermediateSize), ("layer count", layerCount),
                              ("attention heads", attentionHeads), ("kv heads", kvHeads),
                              ("head size", headDim), ("context length", contextLength)] where value <= 0 {
            throw fail("\(name) must be positive, got \(value)")
        }
        guard attentionHeads % kvHeads == 0 else {
            throw fail("\(attentionHeads) attention heads are not a multiple of \(kvHeads) kv heads")
        }
        guard slidingLayers.isEmpty || slidingLayers.count == layerCount else {
            throw fail("\(slidingLayers.count) sliding-window layer flags for \(layerCount) layers")
        }
    }
}

/// RoPE frequency scaling.
public struct RopeScaling: Sendable, Equatable, Codable {
    /// "llama3", "linear", "yarn", ...
    public var type: String
    /// Overall scale factor.
    public var factor: Float
    /// Llama 3: wavelengths above `originalContextLength / lowFrequencyFactor` are divided by `factor`.
    public var lowFrequencyFactor: Float?
    /// Llama 3: wavelengths below `originalContextLength / highFrequencyFactor` are kept.
    public var highFrequencyFactor: Float?
    /// The context length the base model was trained with.
    public var originalContextLength: Int?

    /// Creates a scaling rule.
    public init(type: String, factor: Float, lowFrequencyFactor: Float? = nil,
                highFrequencyFactor: Float? = nil, originalContextLength: Int? = nil) {
        self.type = type
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalContextLength = originalContextLength
    }
}

/// Sampling defaults a checkpoint ships (generation_config.json); nil means "not given".
public struct GenerationDefaults: Sendable, Equatable, Codable {
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    public var repetitionPenalty: Float?

    /// Creates defaults.
    public init(temperature: Float? = nil, topK: Int? = nil, topP: Float? = nil, repetitionPenalty: Float? = nil) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
    }
}
