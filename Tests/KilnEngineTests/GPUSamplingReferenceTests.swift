import Foundation
import KilnCore
import Testing

@testable import KilnEngine

/// The GPU sampling kernel's CPU twin against the CPU Sampler: the same kept sets (top-k, top-p,
/// min-p, ties at each cut, NaN and -inf), the same greedy cases, and draws over u that follow
/// the truncated distribution exactly (inverse CDF) and statistically (seeded stream).
struct GPUSamplingReferenceTests {
    typealias Reference = GPUSamplingReference

    /// Kept ids of the twin.
    static func keptIDs(_ logits: [Float], _ parameters: SamplingParameters) -> Set<Int> {
        logits.withUnsafeBufferPointer { Set(Reference.truncation($0, .init(parameters)).kept.map(\.id)) }
    }

    /// Kept ids of the CPU Sampler after one draw (the row must not be greedy).
    static func samplerKeptIDs(_ logits: [Float], _ parameters: SamplingParameters) -> Set<Int> {
        var sampler = Sampler(parameters: parameters)
        _ = sampler.sample(logits: logits)
        return logits.withUnsafeBufferPointer { sampler.ownWorkspace.truncation.keptIDs(logits: $0) }
    }

    @Test func keptSetsMatchTheCPUSampler() {
        let settings: [SamplingParameters] = [
            SamplingParameters(temperature: 1),
            SamplingParameters(temperature: 1, topK: 50),
            SamplingParameters(temperature: 0.7, topP: 0.9),
            SamplingParameters(temperature: 1.3, topP: 0.95, minP: 0.05),
            SamplingParameters(temperature: 1, minP: 0.1),
            SamplingParameters(temperature: 0.8, topK: 40, topP: 0.8),
            SamplingParameters(temperature: 2, topK: 1000, minP: 0.02),
            SamplingParameters(temperature: 1, topK: 200, topP: 0.5, minP: 0.3),
            SamplingParameters(temperature: 0.5, topK: 5000),
            SamplingParameters(temperature: 5, topP: 0.99),
            SamplingParameters(temperature: 1, topK: 1),
            SamplingParameters(temperature: 0.3, topP: 0.01),
            SamplingParameters(temperature: 1, topK: 7, topP: 0.6, minP: 1),
        ]
        var random = SeededGenerator(seed: 7)
        for (index, parameters) in settings.enumerated() {
            for trial in 0..<5 {
                // Odd sizes; peaked, wide, many exact ties, flat, and NaN/-inf scattered.
                let count = [16_384, 4099, 9001, 777, 12_289][trial]
                let spread = [2.5, 3.5, 4.5, 0.4, 3][trial]
                var logits = SamplerTests.randomLogits(count: count, seed: UInt64(100 * index + trial), spread: spread)
                if trial == 2 { logits = logits.map { ($0 * 2).rounded() / 2 } }
                if trial == 4 {
                    for _ in 0..<50 { logits[Int(random.next() % UInt64(count))] = random.next() % 2 == 0 ? .nan : -.infinity }
                    logits = logits.map { ($0 * 4).rounded() / 4 }
                }
                let kept = Self.keptIDs(logits, parameters)
                #expect(kept == Self.samplerKeptIDs(logits, parameters), "setting \(index), trial \(trial)")
                if trial != 4 { #expect(kept == SamplerTests.referenceKept(logits, parameters), "setting \(index), trial \(trial)") }
            }
        }
    }

    @Test func tiesAtEachCutGoToTheLowerIDs() {
        // Top-k 2 of four equal maxima: ids 0 and 1 (-0 and +0 are equal too).
        let equal: [Float] = [0, 0, -0.0, 0, -1]
        #expect(Self.keptIDs(equal, SamplingParameters(temperature: 1, topK: 2)) == [0, 1])
        #expect(Self.keptIDs(equal, SamplingParameters(temperature: 1, topK: 3)) == [0, 1, 2])
        // Top-p 0.5 of four equal tokens: the mass before the third is exactly half, not below
        // it, so two stay (the CPU Sampler agrees). Add a token of weight e^-32 and the CPU's
        // target grows by 6e-15, enough to keep a third: its mass here is 0 (below 2^-40), the
        // documented quantisation, so the twin still keeps two.
        let half = SamplingParameters(temperature: 1, topP: 0.5)
        #expect(Self.keptIDs([2, 2, 2, 2], half) == [0, 1])
        #expect(Self.samplerKeptIDs([2, 2, 2, 2], half) == [0, 1])
        #expect(Self.keptIDs([2, -30, 2, 2, 2], half) == [0, 2])
        // Top-k cuts inside the ties, then top-p inside the same ties.
        let tied: [Float] = [1, 3, 3, 1, 3, 3, 3, 0]
        let both = SamplingParameters(temperature: 1, topK: 4, topP: 0.6)
        #expect(Self.keptIDs(tied, both) == [1, 2, 4])
        #expect(Self.samplerKeptIDs(tied, both) == [1, 2, 4])
        // Min-p is measured against the top token after temperature: e^(-1/0.5) = 0.135 >= 0.13.
        let two: [Float] = [0, 1]
        #expect(Self.keptIDs(two, SamplingParameters(temperature: 0.5, minP: 0.13)) == [0, 1])
        #expect(Self.keptIDs(two, SamplingParameters(temperature: 0.5, minP: 0.14)) == [1])
    }

    @Test func greedyRowsNeedNoDraw() {
        func check(_ logits: [Float], _ temperature: Float, expected: Int) {
            let truncation = logits.withUnsafeBufferPointer { Reference.truncation($0, .init(temperature: temperature, topP: 0.9)) }
            #expect(truncation.kept.isEmpty && truncation.greedyID == expected, "\(logits) at \(temperature)")
            var sampler = Sampler(parameters: SamplingParameters(temperature: temperature, topP: 0.9))
            #expect(sampler.sample(logits: logits).id == expected)
            #expect(Reference.draw(truncation, unit: 0.5) == expected)
        }
        check([1, 3, 3, 2], 0, expected: 1)
        check([1, .infinity, 2, .infinity], 1, expected: 1)
        check([-.infinity, .nan, -.infinity], 1, expected: 0)
        check([.nan, -.infinity, 5], 0, expected: 2)
        check([1, 2, 0], Float.leastNonzeroMagnitude, expected: 1)  // 1 / temperature is infinite
    }

    /// Evenly spaced u: the inverse CDF gives each kept id a share of them within one of
    /// mass / total, and that share is the renormalised softmax of the CPU Sampler's kept set.
    @Test func drawsOverEvenlySpacedUniformsFollowTheTruncatedDistribution() {
        let cases: [SamplingParameters] = [
            SamplingParameters(temperature: 1, topK: 20),
            SamplingParameters(temperature: 0.7, topP: 0.8),
            SamplingParameters(temperature: 1.5, topK: 50, topP: 0.9, minP: 0.05),
        ]
        for (index, parameters) in cases.enumerated() {
            let logits = SamplerTests.randomLogits(count: 3001, seed: UInt64(500 + index), spread: 2)
            let truncation = logits.withUnsafeBufferPointer { Reference.truncation($0, .init(parameters)) }
            let draws = 200_000
            var counts = [Int](repeating: 0, count: logits.count)
            for step in 0..<draws { counts[Reference.draw(truncation, unit: (Double(step) + 0.5) / Double(draws))] += 1 }
            let total = Double(truncation.kept.reduce(UInt64(0)) { $0 + $1.mass })
            let kept = Self.samplerKeptIDs(logits, parameters)
            #expect(Set(truncation.kept.map(\.id)) == kept)
            // Exact probabilities of the CPU's kept set, in double precision.
            let maximum = Double(logits.max()!)
            let exact = kept.reduce(0.0) { $0 + exp((Double(logits[$1]) - maximum) / Double(parameters.temperature)) }
            for (id, mass) in truncation.kept {
                #expect(abs(Double(counts[id]) - Double(draws) * Double(mass) / total) <= 1, "case \(index), id \(id)")
                let probability = exp((Double(logits[id]) - maximum) / Double(parameters.temperature)) / exact
                #expect(abs(Double(counts[id]) - Double(draws) * probability) <= 2, "case \(index), id \(id)")
            }
            #expect(counts.indices.allSatisfy { counts[$0] == 0 || kept.contains($0) })
            #expect(counts.reduce(0, +) == draws)
        }
    }

    /// With the engine's own seeded stream, as the host will feed the kernel.
    @Test func seededDrawsMatchTheRenormalisedDistribution() {
        let parameters = SamplingParameters(temperature: 1, topK: 4, topP: 0.7, seed: 41)
        var generator = SeededGenerator(seed: 41)
        var counts = [Int](repeating: 0, count: SamplerTests.handMade.count)
        SamplerTests.handMadeLogits.withUnsafeBufferPointer { logits in
            for _ in 0..<30_000 { counts[Reference.sample(logits, .init(parameters), unit: generator.nextUnitInterval())] += 1 }
        }
        SamplerTests.expectMatches(counts, SamplerTests.renormalised(SamplerTests.handMade, keeping: [0, 1]))
        // u at the ends of [0, 1): the lowest and the highest kept id.
        SamplerTests.handMadeLogits.withUnsafeBufferPointer { logits in
            #expect(Reference.sample(logits, .init(parameters), unit: 0) == 0)
            #expect(Reference.sample(logits, .init(parameters), unit: 1 - 0x1p-53) == 1)
        }
    }
}
