import Foundation
import KilnCore
import Testing
@testable import KilnFormats

@Suite struct SafetensorsTests {
    /// One tensor of every dtype real checkpoints use, with known values.
    static func sampleEntries() -> [SafetensorsWriter.Entry] {
        [
            .init(name: "f32", shape: [2, 3], floats: [1, -2, 3.5, 0, 1e-3, -7]),
            .init(name: "f16", dtype: .f16, shape: [3], bytes: [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]), // 1, -2, 0.5
            .init(name: "bf16", dtype: .bf16, shape: [2], bytes: [0x80, 0x3F, 0x40, 0xC0]), // 1, -3
            .init(name: "f8", dtype: .f8e4m3, shape: [3], bytes: [0x38, 0xC0, 0x7E]), // 1, -2, 448
            .init(name: "i8", dtype: .i8, shape: [2], bytes: [0x7F, 0x80]), // 127, -128
            .init(name: "u8", dtype: .u8, shape: [2], bytes: [0xFF, 0x01]),
            .init(name: "i32", dtype: .i32, shape: [1], bytes: [0xFE, 0xFF, 0xFF, 0xFF]), // -2
        ]
    }

    static let expected: [String: [Float]] = [
        "f32": [1, -2, 3.5, 0, 1e-3, -7], "f16": [1, -2, 0.5], "bf16": [1, -3], "f8": [1, -2, 448],
        "i8": [127, -128], "u8": [255, 1], "i32": [-2],
    ]

    @Test func roundTripsEveryDType() throws {
        let directory = TestFiles.temporaryDirectory()
        try SafetensorsWriter.write(Self.sampleEntries(), to: directory + "/model.safetensors", metadata: ["format": "pt"])
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        #expect(checkpoint.files.first?.metadata == ["format": "pt"])
        for (name, values) in Self.expected {
            #expect(try checkpoint.floats(name) == values, "\(name)")
        }
        #expect(checkpoint.tensor("f32")?.shape == [2, 3])
        #expect(checkpoint.tensor("bf16")?.dtype == .bf16)
    }

    @Test func readsShardedCheckpoints() throws {
        let directory = TestFiles.temporaryDirectory()
        let entries = Self.sampleEntries()
        try SafetensorsWriter.write(Array(entries[0..<3]), to: directory + "/model-00001-of-00002.safetensors")
        try SafetensorsWriter.write(Array(entries[3...]), to: directory + "/model-00002-of-00002.safetensors")
        var map: [String: String] = [:]
        for (index, entry) in entries.enumerated() {
            map[entry.name] = index < 3 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": [:], "weight_map": map])
        _ = FileManager.default.createFile(atPath: directory + "/model.safetensors.index.json", contents: index)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        #expect(checkpoint.files.count == 2)
        #expect(checkpoint.tensors.count == entries.count)
        for (name, values) in Self.expected { #expect(try checkpoint.floats(name) == values) }

        // A shard named by the index but absent is a clear error naming it.
        try FileManager.default.removeItem(atPath: directory + "/model-00002-of-00002.safetensors")
        #expect {
            try SafetensorsCheckpoint(directory: directory)
        } throws: { error in
            "\(error)".contains("model-00002-of-00002.safetensors") && "\(error)".contains("missing")
        }
    }

    @Test func reportsBadFilesClearly() throws {
        let good = try SafetensorsWriter.encode(Self.sampleEntries())
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try SafetensorsFile(path: TestFiles.write(bytes, name: "w.safetensors")); return "no error" }
            catch { return "\(error)" }
        }
        #expect(message([1, 2, 3]).contains("truncated"))
        #expect(message(Array(good.prefix(good.count - 1))).contains("out of bounds"))
        var unknown = good
        let headerSize = good[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        let header = String(decoding: good[8..<8 + headerSize], as: UTF8.self)
        let replaced = Array(header.replacingOccurrences(of: "\"I32\"", with: "\"Q99\"").utf8)
        unknown.replaceSubrange(8..<8 + replaced.count, with: replaced)
        #expect(message(unknown).contains("unknown dtype 'Q99'"))
        var huge = good
        huge[7] = 0x7F
        #expect(message(huge).contains("header size"))
        #expect(message(good).contains("no error"))
    }

    @Test func truncationsAndBitFlipsNeverCrash() throws {
        let good = try SafetensorsWriter.encode(Self.sampleEntries())
        let directory = TestFiles.temporaryDirectory()
        for length in 0..<good.count {
            let path = directory + "/t.safetensors"
            _ = FileManager.default.createFile(atPath: path, contents: Data(good[0..<length]))
            #expect(throws: KilnError.self) { try SafetensorsFile(path: path) }
        }
        var generator = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var bytes = good
            let position = Int(generator.next() % UInt64(bytes.count))
            bytes[position] ^= UInt8(1 << (generator.next() % 8))
            let path = directory + "/f.safetensors"
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            if let file = try? SafetensorsFile(path: path) {
                for tensor in file.tensors.values {
                    #expect(tensor.fileOffset + tensor.byteCount <= bytes.count)
                }
            }
        }
    }
}
