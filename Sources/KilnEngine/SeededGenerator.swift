/// xoshiro256** (Blackman and Vigna, 2018): a small, fast 64-bit generator with 256 bits of
/// state, good enough for sampling and reproducible across platforms. Not cryptographic.
///
/// The state is filled from the seed by SplitMix64, as the authors recommend, so that nearby
/// seeds (0, 1, 2, ...) give unrelated streams and no seed yields the all-zero state.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The four state words; never all zero.
    private var s0, s1, s2, s3: UInt64

    /// Creates the stream for `seed`: the same seed always gives the same numbers.
    public init(seed: UInt64) {
        var splitMix = seed
        // SplitMix64 (Steele, Lea and Flood): each call advances by the golden-ratio increment.
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let words = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
        (s0, s1, s2, s3) = words
    }

    /// Creates a stream seeded from the system's entropy source (a request without a seed).
    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    /// Creates a generator with exactly this state (reference vectors in tests); not all zero.
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "xoshiro256** state must not be all zero")
        (s0, s1, s2, s3) = state
    }

    /// Returns the next 64 random bits and advances the state.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, by: 7) &* 9
        let shifted = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = rotateLeft(s3, by: 45)
        return result
    }

    /// Returns a uniform value in [0, 1) built from the top 53 bits (every double spaced 2^-53).
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    private func rotateLeft(_ value: UInt64, by count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }
}
