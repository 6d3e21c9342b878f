import Testing
import KilnBackend
@testable import KilnCUDA

/// When decode attention forms its own input (GPU-free): bf16 decode batches whose rows bring
/// their sequences' newest tokens, tuned head sizes, at most headDim / 2 rotated pairs.
@Suite struct FusedDecodeInputRuleTests {
    let gemma = AttentionParameters(heads: 8, kvHeads: 1, headDim: 256, scale: 1 / 16, slidingWindow: nil, softcap: nil)

    /// `rows` sequences, each decoding one token at the end of a context of `contexts[i]` tokens.
    func decode(_ contexts: [Int], positionShift: Int = 0) -> ForwardBatch {
        ForwardBatch(tokens: contexts.map { _ in 0 }, positions: contexts.map { $0 - 1 + positionShift },
                     slots: contexts.indices.map { $0 }, sequences: contexts.indices.map {
                         .init(tokenStart: $0, tokenCount: 1, contextLength: contexts[$0], blockTable: [$0])
                     }, logitRows: Array(contexts.indices))
    }

    @Test func decodeBatchesOfBF16Fuse() {
        #expect(CUDABackend.fusesDecodeInput(decode([5, 300, 1]), parameters: gemma, pairs: 128, elementType: .bf16))
        #expect(!CUDABackend.fusesDecodeInput(decode([5, 300]), parameters: gemma, pairs: 128, elementType: .f32))
    }

    @Test func otherShapesDoNot() {
        // A row that is not its sequence's newest token (its key would not be the last one seen).
        #expect(!CUDABackend.fusesDecodeInput(decode([5, 300], positionShift: -1), parameters: gemma, pairs: 128, elementType: .bf16))
        // A prefill batch: several tokens of one sequence.
        let prefill = ForwardBatch(tokens: [0, 0, 0], positions: [0, 1, 2], slots: [0, 1, 2],
                                   sequences: [.init(tokenStart: 0, tokenCount: 3, contextLength: 3, blockTable: [0])], logitRows: [2])
        #expect(!CUDABackend.fusesDecodeInput(prefill, parameters: gemma, pairs: 128, elementType: .bf16))
        // Head size without a tuned kernel; more rotated pairs than half a head.
        let odd = AttentionParameters(heads: 4, kvHeads: 2, headDim: 96, scale: 1, slidingWindow: nil, softcap: nil)
        #expect(!CUDABackend.fusesDecodeInput(decode([5]), parameters: odd, pairs: 48, elementType: .bf16))
        #expect(!CUDABackend.fusesDecodeInput(decode([5]), parameters: gemma, pairs: 129, elementType: .bf16))
    }

    @Test func profileSkipNamesParse() {
        #expect(ProfileSkip.fromEnvironment(["KILN_PROFILE_SKIP": "norm, attention,unknown,gate-up"]) == [.norm, .attention, .gateUp])
        #expect(ProfileSkip.fromEnvironment([:]).isEmpty)
        #expect(ProfileSkip.product(2560 * 2048) == .smallProduct)
        #expect(ProfileSkip.product(2048 * 16384) == .mediumProduct)
        #expect(ProfileSkip.product(256_000 * 2048) == .largeProduct)
    }
}
