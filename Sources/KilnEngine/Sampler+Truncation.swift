import Foundation
import KilnCore

extension Sampler {
    /// The random draw at temperature > 0, with top-k, top-p and min-p, without sorting the
    /// vocabulary.
    ///
    /// Every filter keeps a prefix of the tokens sorted by logit, so only where each one cuts
    /// matters. Tokens are weighed, w = e^z with z = (logit - max) / temperature, and placed in
    /// buckets 1/16 nat of z wide (z in (-32, 0], plus an overflow bucket below); a histogram of
    /// counts (top-k) or masses (top-p) says which bucket each cut falls in. Buckets above the
    /// cut are kept whole without being listed; only the boundary buckets' tokens are gathered
    /// (tens to thousands of a 262,144-token vocabulary) and, where a cut falls inside them,
    /// searched the same way on a finer scale (`Selection`). Passes over the vocabulary are
    /// vectorised and skip 8-token chunks with nothing to do.
    ///
    /// Why 32 nats: the overflow bucket holds at most vocabulary x e^-32 of the mass relative to
    /// the top token (< 6e-8, the smallest 1 - topP a Float below 1 allows, up to 4.7M tokens), so
    /// top-p never cuts inside it. A top-k in the tens of thousands can, and then that whole
    /// bucket is gathered: correct, just slower.
    struct Truncation: Sendable {
        /// Buckets per nat of z.
        static let bucketsPerNat: Float = 16
        /// Index of the overflow bucket (z <= -32); buckets 0..<lastBucket are 1/16 nat wide.
        static let lastBucket = 512
        /// Slack, in buckets, around min-p's threshold, far above the rounding of z.
        static let minPSlack: Float = 0.01

        /// e^z of every token, [vocabulary]; filled unless top-k is on.
        private var weights: [Float] = []
        /// Tokens per bucket (top-k), [lastBucket + 1].
        private var counts: [Int] = []
        /// Sum of e^z per bucket (top-p; see `weighEverything`), [lastBucket + 1].
        private var masses: [Double] = []
        /// Ids in buckets above the boundary (top-k only), in id order.
        private var above: [Int] = []
        /// Ids in the boundary buckets, in id order.
        private var boundary: [Int] = []
        /// Room for `gather` to write ids into, [2 x (vocabulary + 8)].
        private var scratch: [Int32] = []
        /// Ids that survived the filters and were listed, with their e^z, same order.
        private var kept: [Int] = []
        private var keptWeights: [Float] = []
        /// Every token in a bucket below this one also survived the last draw, unlisted.
        private var keptBelowBucket = 0
        /// The last draw's mapping from logits to weights and buckets.
        private var scale = Scale(maxLogit: 0, inverseTemperature: 1)

        /// Creates empty buffers; they grow on first use and are reused.
        init() {}

        /// The chosen token, and sum over the vocabulary of e^z when this step computed it.
        struct Choice {
            /// Chosen token id.
            var id: Int
            /// sum of e^((logit - max) / temperature) over the whole vocabulary, if computed.
            var fullSumOfWeights: Double?
        }

        /// Ids that survived every filter at the last draw, given its logits (tests compare
        /// them with a full sort; after a draw with no filter, only the unlisted ones).
        func keptIDs(logits: UnsafeBufferPointer<Float>) -> Set<Int> {
            var ids = Set(kept)
            for id in logits.indices where scale.bucket(of: logits[id]) < keptBelowBucket { ids.insert(id) }
            return ids
        }

        /// Chooses a token: `unit` is the step's uniform draw in [0, 1); `maxLogit` (finite) and
        /// `maxIndex` are the argmax of `logits`, [vocabulary]. Temperature must be > 0.
        mutating func choose(logits: UnsafeBufferPointer<Float>, maxIndex: Int, maxLogit: Float,
                             parameters: SamplingParameters, unit: Double) -> Choice {
            let vocabulary = logits.count
            let topK = parameters.topK > 0 && parameters.topK < vocabulary ? parameters.topK : 0
            scale = Scale(maxLogit: maxLogit, inverseTemperature: 1 / parameters.temperature)
            kept.removeAll(keepingCapacity: true)
            keptWeights.removeAll(keepingCapacity: true)
            keptBelowBucket = 0
            if topK > 0 {
                chooseKept(logits, topK: topK, parameters: parameters)
                return Choice(id: drawFromKept(unit: unit, massAbove: 0, fallback: maxIndex), fullSumOfWeights: nil)
            }
            let sum = weighEverything(logits, histogramForTopP: parameters.topP < 1 ? parameters.topP : nil)
            if parameters.topP >= 1 && parameters.minP <= 0 {
                keptBelowBucket = Self.lastBucket + 1
                return Choice(id: drawFromAbove(logits, target: unit * sum) ?? maxIndex, fullSumOfWeights: sum)
            }
            let massAbove = chooseKept(logits, sum: sum, parameters: parameters)
            let total = massAbove + keptWeights.reduce(0.0) { $0 + Double($1) }
            if unit * total < massAbove, let id = drawFromAbove(logits, target: unit * total) {
                return Choice(id: id, fullSumOfWeights: sum)
            }
            return Choice(id: drawFromKept(unit: unit, massAbove: massAbove, fallback: maxIndex), fullSumOfWeights: sum)
        }

        /// Top-k, then top-p over the top-k mass, then min-p: lists the survivors in `kept`.
        private mutating func chooseKept(_ logits: UnsafeBufferPointer<Float>, topK: Int, parameters: SamplingParameters) {
            countBuckets(logits)
            var bound = Self.lastBucket
            var cumulative = 0
            for bucket in 0...Self.lastBucket {
                cumulative += counts[bucket]
                if cumulative >= topK { bound = bucket; break }
            }
            _ = gather(logits, lowest: bound, highest: bound, listingAbove: true)
            var candidates = above  // becomes the top-k set
            if cumulative > topK {
                candidates += Selection.highest(topK - above.count, of: boundary, logits: logits)
            } else {
                candidates += boundary
            }
            let scale = scale
            if parameters.topP < 1 {
                let total = candidates.reduce(0.0) { $0 + Double(scale.weight(logits[$1])) }
                candidates = Selection.nucleus(of: candidates, logits: logits, weight: { scale.weight(logits[$0]) },
                                               massBefore: 0, target: Double(parameters.topP) * total)
            }
            for id in candidates {
                let weight = scale.weight(logits[id])
                if weight >= parameters.minP { kept.append(id); keptWeights.append(weight) }
            }
        }

        /// Top-p, then min-p, with `weights` (and for top-p `masses`) filled and summing to
        /// `sum`: every token above the boundary buckets survives unlisted (`keptBelowBucket`);
        /// survivors among the boundary buckets' tokens are listed in `kept`. Returns the mass
        /// of the unlisted survivors.
        private mutating func chooseKept(_ logits: UnsafeBufferPointer<Float>, sum: Double,
                                         parameters: SamplingParameters) -> Double {
            let usesTopP = parameters.topP < 1
            let minP = parameters.minP
            let target = Double(parameters.topP) * sum
            var highest = Self.lastBucket
            var topPCutsInside = false
            if usesTopP {
                var cumulative = 0.0
                for bucket in 0...Self.lastBucket {
                    cumulative += masses[bucket]
                    if cumulative >= target { highest = bucket; topPCutsInside = true; break }
                }
            }
            var lowest = highest
            if minP > 0 {
                // Tokens at or above min-p's threshold lie in buckets <= hi; those below lo pass
                // for certain; only lo...hi need the exact test.
                let threshold = -log(minP) * Self.bucketsPerNat
                let hi = Self.bucketIndex(threshold + Self.minPSlack)
                let lo = Self.bucketIndex(max(0, threshold - Self.minPSlack))
                if hi < highest { highest = hi; topPCutsInside = false }
                lowest = min(lo, highest)
            }
            let massAbove = gather(logits, lowest: lowest, highest: highest, listingAbove: false)
            let weights = weights
            // Where top-p's cut is not in these buckets, all of them are inside the nucleus.
            let survivors = topPCutsInside
                ? Selection.nucleus(of: boundary, logits: logits, weight: { weights[$0] }, massBefore: massAbove, target: target)
                : boundary
            for id in survivors where weights[id] >= minP {
                kept.append(id)
                keptWeights.append(weights[id])
            }
            keptBelowBucket = lowest
            return massAbove
        }

        /// Maps logits to z = (logit - max) / temperature, weights e^z and bucket positions
        /// (max - logit) / temperature x 16 = -16z, computed the same way everywhere, so a
        /// token's bucket never depends on the pass and is monotone in its logit.
        struct Scale {
            /// Largest logit (finite).
            var maxLogit: Float
            /// 1 / temperature (finite, > 0).
            var inverseTemperature: Float
            /// Buckets per unit of logit.
            var positionScale: Float { inverseTemperature * Truncation.bucketsPerNat }

            /// e^z, in [0, 1]; NaN logits weigh 0.
            @inline(always) func weight(_ logit: Float) -> Float {
                fastExp((logit - maxLogit) * inverseTemperature)
            }

            /// e^z on 8 lanes.
            @inline(always) func weights(_ logits: Vector) -> Vector {
                fastExp((logits - maxLogit) * inverseTemperature)
            }

            /// Bucket positions on 8 lanes; NaN for NaN logits.
            @inline(always) func positions(_ logits: Vector) -> Vector {
                (Vector(repeating: maxLogit) - logits) * positionScale
            }

            /// The bucket of one logit: the floor of its position, or the overflow bucket.
            func bucket(of logit: Float) -> Int {
                Truncation.bucketIndex((maxLogit - logit) * positionScale)
            }
        }

        /// Bucket of a position >= 0: its floor, or the overflow bucket (also for NaN).
        static func bucketIndex(_ position: Float) -> Int {
            position < Float(lastBucket) ? Int(position) : lastBucket
        }

        /// Stores e^z of every token in `weights` and returns their sum. With top-p, also fills
        /// `masses`, from the 8-token chunks holding a token that might be in the nucleus.
        ///
        /// A token lighter than (1 - p) x sum / vocabulary is never in the nucleus: all such
        /// tokens together weigh at most (1 - p) x sum, so the mass ranked above any of them is
        /// at least p x sum. None lies in a bucket above the cut's, and the cut's bucket reaches
        /// the target without them, so leaving any of them out of the histogram finds the same
        /// bucket. The sum is not known until the end; the running sum (at least 1, the top
        /// token's weight) gives a lower threshold, which only leaves out fewer. Lighter tokens
        /// in a chunk that is added are added too: testing each lane would be a
        /// data-dependent branch.
        private mutating func weighEverything(_ logits: UnsafeBufferPointer<Float>, histogramForTopP topP: Float?) -> Double {
            let count = logits.count
            if weights.count != count { weights = [Float](repeating: 0, count: count) }
            var masses = [Double](repeating: 0, count: Self.lastBucket + 1)
            let scale = scale
            let lanes = Vector.scalarCount
            let buildsHistogram = topP != nil
            // 0.99: margin for the rounding of the sums.
            let negligibleFraction = Float((1 - Double(topP ?? 1)) / Double(count) * 0.99)
            let total = weights.withUnsafeMutableBufferPointer { weights in
                masses.withUnsafeMutableBufferPointer { masses in
                    // Locals, so that the scattered stores cannot make them reload.
                    let base = weights.baseAddress!, massBase = masses.baseAddress!
                    var sum = BlockSum()
                    var negligible = negligibleFraction
                    for index in stride(from: 0, to: count, by: lanes) {
                        let weight = scale.weights(load(logits, index))  // padding NaN weighs 0
                        if index + lanes <= count {
                            UnsafeMutableRawPointer(base + index).storeBytes(of: weight, as: Vector.self)
                        } else {
                            for lane in 0..<(count - index) { base[index + lane] = weight[lane] }
                        }
                        sum.add(weight)
                        guard buildsHistogram else { continue }
                        if index % (64 * lanes) == 0 { negligible = negligibleFraction * Float(max(1, sum.total)) }
                        guard any(weight .>= negligible) else { continue }
                        let bucket = Self.buckets(scale, load(logits, index))
                        for lane in 0..<lanes { massBase[Int(bucket[lane])] += Double(weight[lane]) }
                    }
                    return sum.total
                }
            }
            self.masses = masses
            return total
        }

        /// Buckets of 8 logits; NaN (padding) lands in the overflow bucket.
        @inline(always)
        private static func buckets(_ scale: Scale, _ logits: Vector) -> SIMD8<Int32> {
            let overflow = Vector(repeating: Float(lastBucket))
            var position = scale.positions(logits)
            position.replace(with: overflow, where: .!(position .< overflow))
            return floorOfSmallNonNegative(position)
        }

        /// Fills `counts` over every token.
        private mutating func countBuckets(_ logits: UnsafeBufferPointer<Float>) {
            var counts = [Int](repeating: 0, count: Self.lastBucket + 1)
            let scale = scale
            counts.withUnsafeMutableBufferPointer { counts in
                let countBase = counts.baseAddress!  // a local: the stores cannot make it reload
                for index in stride(from: 0, to: logits.count, by: Vector.scalarCount) {
                    let bucket = Self.buckets(scale, load(logits, index))
                    for lane in 0..<Vector.scalarCount { countBase[Int(bucket[lane])] += 1 }
                }
            }
            counts[Self.lastBucket] -= (Vector.scalarCount - logits.count % Vector.scalarCount) % Vector.scalarCount  // padding
            self.counts = counts
        }

        /// Lists in `boundary` the ids whose bucket is in lowest...highest and, when
        /// `listingAbove`, in `above` those below `lowest`. Returns the weight of the tokens
        /// below `lowest` when `weights` is filled (else 0).
        private mutating func gather(_ logits: UnsafeBufferPointer<Float>, lowest: Int, highest: Int,
                                     listingAbove: Bool) -> Double {
            let count = logits.count
            let lanes = Vector.scalarCount
            // Ids are written branch-free: each lane stores, and the end moves on only for a
            // lane that belongs, so the scratch needs room for a whole chunk past the end.
            if scratch.count < 2 * (count + lanes) { scratch = [Int32](repeating: 0, count: 2 * (count + lanes)) }
            let scale = scale
            let low = Vector(repeating: Float(lowest))
            let highEnd = Vector(repeating: Float(highest + 1))
            let toOverflow = highest == Self.lastBucket
            let hasWeights = !listingAbove
            var massAbove = BlockSum()
            var boundaryCount = 0, aboveCount = 0
            let weights = weights
            weights.withUnsafeBufferPointer { weights in
                scratch.withUnsafeMutableBufferPointer { scratch in
                    let boundaryBase = scratch.baseAddress!, aboveBase = boundaryBase + count + lanes
                    for index in stride(from: 0, to: count, by: lanes) {
                        let position = scale.positions(load(logits, index))
                        let isAbove = position .< low
                        // NaN positions (padding too) fail every comparison: overflow bucket.
                        var inBoundary = toOverflow ? .!isAbove : .!isAbove .& (position .< highEnd)
                        if index + lanes > count { inBoundary .&= Self.lanesBelow(count - index) }
                        if hasWeights {
                            massAbove.add(load(weights, index, padding: 0).replacing(with: 0, where: .!isAbove))
                        }
                        if any(inBoundary) {
                            for lane in 0..<lanes {
                                boundaryBase[boundaryCount] = Int32(truncatingIfNeeded: index + lane)
                                boundaryCount &+= inBoundary[lane] ? 1 : 0
                            }
                        }
                        if listingAbove && any(isAbove) {
                            for lane in 0..<lanes {
                                aboveBase[aboveCount] = Int32(truncatingIfNeeded: index + lane)
                                aboveCount &+= isAbove[lane] ? 1 : 0
                            }
                        }
                    }
                }
            }
            boundary = scratch[0..<boundaryCount].map(Int.init)
            above = scratch[(count + lanes)..<(count + lanes + aboveCount)].map(Int.init)
            return massAbove.total
        }

        /// Mask of the first `count` lanes.
        private static func lanesBelow(_ count: Int) -> SIMDMask<SIMD8<Int32>> {
            SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< Int32(count)
        }

        /// Inverse-CDF draw, in id order, over the tokens in buckets below `keptBelowBucket`,
        /// weighted by `weights`; nil if rounding carried `target` past their total.
        private func drawFromAbove(_ logits: UnsafeBufferPointer<Float>, target: Double) -> Int? {
            let low = Vector(repeating: Float(keptBelowBucket))
            let everything = keptBelowBucket > Self.lastBucket
            var cumulative = 0.0
            return weights.withUnsafeBufferPointer { weights -> Int? in
                for index in stride(from: 0, to: weights.count, by: Vector.scalarCount) {
                    var weight = load(weights, index, padding: 0)
                    if !everything { weight.replace(with: 0, where: .!(scale.positions(load(logits, index)) .< low)) }
                    let chunk = Double(weight.sum())
                    // Only where the target may fall in this chunk, token by token.
                    if cumulative + chunk > target {
                        for lane in 0..<Vector.scalarCount where weight[lane] > 0 {
                            cumulative += Double(weight[lane])
                            if cumulative > target { return index + lane }
                        }
                    } else {
                        cumulative += chunk
                    }
                }
                return nil
            }
        }

        /// Inverse-CDF draw over `kept`, after `massAbove` of unlisted survivors.
        private func drawFromKept(unit: Double, massAbove: Double, fallback: Int) -> Int {
            let total = massAbove + keptWeights.reduce(0.0) { $0 + Double($1) }
            let target = unit * total - massAbove
            var cumulative = 0.0
            var lastPositive = kept.first ?? fallback
            for (id, weight) in zip(kept, keptWeights) where weight > 0 {
                cumulative += Double(weight)
                if cumulative > target { return id }
                lastPositive = id
            }
            return lastPositive  // rounding left the target at or above the total
        }
    }
}
