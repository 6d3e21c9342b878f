import ArgumentParser
import Foundation
import KilnBackend
import KilnCPU
import KilnCore
import KilnFormats
import KilnModels
import KilnTokenizer

/// Temporary smoke test of the CPU model path: greedy ids for a prompt.
struct DevForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev-forward", shouldDisplay: false)
    @Argument var model: String
    @Argument var prompt: String
    @Option var tokens = 8

    func run() throws {
        try reportingErrors {
            let checkpoint = try Checkpoint.open(model)
            let tokenizer = try checkpoint.loadTokenizer()
            let ids = tokenizer.encode(prompt)
            let backend = CPUBackend()
            let start = Date()
            let decoder = try DecoderModel(provider: try CheckpointWeights(checkpoint: checkpoint), backend: backend)
            print("load \(Date().timeIntervalSince(start))s, prompt \(ids)")
            let blockSize = 16
            let blocks = (ids.count + tokens + blockSize) / blockSize
            let cache = try backend.makeCache(decoder.cacheShape(blocks: blocks, blockSize: blockSize))
            let table = Array(0..<blocks)
            var logits = decoder.forward(.single(tokens: ids, startPosition: 0, blockTable: table, blockSize: blockSize), cache: cache)[0]
            var output: [Int] = []
            let decodeStart = Date()
            for step in 0..<tokens {
                let next = logits.indices.max { logits[$0] < logits[$1] }!
                output.append(next)
                if step + 1 == tokens { break }
                logits = decoder.forward(.single(tokens: [next], startPosition: ids.count + step, blockTable: table, blockSize: blockSize), cache: cache)[0]
            }
            print("ids \(output)")
            print(tokenizer.decode(output, skipSpecialTokens: false))
            print("decode \(Double(tokens) / Date().timeIntervalSince(decodeStart)) tok/s")
        }
    }
}
