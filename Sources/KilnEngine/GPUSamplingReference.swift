import Foundation
import KilnCore

/// The CPU twin of the GPU sampling kernel (KilnCUDA's `sampling.cu`): for the same logits,
/// parameters and uniform it returns the same token id, bit for bit. Written the plain way (a
/// full sort of the ids) so that it reads like the contract; the kernel finds the same cuts by
/// radix selection without sorting.
///
/// The contract, and how it relates to `Sampler`:
/// - Rank order: logit descending, ties to the lower id, NaN as -inf. That is the order in
///   which the CPU Sampler's top-k and top-p keep prefixes.
/// - Weights w = e^z, z = (logit - max) * (1 / temperature) in Float, with `Sampler.fastExp`:
///   the very weights the CPU Sampler uses, so min-p's `w >= minP` agrees to the last bit.
/// - Masses W = floor(w x 2^40) as UInt64: exact, order-independent sums (a GPU block adds in no
///   fixed order). The CPU Sampler sums Float weights in Double instead; the kept sets agree
///   except where top-p's target falls within rounding (~1e-12 of the mass) of a token's
///   cumulative mass. Tokens with w < 2^-40 have W = 0 and are never drawn here (the CPU could
///   draw one with probability below 2^-40 x vocabulary / (mass of the kept set)).
/// - top-k (0 < k < vocabulary): the first k in rank order. top-p (< 1): among those, in rank
///   order, a token stays while the mass before it is < min(ceil(p x totalK), totalK) (at least
///   1). min-p (> 0): a kept token also needs w >= minP. The same as the CPU Sampler, which
///   applies top-k, top-p over the top-k mass, then min-p against the top token (vLLM's order).
/// - Draw: target = floor(u x total) (Double product, at most total - 1); the lowest kept id
///   whose inclusive prefix mass in id order exceeds target. The CPU Sampler walks its kept
///   tokens in another order, so the same u may choose another token from the same
///   distribution.
/// - Greedy (Sampler.argmax's id): temperature <= 0 or with an infinite reciprocal, or no
///   finite maximum (all NaN/-inf, or a +inf logit): as the CPU Sampler, no draw is needed.
public enum GPUSamplingReference {
    /// Fixed-point scale of masses, 2^40: a vocabulary of up to 2^23 sums below 2^63.
    public static let massScale: Float = 0x1p40
    /// Largest vocabulary the fixed-point sums allow.
    public static let maximumVocabulary = 1 << 23

    /// The per-row parameters the kernel reads (penalties and seeds stay on the host).
    public struct Parameters: Sendable, Equatable {
        /// > 0; 0 (or less) is greedy.
        public var temperature: Float
        /// 0 or >= vocabulary: off.
        public var topK: Int
        /// >= 1: off.
        public var topP: Float
        /// <= 0: off.
        public var minP: Float

        /// Creates the parameters of one row.
        public init(temperature: Float, topK: Int = 0, topP: Float = 1, minP: Float = 0) {
            self.temperature = temperature
            self.topK = topK
            self.topP = topP
            self.minP = minP
        }

        /// The sampling part of a request's parameters.
        public init(_ parameters: SamplingParameters) {
            self.init(temperature: parameters.temperature, topK: parameters.topK, topP: parameters.topP, minP: parameters.minP)
        }
    }

    /// What one row comes to: the tokens that may be drawn, or the greedy id.
    public struct Truncation: Sendable, Equatable {
        /// Kept ids in increasing order with their masses W (some may be 0); empty when greedy.
        public var kept: [(id: Int, mass: UInt64)]
        /// The argmax, the answer when `kept` is empty.
        public var greedyID: Int

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.greedyID == rhs.greedyID && lhs.kept.elementsEqual(rhs.kept) { $0.id == $1.id && $0.mass == $1.mass }
        }
    }

    /// The token the kernel chooses for one row of `logits` and the uniform `unit` in [0, 1).
    public static func sample(_ logits: UnsafeBufferPointer<Float>, _ parameters: Parameters, unit: Double) -> Int {
        draw(truncation(logits, parameters), unit: unit)
    }

    /// The id the kernel's inverse-CDF draw in id order chooses from `truncation`.
    public static func draw(_ truncation: Truncation, unit: Double) -> Int {
        let total = truncation.kept.reduce(UInt64(0)) { $0 + $1.mass }
        guard total > 0 else { return truncation.greedyID }
        let product = unit * Double(total)
        let target = product >= Double(total) ? total - 1 : (product > 0 ? UInt64(product) : 0)
        var cumulative: UInt64 = 0
        for (id, mass) in truncation.kept {
            cumulative += mass
            if cumulative > target { return id }
        }
        return truncation.greedyID  // unreachable: target < total
    }

    /// The kept tokens and their masses, per the contract above; `logits` is one row.
    public static func truncation(_ logits: UnsafeBufferPointer<Float>, _ parameters: Parameters) -> Truncation {
        precondition(!logits.isEmpty && logits.count <= maximumVocabulary, "GPU sampling: vocabulary of \(logits.count)")
        let (greedyID, maxLogit) = Sampler.argmax(logits)
        let inverseTemperature = 1 / parameters.temperature
        guard parameters.temperature > 0, inverseTemperature.isFinite, maxLogit.isFinite else {
            return Truncation(kept: [], greedyID: greedyID)
        }
        func weight(_ id: Int) -> Float { Sampler.fastExp((logits[id] - maxLogit) * inverseTemperature) }
        func key(_ id: Int) -> Float { logits[id].isNaN ? -.infinity : logits[id] }
        var order = Array(logits.indices).sorted { key($0) > key($1) || (key($0) == key($1) && $0 < $1) }
        if parameters.topK > 0 && parameters.topK < logits.count { order.removeLast(logits.count - parameters.topK) }
        if parameters.topP < 1 {
            let totalK = order.reduce(UInt64(0)) { $0 + mass(weight($1)) }
            let target = max(1, min(totalK, UInt64((Double(parameters.topP) * Double(totalK)).rounded(.up))))
            var before: UInt64 = 0
            var count = 0
            while count < order.count && before < target {
                before += mass(weight(order[count]))
                count += 1
            }
            order.removeLast(order.count - count)
        }
        if parameters.minP > 0 { order.removeAll { weight($0) < parameters.minP } }
        return Truncation(kept: order.sorted().map { ($0, mass(weight($0))) }, greedyID: greedyID)
    }

    /// W = floor(w x 2^40), as the kernel converts (the product is exact: a power of two).
    static func mass(_ weight: Float) -> UInt64 { UInt64(weight * massScale) }
}
