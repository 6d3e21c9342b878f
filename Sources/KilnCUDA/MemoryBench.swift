import Foundation
import KilnCore

/// `kiln bench memory`: how fast this GPU reads device memory, measured with membench.cu's plain
/// read kernels over many launch shapes, so that a memory-bound kernel (the decode GEMVs) can be
/// judged against the best read the card does rather than against a copy. Also times the
/// driver's device-to-device copy (bytes read + bytes written), the usual reference.
///
/// Every launch reads a buffer the one before it did not, and the buffers together span at least
/// four times the L2 cache, so the reads come from DRAM. Launches are timed in back-to-back
/// batches (one per buffer, between two events), so the figure includes the gap between kernels
/// that a chain of products in a CUDA graph also pays; the median batch is reported.
public final class MemoryBench {
    /// The three read orders of membench.cu.
    public enum Order: String, CaseIterable, Sendable {
        /// Grid-stride over the whole buffer (a persistent grid).
        case grid
        /// One contiguous chunk a block, in order.
        case chunk
        /// A 16-row tile a block in the GEMV's order (chunkBytes = bytes a row).
        case tile
    }

    /// The load instructions of membench.cu (`_f0`, `_f1`, `_f2`).
    public static let flavours = ["nc.L1::no_allocate.L2::256B", "nc", "cs"]
    /// 16-byte loads a thread has in flight.
    public static let unrolls = [1, 2, 4, 8]

    /// Every kernel of membench.cu.
    public static let kernelNames: [String] = Order.allCases.flatMap { order in
        unrolls.flatMap { unroll in flavours.indices.map { "membench_\(order.rawValue)_u\(unroll)_f\($0)" } }
    }

    /// One launch shape.
    public struct Configuration: Hashable, Sendable, CustomStringConvertible {
        public var order: Order
        public var unroll: Int
        public var flavour: Int
        public var threads: Int
        /// Grid order: blocks an SM.
        public var blocksPerMultiprocessor: Int
        /// Chunk order: bytes a block. Tile order: bytes a row (the tile is 16 rows).
        public var chunkBytes: Int

        public var kernelName: String { "membench_\(order.rawValue)_u\(unroll)_f\(flavour)" }

        public var description: String {
            let shape: String
            switch order {
            case .grid: shape = "\(blocksPerMultiprocessor) blocks/SM"
            case .chunk: shape = "\(chunkBytes >> 10) KiB/block"
            case .tile: shape = "16 rows of \(chunkBytes) B/block"
            }
            return "\(order.rawValue) u\(unroll) \(MemoryBench.flavours[flavour]) \(threads) thr \(shape)"
        }

        /// The shapes `kiln bench memory` tries: grid order at 256-1024 threads and 1-8 blocks an
        /// SM (at most 2,048 threads an SM), chunk order at 128-512 threads and 16-256 KiB a
        /// block, tile order (Gemma-2B's 4,096-byte rows) at 128 and 256 threads; each with every
        /// unroll and load.
        public static let standard: [Configuration] = {
            var shapes: [(Order, Int, Int, Int)] = []
            for (threads, blocks) in [(256, 1), (256, 2), (256, 4), (256, 8), (512, 1), (512, 2), (512, 4), (1024, 1), (1024, 2)] {
                shapes.append((.grid, threads, blocks, 0))
            }
            for threads in [128, 256, 512] {
                for chunk in [16 << 10, 64 << 10, 256 << 10] { shapes.append((.chunk, threads, 0, chunk)) }
            }
            for threads in [128, 256] { shapes.append((.tile, threads, 0, 4096)) }
            return shapes.flatMap { order, threads, blocks, chunk in
                MemoryBench.unrolls.flatMap { unroll in
                    MemoryBench.flavours.indices.map { flavour in
                        Configuration(order: order, unroll: unroll, flavour: flavour, threads: threads,
                                      blocksPerMultiprocessor: blocks, chunkBytes: chunk)
                    }
                }
            }
        }()
    }

    /// One shape's median over the timed batches.
    public struct Result: Sendable {
        public let configuration: Configuration
        /// Bytes one launch reads.
        public let bytes: Int
        /// Median microseconds a launch (batch time over launches).
        public let microseconds: Double
        /// Bytes over time, 10^12 bytes a second.
        public var teraBytesPerSecond: Double { Double(bytes) / microseconds / 1e6 }
    }

    let runtime: CUDARuntime
    let stream: CUDAStream

    public init(runtime: CUDARuntime) throws {
        self.runtime = runtime
        stream = try CUDAStream(device: runtime.device)
    }

    /// How many buffers of `bytes` make at least four L2 caches (two at least).
    public static func copies(bytes: Int, l2Bytes: Int) -> Int {
        max(2, (4 * max(l2Bytes, 1) + bytes - 1) / bytes)
    }

    /// Times every configuration reading buffers of `bytes` (a multiple of 16): `batches` timed
    /// batches after one warm batch. Results in the order given.
    public func measureReads(bytes: Int, configurations: [Configuration], batches: Int) throws -> [Result] {
        guard bytes >= 16, bytes % 16 == 0 else {
            throw KilnError.invalidArgument("bench memory: \(bytes) bytes is not a positive multiple of 16")
        }
        let buffers = try allocateBuffers(bytes: bytes)
        let sink = try runtime.allocator.allocate(byteCount: 8)
        try stream.fill(sink, byte: 0)
        let start = try CUDAEvent(device: runtime.device)
        let end = try CUDAEvent(device: runtime.device)
        let words = bytes / 16
        var results: [Result] = []
        for configuration in configurations {
            let function = try runtime.kernels.function(configuration.kernelName)
            let grid: Int
            switch configuration.order {
            case .grid: grid = configuration.blocksPerMultiprocessor * runtime.device.multiprocessors
            case .chunk: grid = (bytes + configuration.chunkBytes - 1) / configuration.chunkBytes
            case .tile:
                // Whole tiles only (the kernel skips a partial one); the rate counts what is read.
                grid = bytes / (16 * configuration.chunkBytes)
                guard grid > 0, configuration.chunkBytes % (64 * configuration.unroll) == 0 else { continue }
            }
            func batch() throws {
                for buffer in buffers {
                    var arguments = KernelArguments()
                    arguments.pointer(buffer)
                    arguments.int64(words)
                    arguments.int64(configuration.chunkBytes / 16)
                    arguments.pointer(sink)
                    try stream.launch(function, grid: (grid, 1, 1), block: (configuration.threads, 1, 1), arguments: arguments)
                }
            }
            try batch()
            var times: [Double] = []
            for _ in 0..<max(1, batches) {
                try start.record(on: stream)
                try batch()
                try end.record(on: stream)
                try end.synchronize()
                times.append(Double(try end.milliseconds(since: start)) * 1000 / Double(buffers.count))
            }
            let read = configuration.order == .tile ? grid * 16 * configuration.chunkBytes : bytes
            results.append(Result(configuration: configuration, bytes: read, microseconds: Self.median(times)))
        }
        return results
    }

    /// The driver's device-to-device copy of `bytes` between two buffers: median microseconds of
    /// `batches` timed copies after a warm one. Rate = 2 · bytes / time (read + write).
    public func measureCopy(bytes: Int, batches: Int) throws -> Double {
        let source = try runtime.allocator.allocate(byteCount: bytes)
        let destination = try runtime.allocator.allocate(byteCount: bytes)
        try stream.fill(source, byte: 0x5A)
        let start = try CUDAEvent(device: runtime.device)
        let end = try CUDAEvent(device: runtime.device)
        try stream.copy(from: source, to: destination, byteCount: bytes)
        var times: [Double] = []
        for _ in 0..<max(1, batches) {
            try start.record(on: stream)
            try stream.copy(from: source, to: destination, byteCount: bytes)
            try end.record(on: stream)
            try end.synchronize()
            times.append(Double(try end.milliseconds(since: start)) * 1000)
        }
        return Self.median(times)
    }

    private func allocateBuffers(bytes: Int) throws -> [DeviceBuffer] {
        let count = Self.copies(bytes: bytes, l2Bytes: runtime.device.l2CacheBytes)
        let needed = count * bytes
        guard needed <= runtime.device.totalMemory / 2 else {
            throw KilnError.invalidArgument("bench memory: \(count) buffers of \(bytes >> 20) MiB need \(needed >> 20) MiB, "
                                            + "over half of the GPU's \(runtime.device.totalMemory >> 20) MiB; choose a smaller size")
        }
        return try (0..<count).map { _ in
            let buffer = try runtime.allocator.allocate(byteCount: bytes)
            // Any fill folds to a value with x ^ y ^ z ^ w == 0, never membench.cu's constant.
            try stream.fill(buffer, byte: 0x5A)
            return buffer
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
