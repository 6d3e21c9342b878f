import ArgumentParser
import Foundation
import KilnCore
import KilnFormats

/// `kiln bench ...`: measurement programs (not timed tests). Results belong in bench/results/.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Kiln's speed.", subcommands: [DequantBench.self, LatencyBench.self, StaticBench.self, MemoryBenchCommand.self])
}

/// `kiln bench dequant`: CPU dequantisation speed per ggml type, GB/s of quantised input and of
/// fp32 output (best of several runs over a buffer far larger than the caches).
struct DequantBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dequant", abstract: "CPU dequantisation throughput per ggml type.")

    @Option(help: "Comma-separated ggml type names.")
    var types = "Q4_0,Q4_1,Q5_0,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,BF16,F16"

    @Option(help: "Elements per run (default 64 Mi).")
    var elements = 64 << 20

    @Flag(help: "Use all cores.")
    var parallel = false

    func run() throws {
        try reportingErrors {
            print("type    input GB/s  output GB/s  (\(elements) elements, \(parallel ? "all cores" : "one core"))")
            for name in types.split(separator: ",") {
                guard let type = GGMLType.allCases.first(where: { $0.name == name.trimmingCharacters(in: .whitespaces) }) else {
                    throw KilnError.invalidArgument("unknown ggml type '\(name)'")
                }
                let result = try GGMLDequantizer.measureThroughput(type: type, elements: elements, parallel: parallel)
                print(type.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                      + String(format: "%10.2f  %11.2f", result.inputGBPerSecond, result.outputGBPerSecond))
            }
        }
    }
}
