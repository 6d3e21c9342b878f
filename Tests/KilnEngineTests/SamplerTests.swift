import Foundation
import KilnCore
import Testing

@testable import KilnEngine

/// The sampler against naive maths: full sorts, log-softmax in double precision, and empirical
/// distributions of many seeded draws against the exact renormalised probabilities.
struct SamplerTests {
    // MARK: - Helpers

    /// Gaussian logits (standard deviation `spread`), reproducible from `seed`.
    static func randomLogits(count: Int, seed: UInt64, spread: Double = 3) -> [Float] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
            let u = 1 - generator.nextUnitInterval(), v = generator.nextUnitInterval()
            return Float(spread * (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
    }

    /// log-softmax in double precision.
    static func logSoftmax(_ logits: [Float]) -> [Double] {
        let values = logits.map(Double.init)
        let maximum = values.max()!
        let logSum = log(values.reduce(0) { $0 + exp($1 - maximum) }) + maximum
        return values.map { $0 - logSum }
    }

    /// The ids top-k, then top-p (over the renormalised top-k mass), then min-p keep, by a full
    /// sort: largest logit first, ties to the lower id.
    static func referenceKept(_ logits: [Float], _ parameters: SamplingParameters) -> Set<Int> {
        var order = Array(logits.indices).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if parameters.topK > 0 { order = Array(order.prefix(parameters.topK)) }
        let maximum = logits[order[0]]
        // The sampler's own exp, so that only the order of summation differs.
        let weights = order.map { Double(Sampler.fastExp((logits[$0] - maximum) * (1 / parameters.temperature))) }
        var kept: [Int] = []
        let target = Double(parameters.topP) * weights.reduce(0, +)
        var massBefore = 0.0
        for (id, weight) in zip(order, weights) {
            if parameters.topP < 1 && massBefore >= target { break }
            if weight >= Double(parameters.minP) { kept.append(id) }
            massBefore += weight
        }
        return Set(kept)
    }

    /// Draws `draws` tokens and returns how often each id came up.
    static func histogram(_ logits: [Float], _ parameters: SamplingParameters, draws: Int) -> [Int] {
        var sampler = Sampler(parameters: parameters)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[sampler.sample(logits: logits).id] += 1 }
        return counts
    }

    /// Pearson's chi-square of observed counts against expected probabilities; ids with
    /// probability 0 must never be drawn.
    static func expectMatches(_ counts: [Int], _ probabilities: [Double], bound: Double = 25) {
        let total = Double(counts.reduce(0, +))
        var chiSquare = 0.0
        for (count, probability) in zip(counts, probabilities) {
            if probability == 0 {
                #expect(count == 0)
            } else {
                let expected = total * probability
                chiSquare += (Double(count) - expected) * (Double(count) - expected) / expected
            }
        }
        // With <= 6 categories the 0.1% critical value is at most 20.5; the seed is fixed, so
        // this is deterministic, and the bound only has to reject a wrong distribution.
        #expect(chiSquare < bound, "chi-square \(chiSquare) for \(counts) vs \(probabilities)")
    }

    /// Probabilities proportional to `weights` on `kept`, 0 elsewhere.
    static func renormalised(_ probabilities: [Double], keeping kept: Set<Int>) -> [Double] {
        let mass = kept.reduce(0) { $0 + probabilities[$1] }
        return probabilities.indices.map { kept.contains($0) ? probabilities[$0] / mass : 0 }
    }

    /// A hand-made distribution: 0.4, 0.25, 0.15, 0.1, 0.06, 0.04.
    static let handMade: [Double] = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    static let handMadeLogits: [Float] = handMade.map { Float(log($0)) }

    // MARK: - Generator

    @Test func xoshiroMatchesReferenceVectors() {
        // The authors' C code from state {1, 2, 3, 4}.
        var reference = SeededGenerator(state: (1, 2, 3, 4))
        #expect((0..<6).map { _ in reference.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240,
                                                          1_216_172_134_540_287_360, 607_988_272_756_665_600])
        // SplitMix64 seeding, checked against an independent transcription.
        var seeded = SeededGenerator(seed: 42)
        #expect((0..<3).map { _ in seeded.next() } == [1_546_998_764_402_558_742, 6_990_951_692_964_543_102,
                                                        12_544_586_762_248_559_009])
        var unit = SeededGenerator(seed: 7)
        #expect((0..<1000).allSatisfy { _ in (0..<1).contains(unit.nextUnitInterval()) })
    }

    @Test func fastExpIsWithinAFewUlpOfLibm() {
        var worst: Float = 0
        for step in 0...200_000 {
            let x = -87 + Float(step) * (87 + 10) / 200_000
            let reference = Float(exp(Double(x)))
            worst = max(worst, abs(Sampler.fastExp(x) - reference) / reference.ulp)
        }
        #expect(worst <= 2)
        #expect(Sampler.fastExp(0) == 1)
        #expect(Sampler.fastExp(-.infinity) == 0)
        #expect(Sampler.fastExp(.nan) == 0)
        #expect(Sampler.fastExp(-88) == 0)
    }

    // MARK: - Greedy

    @Test func greedyIsArgmaxWithTiesToLowestID() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0))
        #expect(sampler.sample(logits: [0.1, 2, -1, 2, 1.9]).id == 1)
        let logits = Self.randomLogits(count: 50_000, seed: 3)
        #expect(sampler.sample(logits: logits).id == logits.indices.max { logits[$0] < logits[$1] })
        #expect(sampler.sample(logits: [-.infinity, .nan, -3, .nan]).id == 2)
    }

    @Test func greedyConsumesNoRandomness() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0, topK: 5, topP: 0.5, seed: 9))
        let before = sampler.generator
        for seed in 0..<5 { _ = sampler.sample(logits: Self.randomLogits(count: 1000, seed: UInt64(seed))) }
        #expect(sampler.generator == before)
    }

    // MARK: - Seeds

    @Test func sameSeedRepeatsAndDifferentSeedsDiffer() {
        let logits = Self.randomLogits(count: 4096, seed: 1, spread: 1)
        func run(seed: UInt64?, topP: Float) -> [Int] {
            var sampler = Sampler(parameters: SamplingParameters(temperature: 1, topP: topP, seed: seed))
            return (0..<64).map { _ in sampler.sample(logits: logits).id }
        }
        for topP: Float in [1, 0.9] {
            #expect(run(seed: 1234, topP: topP) == run(seed: 1234, topP: topP))
            #expect(run(seed: 1234, topP: topP) != run(seed: 1235, topP: topP))
            #expect(run(seed: nil, topP: topP) != run(seed: nil, topP: topP))
        }
    }

    @Test func aSharedWorkspaceChangesNothing() {
        let logits = Self.randomLogits(count: 10_000, seed: 8)
        let settings = [SamplingParameters(temperature: 0.9, topP: 0.8, seed: 1),
                        SamplingParameters(temperature: 1.2, topK: 30, repetitionPenalty: 1.3, seed: 2),
                        SamplingParameters(temperature: 1, minP: 0.1, frequencyPenalty: 0.5, seed: 3)]
        var alone = settings.map { Sampler(parameters: $0, promptTokenIDs: [1, 2, 3]) }
        var sharing = alone
        var workspace = Sampler.Workspace()
        for _ in 0..<20 {
            for index in settings.indices {
                let own = alone[index].sample(logits: logits)
                let shared = logits.withUnsafeBufferPointer { sharing[index].sample(logits: $0, workspace: &workspace) }
                #expect(own == shared)
            }
        }
    }

    // MARK: - Truncation

    @Test(arguments: [Float(0.05), 0.7, 1, 3, 100])
    func topKOfOneIsGreedy(temperature: Float) {
        var greedy = Sampler(parameters: SamplingParameters(temperature: 0))
        var topOne = Sampler(parameters: SamplingParameters(temperature: temperature, topK: 1, seed: 5))
        for seed in 0..<20 {
            var logits = Self.randomLogits(count: 3000, seed: UInt64(100 + seed))
            logits[2999] = logits.max()!  // a tie: the lower id must win in both
            #expect(topOne.sample(logits: logits).id == greedy.sample(logits: logits).id)
        }
    }

    @Test func plainTemperatureSamplesTheScaledSoftmax() {
        let parameters = SamplingParameters(temperature: 2, seed: 11)
        let scaled = Self.handMade.map { pow($0, 0.5) }
        let probabilities = scaled.map { $0 / scaled.reduce(0, +) }
        Self.expectMatches(Self.histogram(Self.handMadeLogits, parameters, draws: 40_000), probabilities)
    }

    @Test func topPKeepsTheNucleusRenormalised() {
        // Cumulative 0.4, 0.65, 0.8, ...: top-p 0.75 keeps ids 0, 1, 2 (mass before id 2 is
        // 0.65 < 0.75; before id 3 it is 0.8).
        let parameters = SamplingParameters(temperature: 1, topP: 0.75, seed: 21)
        let counts = Self.histogram(Self.handMadeLogits, parameters, draws: 40_000)
        Self.expectMatches(counts, Self.renormalised(Self.handMade, keeping: [0, 1, 2]))
        // Just above a cumulative sum the next token joins: 0.66 keeps id 2 as well.
        let wider = Self.histogram(Self.handMadeLogits, SamplingParameters(temperature: 1, topP: 0.66, seed: 22), draws: 20_000)
        Self.expectMatches(wider, Self.renormalised(Self.handMade, keeping: [0, 1, 2]))
        let narrow = Self.histogram(Self.handMadeLogits, SamplingParameters(temperature: 1, topP: 0.64, seed: 23), draws: 20_000)
        Self.expectMatches(narrow, Self.renormalised(Self.handMade, keeping: [0, 1]))
    }

    @Test func minPDropsTokensBelowAFractionOfTheTop() {
        // 0.4 x 0.3 = 0.12: ids 0, 1, 2 stay (0.15 >= 0.12), 0.1 and below go.
        let parameters = SamplingParameters(temperature: 1, minP: 0.3, seed: 31)
        Self.expectMatches(Self.histogram(Self.handMadeLogits, parameters, draws: 40_000),
                           Self.renormalised(Self.handMade, keeping: [0, 1, 2]))
    }

    @Test func topKThenTopPThenMinPCompose() {
        // Top-k 4 renormalises to 0.4/0.9, 0.25/0.9, ...: top-p 0.7 then needs 0.444 + 0.278
        // = 0.72 -> ids 0, 1; without top-k, 0.7 would need id 2 too.
        let parameters = SamplingParameters(temperature: 1, topK: 4, topP: 0.7, seed: 41)
        Self.expectMatches(Self.histogram(Self.handMadeLogits, parameters, draws: 30_000),
                           Self.renormalised(Self.handMade, keeping: [0, 1]))
        #expect(Self.referenceKept(Self.handMadeLogits, parameters) == [0, 1])
    }

    @Test func keptSetsMatchAFullSortOnLargeVocabularies() {
        let settings: [SamplingParameters] = [
            SamplingParameters(temperature: 1, topK: 50),
            SamplingParameters(temperature: 0.7, topP: 0.9),
            SamplingParameters(temperature: 1.3, topP: 0.95, minP: 0.05),
            SamplingParameters(temperature: 1, minP: 0.1),
            SamplingParameters(temperature: 0.8, topK: 40, topP: 0.8),
            SamplingParameters(temperature: 2, topK: 1000, minP: 0.02),
            SamplingParameters(temperature: 1, topK: 200, topP: 0.5, minP: 0.3),
            SamplingParameters(temperature: 0.5, topK: 5000),
            SamplingParameters(temperature: 5, topP: 0.99),
        ]
        for (index, base) in settings.enumerated() {
            for trial in 0..<4 {
                var parameters = base
                parameters.seed = UInt64(trial)
                // Peaked, wide, many exact ties, and flat (boundary buckets of thousands).
                let spread = [2.5, 3.5, 4.5, 0.4][trial]
                var logits = Self.randomLogits(count: 16_384, seed: UInt64(1000 * index + trial), spread: spread)
                if trial == 2 { logits = logits.map { ($0 * 2).rounded() / 2 } }
                var sampler = Sampler(parameters: parameters)
                let id = sampler.sample(logits: logits).id
                let expected = Self.referenceKept(logits, parameters)
                #expect(logits.withUnsafeBufferPointer { sampler.ownWorkspace.truncation.keptIDs(logits: $0) } == expected, "setting \(index), trial \(trial)")
                #expect(expected.contains(id))
            }
        }
    }

    @Test func selectionMatchesAFullSort() {
        var random = SeededGenerator(seed: 99)
        for trial in 0..<200 {
            let count = 1 + Int(random.next() % 3000)
            // Few distinct values (ties), infinities and NaN now and then.
            var logits = (0..<count).map { _ in Float(Int(random.next() % (trial % 2 == 0 ? 7 : 100_000))) / 7 }
            if trial % 5 == 0 { logits[Int(random.next() % UInt64(count))] = -.infinity }
            if trial % 7 == 0 { logits[Int(random.next() % UInt64(count))] = .nan }
            let ids = Array(0..<count).shuffled(using: &random)
            let wanted = Int(random.next() % UInt64(count + 1))
            let maximum = logits.filter(\.isFinite).max() ?? 0
            let weights = logits.map { $0.isNaN ? 0 : exp(($0 - maximum) * 0.5) }
            logits.withUnsafeBufferPointer { logits in
                let sorted = Sampler.Truncation.Selection.sortedByLogit(ids, logits)
                let top = Sampler.Truncation.Selection.highest(wanted, of: ids, logits: logits)
                #expect(Set(top) == Set(sorted.prefix(wanted)))
                let total = weights.reduce(0.0) { $0 + Double($1) }
                let massBefore = total * 0.01 * Double(random.next() % 30)
                let target = massBefore + total * Double(random.nextUnitInterval())
                var expected: [Int] = []
                var mass = massBefore
                for id in sorted where mass < target { expected.append(id); mass += Double(weights[id]) }
                let nucleus = Sampler.Truncation.Selection.nucleus(of: ids, logits: logits, weight: { weights[$0] },
                                                                   massBefore: massBefore, target: target)
                #expect(Set(nucleus) == Set(expected), "trial \(trial)")
            }
        }
    }

    // MARK: - Penalties

    @Test func repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() throws {
        let logits: [Float] = [2, 1.5, -1, -0.5, 0.25]
        let parameters = SamplingParameters(temperature: 0, repetitionPenalty: 2, logprobs: 5)
        var sampler = Sampler(parameters: parameters, promptTokenIDs: [0, 3, 3])
        let first = sampler.sample(logits: logits)
        #expect(first.id == 1)  // 2 / 2 = 1 < 1.5
        try expectLogprobs(first, naive: [1, 1.5, -1, -1, 0.25])
        let second = sampler.sample(logits: logits)  // now 1 is in the output too
        #expect(second.id == 0)
        try expectLogprobs(second, naive: [1, 0.75, -1, -1, 0.25])
    }

    @Test func frequencyAndPresencePenaltiesCountOutputTokens() throws {
        let logits: [Float] = [1, 0.9, 0.45]
        let parameters = SamplingParameters(temperature: 0, presencePenalty: 0.2, frequencyPenalty: 0.3, logprobs: 3)
        var sampler = Sampler(parameters: parameters, promptTokenIDs: [1, 1, 1])  // the prompt does not count
        var ids: [Int] = []
        var adjusted = logits
        for _ in 0..<4 {
            let token = sampler.sample(logits: logits)
            try expectLogprobs(token, naive: adjusted)
            ids.append(token.id)
            let count = Float(ids.filter { $0 == token.id }.count)
            adjusted[token.id] = logits[token.id] - 0.3 * count - 0.2
        }
        // 1 | 0.9 -> 0 ; 0.5, 0.9 -> 1 ; 0.5, 0.4, 0.45 -> 0 ; 0.2, 0.4, 0.45 -> 2
        #expect(ids == [0, 1, 0, 2])
        #expect(sampler.outputTokenCount == 4)
    }

    /// The token's logprob and full top list equal a naive log-softmax of `naive`.
    func expectLogprobs(_ token: SampledToken, naive: [Float]) throws {
        let expected = Self.logSoftmax(naive)
        let logprob = try #require(token.logprob)
        #expect(abs(Double(logprob) - expected[token.id]) < 1e-5)
        for alternative in token.topLogprobs {
            #expect(abs(Double(alternative.logprob) - expected[alternative.id]) < 1e-5)
        }
    }

    // MARK: - Logprobs

    @Test(arguments: [Float(0), 0.6, 1, 1.7])
    func logprobsAreTheLogSoftmaxBeforeTemperature(temperature: Float) throws {
        let logits = Self.randomLogits(count: 20_000, seed: 77)
        let expected = Self.logSoftmax(logits)
        let order = logits.indices.sorted { expected[$0] > expected[$1] }
        for topP: Float in [1, 0.9] {
            var sampler = Sampler(parameters: SamplingParameters(temperature: temperature, topP: topP, seed: 3, logprobs: 6))
            for _ in 0..<3 {
                let token = sampler.sample(logits: logits)
                let logprob = try #require(token.logprob)
                #expect(abs(Double(logprob) - expected[token.id]) < 1e-4)
                #expect(token.topLogprobs.map(\.id) == Array(order.prefix(6)))
                for alternative in token.topLogprobs {
                    #expect(abs(Double(alternative.logprob) - expected[alternative.id]) < 1e-4)
                }
            }
        }
    }

    @Test func topLogprobsAreOrderedWithTiesToLowerIDs() throws {
        let logits: [Float] = [1, 3, 3, 2, 3, -4]
        var three = Sampler(parameters: SamplingParameters(temperature: 0, logprobs: 3))
        let token = three.sample(logits: logits)
        #expect(token.id == 1)
        #expect(token.topLogprobs.map(\.id) == [1, 2, 4])
        var five = Sampler(parameters: SamplingParameters(temperature: 0, logprobs: 5))
        #expect(five.sample(logits: logits).topLogprobs.map(\.id) == [1, 2, 4, 3, 0])
        let logprobs = five.sample(logits: logits).topLogprobs.map(\.logprob)
        #expect(logprobs == logprobs.sorted(by: >))

        var onlyChosen = Sampler(parameters: SamplingParameters(temperature: 0, logprobs: 0))
        let chosen = onlyChosen.sample(logits: logits)
        #expect(chosen.topLogprobs.isEmpty)
        #expect(try abs(Double(#require(chosen.logprob)) - Self.logSoftmax(logits)[1]) < 1e-6)

        var none = Sampler(parameters: SamplingParameters(temperature: 0))
        #expect(none.sample(logits: logits) == SampledToken(id: 1))
    }
}
