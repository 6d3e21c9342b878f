import Foundation
import KilnBackend
import KilnCore

/// Deterministic random bf16 weights of a config's exact shapes, made on first request and kept
/// (2 bytes a parameter, like a bf16 checkpoint). Norm weights are near 1 (0 for Gemma's
/// 1 + w convention) so activations stay in range through many layers.
public final class RandomWeights: WeightProvider, @unchecked Sendable {
    public let config: ModelConfig
    public var usesGGUFConventions: Bool { false }
    private let seed: UInt64
    private let lock = NSLock()
    private var buffers: [LogicalWeight: UnsafeMutableRawBufferPointer] = [:]

    /// Random weights for `config`, reproducible from `seed`.
    public init(config: ModelConfig, seed: UInt64 = 0) {
        self.config = config
        self.seed = seed
    }

    deinit { for buffer in buffers.values { buffer.deallocate() } }

    /// Row-major shape of `weight` in this config, nil when the family has no such weight.
    func shape(of weight: LogicalWeight) -> [Int]? {
        let hidden = config.hiddenSize, qWidth = config.attentionHeads * config.headDim
        let kvWidth = config.kvHeads * config.headDim, mlp = config.intermediateSize
        let postNorms = config.modelType == "gemma2" || config.modelType == "gemma3"
        switch weight {
        case .embedding: return [config.vocabularySize, hidden]
        case .output: return config.tieWordEmbeddings ? nil : [config.vocabularySize, hidden]
        case .finalNorm, .attentionNorm, .feedForwardNorm: return [hidden]
        case .postAttentionNorm, .postFeedForwardNorm: return postNorms ? [hidden] : nil
        case .query: return [qWidth, hidden]
        case .key, .value: return [kvWidth, hidden]
        case .attentionOutput: return [hidden, qWidth]
        case .queryBias: return config.attentionBias ? [qWidth] : nil
        case .keyBias, .valueBias: return config.attentionBias ? [kvWidth] : nil
        case .queryNorm, .keyNorm: return config.modelType == "gemma3" ? [config.headDim] : nil
        case .gate, .up: return [mlp, hidden]
        case .down: return [hidden, mlp]
        case .ropeFrequencies: return nil
        }
    }

    public func source(_ weight: LogicalWeight) throws -> WeightSource? {
        guard let shape = shape(of: weight) else { return nil }
        let count = shape.reduce(1, *)
        let buffer = lock.withLock { () -> UnsafeMutableRawBufferPointer in
            if let existing = buffers[weight] { return existing }
            let made = makeBuffer(weight, count: count, fanIn: shape.last ?? 1)
            buffers[weight] = made
            return made
        }
        return try WeightSource(name: "random.\(weight)", shape: shape, storage: .dense(.bf16),
                                bytes: UnsafeRawBufferPointer(buffer), owner: self)
    }

    private func makeBuffer(_ weight: LogicalWeight, count: Int, fanIn: Int) -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 2, alignment: 64)
        let key = seed ^ UInt64(truncatingIfNeeded: "\(weight)".hashValueStable)
        let isGemma = config.modelType.hasPrefix("gemma")
        // Uniform in [-a, a] with a = sqrt(3 / fanIn): unit variance outputs for unit inputs.
        let amplitude: Float = weight.isNorm ? 0.1 : (3 / Float(fanIn)).squareRoot()
        let center: Float = weight.isNorm && !isGemma ? 1 : 0
        // Element i is a hash of (key, i), so bands fill in parallel (a 2.5B-parameter model in
        // well under a second on 16 cores) and the values do not depend on the band split.
        let address = UInt(bitPattern: buffer.baseAddress!)
        let band = 1 << 20
        DispatchQueue.concurrentPerform(iterations: (count + band - 1) / band) { b in
            let words = UnsafeMutablePointer<UInt16>(bitPattern: address)!
            for index in (b * band)..<min(count, (b + 1) * band) {
                var z = key &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                let unit = Float(z >> 40) / Float(1 << 24) * 2 - 1 // [-1, 1)
                words[index] = HalfPrecision.floatToBF16(center + amplitude * unit)
            }
        }
        return buffer
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
