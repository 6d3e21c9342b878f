extension Sampler {
    /// Lanes per vector in the passes over the vocabulary: AVX2's width for Float, two SSE
    /// registers on the baseline x86-64 target.
    typealias Vector = SIMD8<Float>

    /// Reads 8 values at `index` (no alignment needed); lanes past the end hold `padding`.
    @inline(always)
    static func load(_ values: UnsafeBufferPointer<Float>, _ index: Int, padding: Float = .nan) -> Vector {
        if index + Vector.scalarCount <= values.count {
            return UnsafeRawPointer(values.baseAddress! + index).loadUnaligned(as: Vector.self)
        }
        var vector = Vector(repeating: padding)
        for lane in 0..<(values.count - index) { vector[lane] = values[index + lane] }
        return vector
    }

    /// e^x on 8 lanes, Cephes' single-precision polynomial (within 2 ulp of libm's expf on
    /// [-87, 88]; several times faster than calling it per element). Below -87, and for -inf and
    /// NaN, it gives exactly 0: the weight of a token that cannot be drawn.
    @inline(always)
    static func fastExp(_ x: Vector) -> Vector {
        // Adding 1.5 x 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
        let magic = Vector(repeating: 12_582_912)
        // Selects rather than pointwiseMin/Max, which do not inline; NaN becomes -87 here.
        let clamped = x.replacing(with: -87, where: .!(x .>= -87)).replacing(with: 88, where: x .> 88)
        let shifted = clamped * 1.442_695_04 + magic        // x / ln 2 + magic
        let n = shifted - magic                              // nearest integer to x / ln 2
        // r = x - n ln 2 in [-ln2/2, ln2/2], with ln 2 split in two for an exact first product.
        let r = (clamped - n * 0.693_359_375) - n * -2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * (r * r) + r + 1                          // e^r
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: Vector.self)  // 2^n, n in [-126, 127]
        return (y * scale).replacing(with: 0, where: .!(x .>= -87))
    }

    /// floor(x) for 0 <= x < 2^22 (bucket positions), by the same rounding trick as `fastExp`:
    /// baseline x86-64 has no vector floor instruction, and `rounded(.down)` calls floorf per lane.
    @inline(always)
    static func floorOfSmallNonNegative(_ x: Vector) -> SIMD8<Int32> {
        let magic = Vector(repeating: 12_582_912)
        let shifted = x + magic
        let nearest = shifted - magic
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        return integer.replacing(with: integer &- 1, where: nearest .> x)  // rounded up: one less
    }

    /// e^x for one value, the same function as the vector form (so scalar and vector paths
    /// weigh a token identically).
    @inline(always)
    static func fastExp(_ x: Float) -> Float {
        fastExp(Vector(repeating: x))[0]
    }

    /// Index and value of the largest logit; ties go to the lowest id, NaNs are never chosen
    /// (all NaN or -inf: index 0, value -inf).
    static func argmax(_ logits: UnsafeBufferPointer<Float>) -> (index: Int, value: Float) {
        var best = Vector(repeating: -.infinity)
        for index in stride(from: 0, to: logits.count, by: Vector.scalarCount) {
            let values = load(logits, index)
            best.replace(with: values, where: values .> best)  // NaN, padding too, compares false
        }
        let maximum = best.max()
        guard maximum > -.infinity else { return (0, -.infinity) }
        // The first index holding the maximum: the lowest id among ties.
        return (logits.firstIndex(of: maximum) ?? 0, maximum)
    }

    /// sum over the vocabulary of e^(logit - maxLogit), accumulated in double precision.
    static func sumOfWeights(_ logits: UnsafeBufferPointer<Float>, maxLogit: Float) -> Double {
        var sum = BlockSum()
        for index in stride(from: 0, to: logits.count, by: Vector.scalarCount) {
            sum.add(fastExp(load(logits, index) - maxLogit))  // padding NaN weighs 0
        }
        return sum.total
    }

    /// A long sum of weights in [0, 1]: 8 single-precision lanes, moved into double precision
    /// every 64 vectors, so that each float sum has at most 64 terms (relative error ~1e-6 at
    /// worst) while the conversions stay rare.
    struct BlockSum {
        private var block = Vector()
        private var vectorsInBlock = 0
        private var sums = SIMD8<Double>()

        /// Adds 8 weights.
        @inline(always) mutating func add(_ weights: Vector) {
            block += weights
            vectorsInBlock += 1
            if vectorsInBlock == 64 { flush() }
        }

        private mutating func flush() {
            sums += SIMD8<Double>(block)
            block = Vector()
            vectorsInBlock = 0
        }

        /// The sum of everything added.
        var total: Double {
            var copy = self
            copy.flush()
            return copy.sums.sum()
        }
    }
}
