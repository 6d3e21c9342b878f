import KilnCore
import KilnEngine
import KilnTokenizer
import Testing

/// Stop ids, token limits and stop strings, with the streamed text checked after every token.
struct StopCheckerTests {
    /// Feeds `pieces` (token id, text) until the checker finishes; returns every outcome.
    static func feed(_ checker: inout StopChecker, _ pieces: [(Int, String)]) -> [StopChecker.Outcome] {
        var outcomes: [StopChecker.Outcome] = []
        for (id, text) in pieces {
            let outcome = checker.append(tokenID: id, text: text)
            outcomes.append(outcome)
            if outcome.isFinished { break }
        }
        return outcomes
    }

    /// Feeds text pieces with token id 100 (no stop id).
    static func feed(_ checker: inout StopChecker, texts: [String]) -> [StopChecker.Outcome] {
        feed(&checker, texts.map { (100, $0) })
    }

    static func checker(maxTokens: Int = 100, stopStrings: [String] = [], stopTokenIDs: [Int] = [],
                        ignoreEOS: Bool = false, modelStops: Set<Int> = [2]) -> StopChecker {
        StopChecker(parameters: SamplingParameters(maxTokens: maxTokens, stopTokenIDs: stopTokenIDs,
                                                   stopStrings: stopStrings, ignoreEOS: ignoreEOS),
                    modelStopTokenIDs: modelStops)
    }

    // MARK: - Stop ids and length

    @Test func endOfSequenceStopsAndItsTextIsDropped() {
        var checker = Self.checker(modelStops: [2, 106])
        let outcomes = Self.feed(&checker, [(5, "Hi"), (6, " there"), (106, "<end_of_turn>"), (7, "never")])
        #expect(outcomes.map(\.text) == ["Hi", " there", ""])
        #expect(outcomes.last?.finishReason == .stop(.endOfSequence(tokenID: 106)))
        #expect(checker.tokenCount == 3)
        #expect(checker.append(tokenID: 7, text: "late") == StopChecker.Outcome(text: "", finishReason: .stop(.endOfSequence(tokenID: 106))))
    }

    @Test func theTokenizersEndTokensStop() {
        let special = SpecialTokens(bos: 1, eos: 2, endOfGeneration: [106])
        var checker = StopChecker(parameters: SamplingParameters(), specialTokens: special)
        #expect(checker.append(tokenID: 1, text: "x").finishReason == nil)
        #expect(checker.append(tokenID: 106, text: "").finishReason == .stop(.endOfSequence(tokenID: 106)))
        var ignoring = StopChecker(parameters: SamplingParameters(ignoreEOS: true), specialTokens: special)
        #expect(ignoring.append(tokenID: 2, text: "").finishReason == nil)
    }

    @Test func ignoreEOSKeepsGoingButRequestStopIDsStillStop() {
        var checker = Self.checker(stopTokenIDs: [7], ignoreEOS: true)
        let outcomes = Self.feed(&checker, [(2, "</s>"), (5, "more"), (7, "x"), (5, "never")])
        #expect(outcomes.map(\.text) == ["</s>", "more", ""])
        #expect(outcomes.map(\.isFinished) == [false, false, true])
        #expect(checker.finishReason == .stop(.stopTokenID(7)))
    }

    @Test func requestStopIDWinsOverTheModelsForTheSameToken() {
        var checker = Self.checker(stopTokenIDs: [2])
        #expect(checker.append(tokenID: 2, text: "").finishReason == .stop(.stopTokenID(2)))
    }

    @Test func maxTokensEndsWithLengthAndKeepsTheLastText() {
        var checker = Self.checker(maxTokens: 3)
        let outcomes = Self.feed(&checker, texts: ["a", "b", "c", "d"])
        #expect(outcomes.map(\.text) == ["a", "b", "c"])
        #expect(outcomes.map(\.finishReason) == [nil, nil, .length])
        #expect(FinishReason.length.openAIName == "length")
        #expect(FinishReason.stop(.stopString("x")).openAIName == "stop")
    }

    @Test func lengthReleasesHeldBackText() {
        var checker = Self.checker(maxTokens: 2, stopStrings: ["END"])
        let outcomes = Self.feed(&checker, texts: ["aE", "N"])
        #expect(outcomes.map(\.text) == ["a", "EN"])
        #expect(checker.finishReason == .length)
    }

    @Test func stopIDReleasesHeldBackTextButNotItsOwn() {
        var checker = Self.checker(stopStrings: ["END"])
        let outcomes = Self.feed(&checker, [(5, "xE"), (2, "END")])
        #expect(outcomes.map(\.text) == ["x", "E"])
        #expect(checker.finishReason == .stop(.endOfSequence(tokenID: 2)))
    }

    @Test func externalFinishReleasesHeldBackText() {
        var checker = Self.checker(stopStrings: ["STOP"])
        #expect(checker.append(tokenID: 1, text: "go ST").text == "go ")
        #expect(checker.finish(.length) == StopChecker.Outcome(text: "ST", finishReason: .length))
        #expect(checker.finish(.stop(.stopTokenID(1))).finishReason == .length)
    }

    // MARK: - Stop strings

    @Test func stopStringAcrossTokenBoundaries() {
        var checker = Self.checker(stopStrings: ["o, w"])
        let outcomes = Self.feed(&checker, texts: ["Hel", "lo, wo", "rld"])
        #expect(outcomes.map(\.text) == ["Hel", "l"])
        #expect(checker.finishReason == .stop(.stopString("o, w")))
    }

    @Test func possibleStartsAreHeldBackUntilDisproved() {
        var checker = Self.checker(stopStrings: ["END", "###"])
        let outcomes = Self.feed(&checker, texts: ["abcE", "N", "x#", "#", "y", "zEN", "D tail"])
        #expect(outcomes.map(\.text) == ["abc", "", "ENx", "", "##y", "z", ""])
        #expect(outcomes.map(\.text).joined() == "abcENx##yz")
        #expect(checker.finishReason == .stop(.stopString("END")))
    }

    @Test func stopStringOnTheLastAllowedTokenReportsStop() {
        var checker = Self.checker(maxTokens: 2, stopStrings: ["STOP"])
        let outcomes = Self.feed(&checker, texts: ["a", "bSTOPc"])
        #expect(outcomes.map(\.text) == ["a", "b"])
        #expect(checker.finishReason == .stop(.stopString("STOP")))
    }

    @Test func theStopThatEndsFirstWins() {
        var both = Self.checker(stopStrings: ["abc", "b"])
        #expect(both.append(tokenID: 1, text: "xabc") == StopChecker.Outcome(text: "xa", finishReason: .stop(.stopString("b"))))
        // Same end: the longer one, which starts first, wins.
        var nested = Self.checker(stopStrings: ["c", "bc"])
        #expect(nested.append(tokenID: 1, text: "abcd") == StopChecker.Outcome(text: "a", finishReason: .stop(.stopString("bc"))))
    }

    @Test func multiByteTextIsHeldAndCutOnCharacterBoundaries() {
        var accent = Self.checker(stopStrings: ["é!"])
        #expect(Self.feed(&accent, texts: ["caf", "é", "!"]).map(\.text) == ["caf", "", ""])
        var emoji = Self.checker(stopStrings: ["🙂b"])
        #expect(Self.feed(&emoji, texts: ["a🙂", "🙃", "🙂", "b"]).map(\.text) == ["a", "🙂🙃", "", ""])
        var similar = Self.checker(stopStrings: ["🙂"])
        #expect(similar.append(tokenID: 1, text: "x🙃").text == "x🙃")
    }

    /// Earliest-ending match in the whole text, computed directly: the expected final text.
    static func expectedText(_ text: [UInt8], _ stops: [[UInt8]]) -> (text: [UInt8], stop: Int?) {
        guard !text.isEmpty else { return (text, nil) }
        for end in 1...text.count {
            let matches = stops.indices.filter { stops[$0].count <= end && Array(text[(end - stops[$0].count)..<end]) == stops[$0] }
            if let index = matches.max(by: { stops[$0].count < stops[$1].count }) {
                return (Array(text[..<(end - stops[index].count)]), index)
            }
        }
        return (text, nil)
    }

    @Test func resultDoesNotDependOnHowTheTextIsSplit() {
        var random = SeededGenerator(seed: 2024)
        let alphabet = Array("ab c".utf8)
        func randomString(_ length: Int) -> [UInt8] { (0..<length).map { _ in alphabet[Int(random.next() % 4)] } }
        for _ in 0..<300 {
            let text = randomString(Int(random.next() % 40))
            let stops = (0..<(1 + Int(random.next() % 3))).map { _ in randomString(1 + Int(random.next() % 4)) }
            let stopStrings = stops.map { String(decoding: $0, as: UTF8.self) }
            let expected = Self.expectedText(text, stops)
            // Cut the text at random points into token texts.
            var pieces: [String] = []
            var start = 0
            while start < text.count {
                let length = 1 + Int(random.next() % 5)
                pieces.append(String(decoding: text[start..<min(text.count, start + length)], as: UTF8.self))
                start += length
            }
            var checker = Self.checker(stopStrings: stopStrings)
            var streamed = ""
            for piece in pieces {
                let outcome = checker.append(tokenID: 1, text: piece)
                streamed += outcome.text
                // Never ahead of the final answer: no part of a stop string ever goes out.
                #expect(String(decoding: expected.text, as: UTF8.self).hasPrefix(streamed))
                if outcome.isFinished { break }
            }
            if !checker.isFinished { streamed += checker.finish(.length).text }
            #expect(Array(streamed.utf8) == expected.text, "\(pieces) with \(stopStrings)")
            if let index = expected.stop {
                #expect(checker.finishReason == .stop(.stopString(stopStrings[index])))
            } else {
                #expect(checker.finishReason == .length)
            }
        }
    }
}
