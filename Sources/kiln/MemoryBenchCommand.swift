import ArgumentParser
import Foundation
import KilnCore
import KilnCUDA

/// `kiln bench memory`: the GPU's device-memory read ceiling (MemoryBench), the floor every
/// memory-bound figure is judged against. Prints, for each size, the best launch shapes and the
/// driver's copy rate for comparison.
struct MemoryBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory", abstract: "Device-memory read rate: plain read kernels over many launch shapes, and the copy rate.")

    @Option(help: "Comma-separated buffer sizes in MiB (default: Gemma-2B's LM head, gate/up, down and qkv weights).")
    var sizes = "1000,128,64,10"
    @Option(help: "Timed batches a shape (median reported).") var batches = 5
    @Option(help: "Best shapes printed a size.") var top = 8
    @Option(help: "GPU ordinal.") var device = 0

    func run() throws {
        try reportingErrors {
            let sizes = try self.sizes.split(separator: ",").map { text -> Int in
                guard let mebibytes = Double(text.trimmingCharacters(in: .whitespaces)), mebibytes * 1_048_576 >= 16 else {
                    throw KilnError.invalidArgument("--sizes: '\(text)' is not a number of MiB of at least 16 bytes")
                }
                return Int(mebibytes * 1_048_576) / 16 * 16
            }
            let runtime = try CUDARuntime(ordinal: device)
            print("\(runtime.device.name): \(runtime.device.multiprocessors) SMs, L2 \(runtime.device.l2CacheBytes >> 20) MiB")
            let bench = try MemoryBench(runtime: runtime)
            for bytes in sizes {
                let copyMicroseconds = try bench.measureCopy(bytes: bytes, batches: batches)
                let results = try bench.measureReads(bytes: bytes, configurations: MemoryBench.Configuration.standard, batches: batches)
                    .sorted { $0.microseconds < $1.microseconds }
                let copies = MemoryBench.copies(bytes: bytes, l2Bytes: runtime.device.l2CacheBytes)
                print(String(format: "\n%.1f MiB (%d buffers in turn): driver copy %.1f us = %.3f TB/s read + write",
                             Double(bytes) / 1_048_576, copies, copyMicroseconds, 2 * Double(bytes) / copyMicroseconds / 1e6))
                for result in results.prefix(max(1, top)) {
                    print(String(format: "  read %8.1f us  %.3f TB/s  ", result.microseconds, result.teraBytesPerSecond) + result.configuration.description)
                }
                // The best of each order and load, so that the spread between them shows.
                for order in MemoryBench.Order.allCases {
                    for flavour in MemoryBench.flavours.indices {
                        guard let best = results.first(where: { $0.configuration.order == order && $0.configuration.flavour == flavour }) else { continue }
                        print(String(format: "  best %@ %@: %.3f TB/s (", order.rawValue, MemoryBench.flavours[flavour], best.teraBytesPerSecond)
                              + best.configuration.description + ")")
                    }
                }
            }
        }
    }
}
