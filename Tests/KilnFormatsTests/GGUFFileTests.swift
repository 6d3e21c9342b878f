import Foundation
import KilnCore
import Testing
@testable import KilnFormats

@Suite struct GGUFFileTests {
    @Test func readsMetadataTensorsAndData() throws {
        let path = TestFiles.write(TestGGUFBuilder.sample(), name: "sample.gguf")
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.architecture == "llama")
        #expect(file.metadata["llama.block_count"]?.intValue == 2)
        #expect(file.metadata["llama.rope.freq_base"]?.doubleValue == 10_000)
        #expect(file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.stringValues == ["a", "b", "ç"])
        #expect(file.metadata["tokenizer.ggml.scores"]?.arrayValue?.floatValues == [0, -1, -2])
        #expect(file.metadataKeys.first == "general.architecture")
        #expect(file.tensors.map(\.name) == ["a", "b"])
        let a = try #require(file.tensorsByName["a"])
        #expect(a.dimensions == [2, 4])
        #expect(a.rowMajorShape == [4, 2])
        #expect(try file.dequantized(a) == (0..<8).map(Float.init))
        let b = try #require(file.tensorsByName["b"])
        #expect(b.type == .q8_0)
        #expect(b.byteCount == 34)
        #expect(try file.dequantized(b) == (-16..<16).map { Float($0) * 0.5 })
    }

    @Test func rejectsBadMagicAndVersion() throws {
        var bytes = TestGGUFBuilder.sample()
        bytes[0] = 0x58
        #expect(throws: KilnError.self) { try GGUFFile(path: TestFiles.write(bytes)) }
        do {
            _ = try GGUFFile(path: TestFiles.write(bytes, name: "bad.gguf"))
        } catch let error as KilnError {
            #expect(error.description.contains("bad.gguf"))
            #expect(error.description.contains("bad magic"))
        }
        bytes = TestGGUFBuilder.sample()
        bytes[4] = 9
        #expect(throws: KilnError.self) { try GGUFFile(path: TestFiles.write(bytes)) }
    }

    @Test func everyTruncationIsAnError() throws {
        let bytes = TestGGUFBuilder.sample()
        // Every prefix shorter than the whole file must throw (tensor data is checked too).
        for length in 0..<bytes.count {
            let path = TestFiles.write(Array(bytes[0..<length]))
            #expect(throws: KilnError.self, "prefix of \(length) bytes") { try GGUFFile(path: path) }
        }
    }

    /// Fuzz: flipping random bits of a valid file gives a `KilnError` or a file whose tensors
    /// all lie inside it — never a crash, a hang or a huge allocation.
    @Test func bitFlipsNeverCrash() throws {
        let original = TestGGUFBuilder.sample()
        var generator = SplitMix64(seed: 42)
        let directory = TestFiles.temporaryDirectory()
        for trial in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = Int(generator.next() % UInt64(bytes.count - 40)) // header region
                bytes[position] ^= UInt8(1 << (generator.next() % 8))
            }
            let path = directory + "/fuzz-\(trial % 8).gguf"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            do {
                let file = try GGUFFile(path: path)
                for tensor in file.tensors {
                    #expect(tensor.fileOffset + tensor.byteCount <= bytes.count)
                    if tensor.type.canDequantize { _ = try file.dequantized(tensor) }
                }
            } catch is KilnError {
                // expected for most flips
            }
        }
    }

    @Test func realModelsLoad() throws {
        let expectations: [(String, String, Int)] = [
            ("smollm2-135m-instruct-q4_1.gguf", "llama", 30),
            ("gemma-3-270m-q4_k_m.gguf", "gemma3", 18),
            ("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen2", 28),
        ]
        for (name, architecture, layers) in expectations {
            guard let path = TestFiles.model(name) else { continue }
            let file = try GGUFFile(path: path)
            #expect(file.architecture == architecture)
            let config = try file.modelConfig()
            #expect(config.layerCount == layers)
            // Spot-check the smallest quantised tensor (debug builds dequantise slowly).
            let quantised = try #require(file.tensors.filter { $0.type != .f32 }.min { $0.elementCount < $1.elementCount })
            let values = try file.dequantized(quantised)
            #expect(values.count == quantised.elementCount)
            #expect(values.allSatisfy { $0.isFinite })
        }
    }
}

/// A small deterministic generator for fuzzing (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
