import Foundation
import KilnBackend
import KilnCore

/// Matrix products: Kiln's GEMV kernels (gemv.cu, README-gemv.md) for decode-sized bf16 batches
/// (1...8 rows), cuBLASLt for everything larger, the reference kernel when cuBLASLt is missing.
extension CUDABackend {
    /// Most activation rows the GEMV kernels take.
    static let gemvMaximumRows = 8

    public func linear(_ x: DeviceTensor, weight: CUDAWeight, bias: CUDAWeight?, into out: DeviceTensor) throws {
        precondition(x.columns == weight.columns && out.columns == weight.rows && out.rows == x.rows,
                     "linear: x [\(x.rows), \(x.columns)] · w [\(weight.rows), \(weight.columns)] -> out [\(out.rows), \(out.columns)]")
        guard x.rows > 0, weight.rows > 0 else { return }
        if usesGEMV(x, weight: weight) {
            if profileSkips.contains(ProfileSkip.product(weight.rows * weight.columns)) { return }
            try gemv(x, weight: weight, bias: bias?.buffer, tileRows: 16, outputs: weight.rows, out: out,
                     kernel: out.elementType == .bf16 ? "gemv_bf16" : "gemv_bf16_f32")
            return
        }
        // cuBLASLt, when it is there and takes the operand types.
        let library: (() throws -> Void)? = matmul.flatMap { matmul in
            guard weight.elementType == x.elementType else { return nil }
            let matrix = DeviceTensor(buffer: weight.buffer, rows: weight.rows, columns: weight.columns, elementType: weight.elementType)
            let biasBuffer = out.elementType == .bf16 ? bias?.bf16Copy : bias?.buffer
            return { try matmul.linear(x: x, weight: matrix, bias: biasBuffer, out: out, on: self.stream) }
        }
        // The skinny kernel where it is timed faster than the library (or forced, by checks, also
        // without cuBLASLt).
        if usesSkinnyGEMM(x, weight: weight), library != nil || forcedSkinnyChoice != nil,
           try skinnyProduct(x, weight: weight, bias: bias?.buffer, outputs: weight.rows, gated: false, out: out,
                             kernel: out.elementType == .bf16 ? "skinny_gemm_bf16" : "skinny_gemm_bf16_f32", library: library ?? {}) {
            return
        }
        if let library {
            try library()
            return
        }
        guard x.elementType == .f32 else {
            throw KilnError.unsupported(path: name, reason: "a \(x.elementType) product without cuBLASLt (install libcublasLt, e.g. pip install nvidia-cublas)")
        }
        var arguments = KernelArguments()
        arguments.pointer(x.buffer)
        arguments.pointer(weight.buffer)
        arguments.pointer(bias?.buffer)
        arguments.pointer(out.buffer)
        arguments.int32(x.rows)
        arguments.int32(weight.rows)
        arguments.int32(x.columns)
        try stream.launch(try kernels.function("linear_reference_\(weight.elementType.suffix)"),
                          grid: ((weight.rows + 7) / 8, x.rows, 1), block: (256, 1, 1), arguments: arguments)
    }

    /// out = act(gate) * up from a `[2 * mlp, in]` gate/up weight: one fused GEMV for decode
    /// batches (the `[rows, 2 * mlp]` intermediate never reaches memory), else one product into
    /// a scratch tensor and the gated kernel reading its two halves.
    public func gatedLinear(_ x: DeviceTensor, gateUp: CUDAWeight, activation: GateActivation, into out: DeviceTensor) throws {
        let mlp = out.columns
        precondition(gateUp.rows == 2 * mlp && gateUp.columns == x.columns && out.rows == x.rows && out.elementType == x.elementType,
                     "gatedLinear: x [\(x.rows), \(x.columns)] · gate/up [\(gateUp.rows), \(gateUp.columns)] -> out [\(out.rows), \(out.columns)]")
        guard x.rows > 0, mlp > 0 else { return }
        let act = activation == .silu ? "silu" : "gelu"
        if usesGEMV(x, weight: gateUp), out.elementType == .bf16 {
            if profileSkips.contains(.gateUp) { return }
            try gemv(x, weight: gateUp, bias: nil, tileRows: 8, outputs: mlp, out: out, kernel: "gemv_gateup_\(act)_bf16")
            return
        }
        let library = { try self.unfusedGatedLinear(x, gateUp: gateUp, activation: activation, into: out) }
        if usesSkinnyGEMM(x, weight: gateUp), out.elementType == .bf16, matmul != nil || forcedSkinnyChoice != nil,
           try skinnyProduct(x, weight: gateUp, bias: nil, outputs: mlp, gated: true, out: out,
                             kernel: "skinny_gemm_gateup_\(act)_bf16", library: library) {
            return
        }
        try library()
    }

    /// The gated product as two launches: the product into a `[rows, 2 * mlp]` scratch tensor,
    /// then the gated kernel over its halves.
    func unfusedGatedLinear(_ x: DeviceTensor, gateUp: CUDAWeight, activation: GateActivation, into out: DeviceTensor) throws {
        let mlp = out.columns
        let both = try makeTensor(rows: x.rows, columns: 2 * mlp)
        try linear(x, weight: gateUp, bias: nil, into: both)
        var arguments = KernelArguments()
        arguments.pointer(both.buffer)
        arguments.address(both.buffer.address + CUdeviceptr(mlp * both.elementType.byteSize))
        arguments.pointer(out.buffer)
        arguments.int32(x.rows)
        arguments.int32(mlp)
        arguments.int32(2 * mlp)
        arguments.int32(2 * mlp)
        arguments.int32(out.columns)
        let kernel = activation == .silu ? "gated_silu" : "gated_gelu_tanh"
        try stream.launch(try kernels.function("\(kernel)_\(out.elementType.suffix)"), grid: CUDAKernels.gatedGrid(rows: x.rows, columns: mlp),
                          block: (256, 1, 1), arguments: arguments)
    }

    /// Whether the GEMV kernels take this product (README-gemv.md: bf16, K and the row stride
    /// multiples of 8, at most 8 rows).
    func usesGEMV(_ x: DeviceTensor, weight: CUDAWeight) -> Bool {
        x.elementType == .bf16 && weight.elementType == .bf16 && x.rows <= Self.gemvMaximumRows
            && x.columns % 8 == 0 && weight.columns % 8 == 0
    }

    /// One GEMV launch in the configuration chosen for its shape: forced (a check's
    /// `forcedGEMVChoice`, `KILN_GEMV_FORCE`), fixed for matrices that fit in L2
    /// (`untimedGEMVChoice`), or timed fastest (the first call of a larger shape outside a
    /// recording times the one- and eight-chunk kernels at 128 and 256 threads, at batch 1 also the
    /// row-streaming kernels (`GEMVChoice.streamCandidates`), and split-K for matrices of few
    /// tiles, a few launches each, and keeps the winner; until then, or with tuning
    /// off, the H200 rule of README-gemv.md: one chunk for matrices of many tiles, eight for the rest).
    func gemv(_ x: DeviceTensor, weight: CUDAWeight, bias: DeviceBuffer?, tileRows: Int, outputs: Int, out: DeviceTensor,
              kernel: String) throws {
        let tiles = (outputs + tileRows - 1) / tileRows
        let key = GEMVKey(kernel: kernel, outputs: outputs, inputs: x.columns, rows: x.rows)
        let arguments = productArguments(x, weight: weight, bias: bias, takesBias: tileRows == 16, outputs: outputs, out: out)
        // Split-K scratch (README-gemv.md): fp32 workspace [tiles][splits][32] float4 and one
        // counter a tile, zeroed once and left zero by every launch; made outside recordings.
        let scratch = try gemvSplitScratch(tiles: tiles)
        let streams = x.rows == 1
        func launch(_ choice: GEMVChoice) throws {
            var launchArguments = arguments
            if let unroll = choice.streamUnroll {
                // gemv_stream.cu (batch 1 only; callers offer it only then).
                precondition(streams, "\(kernel)\(choice.suffix): the row-streaming GEMV takes one row, not \(x.rows)")
                precondition([64, 128, 256, 512].contains(choice.threads),
                             "\(kernel)\(choice.suffix): the row-streaming GEMV takes 64-512 threads, a power of two, not \(choice.threads)")
                launchArguments.pointer(nil)
                launchArguments.pointer(nil)
                let layout = Self.streamGEMVLayout(outputs: outputs, inputs: x.columns, gated: tileRows == 8, threads: choice.threads,
                                                   unroll: unroll)
                try stream.launch(try kernels.function(kernel + choice.suffix), grid: (layout.blocks, 1, 1),
                                  block: (choice.threads, 1, 1), arguments: launchArguments)
                streamGEMVLaunches.withLock { $0 += 1 }
                return
            }
            let split = choice.splits > 1 && scratch != nil
            launchArguments.pointer(split ? scratch?.workspace : nil)
            launchArguments.pointer(split ? scratch?.counters : nil)
            try stream.launch(try kernels.function(kernel + choice.suffix), grid: (tiles, split ? choice.splits : 1, 1),
                              block: (choice.threads, 1, 1), arguments: launchArguments)
        }
        // A forced row-streaming choice applies to batch-1 products only (checks force it on those).
        if let forced = forcedGEMVChoice, forced.streamUnroll == nil || streams {
            try launch(forced)
            return
        }
        if let choice = gemvChoices.withLock({ $0[key] }) {
            try launch(choice)
            return
        }
        let processors = runtime.device.multiprocessors
        if !Self.forcedGEMVShapes.isEmpty, let forced = Self.forcedGEMVShapes["\(outputs)x\(x.columns)"], forced.streamUnroll == nil || streams {
            gemvChoices.withLock { $0[key] = forced }
            try launch(forced)
            return
        }
        // A matrix that fits in L2 is timed from L2 (the candidates rerun the same weights), not
        // as a decode step reads it (from memory, its loads issued before the previous kernel ends):
        // the timing picked eight chunks at 128 threads for Gemma-2B's qkv and o (6.8 / 6.3 us),
        // while one chunk at 256 threads made the batch-1 step faster (H100, three alternating
        // pairs: 488.7 against 478.3-478.7 tokens/s). Such matrices take that configuration untimed,
        // with tuning on or off (measured at batch 1 only; the same for 2-8 rows until measured).
        if let fixed = Self.untimedGEMVChoice(weightBytes: weight.rows * weight.columns * 2) {
            if tunesGEMV { gemvChoices.withLock { $0[key] = fixed } }
            try launch(fixed)
            return
        }
        let rule = GEMVChoice(suffix: tiles >= 4 * processors ? "_c1" : "", threads: tiles >= 32 * processors ? 128 : 256, splits: 1)
        guard tunesGEMV, recording == nil, stream.profiler == nil else {
            try launch(rule)
            return
        }
        // Time the candidates (the output is rewritten by the last launch below).
        let start = try CUDAEvent(device: runtime.device), end = try CUDAEvent(device: runtime.device)
        var best = rule, bestTime = Double.infinity
        var candidates = [GEMVChoice(suffix: "", threads: 256, splits: 1), GEMVChoice(suffix: "", threads: 128, splits: 1),
                          GEMVChoice(suffix: "_c1", threads: 256, splits: 1), GEMVChoice(suffix: "_c1", threads: 128, splits: 1)]
        // Batch 1: the row-streaming kernels (gemv_stream.cu), whose loads cover 512 contiguous
        // bytes of a row each.
        if streams {
            candidates += GEMVChoice.streamCandidates
        }
        // Matrices of few tiles (qkv, o, down of a 2B model: 128-160 tiles on 132 SMs) may gain
        // from cutting K so that more blocks pull weights at once.
        if scratch != nil && tiles <= 2 * processors {
            candidates += [GEMVChoice(suffix: "", threads: 128, splits: 2), GEMVChoice(suffix: "_c1", threads: 256, splits: 2),
                           GEMVChoice(suffix: "_c1", threads: 256, splits: 4), GEMVChoice(suffix: "", threads: 128, splits: 4),
                           GEMVChoice(suffix: "_c1", threads: 256, splits: 8), GEMVChoice(suffix: "_c1", threads: 128, splits: 8),
                           GEMVChoice(suffix: "", threads: 128, splits: 8), GEMVChoice(suffix: "_c1", threads: 256, splits: 16)]
        }
        for candidate in candidates {
            try launch(candidate)
            var times: [Double] = []
            for _ in 0..<3 {
                try start.record(on: stream)
                try launch(candidate)
                try end.record(on: stream)
                try end.synchronize()
                times.append(Double(try end.milliseconds(since: start)))
            }
            if let fastest = times.min(), fastest < bestTime {
                bestTime = fastest
                best = candidate
            }
        }
        gemvChoices.withLock { $0[key] = best }
        if ProcessInfo.processInfo.environment["KILN_GEMV_LOG"] == "1" {
            FileHandle.standardError.write(Data("gemv \(kernel) N \(outputs) K \(x.columns) rows \(x.rows): \(best.label) \(best.threads) threads, \(best.splits) splits, \(String(format: "%.1f", bestTime * 1000)) us\n".utf8))
        }
        try launch(best)
    }
}

extension CUDABackend {
    /// The leading parameters the GEMV (gemv.cu) and skinny-GEMM (skinny_gemm.cu) kernels share:
    /// W, x, the bias when the kernel takes one (`takesBias`; a nil bias passes a null pointer),
    /// y, N, K, the rows of x, then the row strides of x and y (README-gemv.md, README-skinny-gemm.md).
    func productArguments(_ x: DeviceTensor, weight: CUDAWeight, bias: DeviceBuffer?, takesBias: Bool, outputs: Int,
                          out: DeviceTensor) -> KernelArguments {
        var arguments = KernelArguments()
        arguments.pointer(weight.buffer)
        arguments.pointer(x.buffer)
        if takesBias { arguments.pointer(bias) }
        arguments.pointer(out.buffer)
        arguments.int32(outputs)
        arguments.int32(x.columns)
        arguments.int32(x.rows)
        arguments.int32(x.columns)
        arguments.int32(out.columns)
        return arguments
    }

    /// Weight bytes up to which a GEMV shape takes one chunk at 256 threads untimed (`gemv`): 16 MiB,
    /// well inside the L2 of the GPUs Kiln targets (40 MB A100, 50 MB H100).
    static let gemvUntimedBytes = 16 << 20

    /// `KILN_GEMV_FORCE=NxK=c8|c1|rs2|rs4|rs8:THREADS:SPLITS,...`: the configuration of the GEMVs of those
    /// shapes (N outputs, K inputs) instead of the rule or timing, for A/B runs of a choice inside
    /// the real step (e.g. 16384x2048=c1:256:1 for Gemma-2B's gate/up). A row-streaming entry
    /// (rsU, 128-512 threads, 1 split) applies to batch-1 products only. Read once.
    static let forcedGEMVShapes = parseForcedGEMVShapes(ProcessInfo.processInfo.environment["KILN_GEMV_FORCE"] ?? "")

    /// `KILN_GEMV_FORCE`'s entries by "NxK"; malformed entries are skipped.
    static func parseForcedGEMVShapes(_ text: String) -> [String: GEMVChoice] {
        var shapes: [String: GEMVChoice] = [:]
        for entry in text.split(separator: ",") {
            let sides = entry.split(separator: "="), parts = sides.last?.split(separator: ":") ?? []
            guard sides.count == 2, parts.count == 3,
                  let suffix = ["c8": "", "c1": "_c1", "rs2": "_rs2", "rs4": "_rs4", "rs8": "_rs8"][String(parts[0])],
                  let threads = Int(parts[1]), let splits = Int(parts[2]) else { continue }
            let choice = GEMVChoice(suffix: suffix, threads: threads, splits: splits)
            if choice.streamUnroll != nil {
                guard [128, 256, 512].contains(threads), splits == 1 else { continue }
            } else {
                guard [128, 256].contains(threads), [1, 2, 4, 8, 16].contains(splits) else { continue }
            }
            shapes[String(sides[0])] = choice
        }
        return shapes
    }

    /// The configuration a GEMV shape takes without timing: one chunk at 256 threads for weights
    /// of at most `gemvUntimedBytes` (see `gemv`), nil for larger ones (timed).
    static func untimedGEMVChoice(weightBytes: Int) -> GEMVChoice? {
        weightBytes <= gemvUntimedBytes ? GEMVChoice(suffix: "_c1", threads: 256, splits: 1) : nil
    }
}

/// A GEMV shape: kernel, N, K and the activation rows.
struct GEMVKey: Hashable {
    var kernel: String
    var outputs: Int
    var inputs: Int
    var rows: Int
}

/// A GEMV configuration: kernel suffix ("" eight chunks, "_c1" one chunk, "_rs2" / "_rs4" / "_rs8"
/// the row-streaming kernels of gemv_stream.cu with that many loads a lane, batch 1 only), threads
/// per block and K slices (split-K; always 1 for the row-streaming kernels).
public struct GEMVChoice: Hashable, Sendable {
    public var suffix: String
    public var threads: Int
    public var splits: Int

    public init(suffix: String, threads: Int, splits: Int) {
        self.suffix = suffix
        self.threads = threads
        self.splits = splits
    }

    /// Loads in flight a lane of a row-streaming kernel ("_rsU"); nil for gemv.cu's kernels.
    public var streamUnroll: Int? { suffix.hasPrefix("_rs") ? Int(suffix.dropFirst(3)) : nil }

    /// "c8", "c1", "rs2"... for logs and labels.
    public var label: String { suffix.isEmpty ? "c8" : String(suffix.dropFirst()) }

    /// The row-streaming configurations the batch-1 timing tries (and checks force): 2, 4 or 8
    /// loads a lane at 256 or 512 threads.
    public static let streamCandidates: [GEMVChoice] = [2, 4, 8].flatMap { unroll in
        [256, 512].map { GEMVChoice(suffix: "_rs\(unroll)", threads: $0, splits: 1) }
    }
}

extension CUDABackend {
    /// gemv_stream.cu's work split, mirrored for the launch (the kernel derives it from blockDim,
    /// K and its UNROLL): segments of 32 · unroll 16-byte words, a power of two of warps a row (at
    /// most the segments, and leaving a warp a row for each of an item's rows), the items (output
    /// columns) a block takes and the grid.
    static func streamGEMVLayout(outputs: Int, inputs: Int, gated: Bool, threads: Int, unroll: Int)
        -> (warpsPerRow: Int, itemsPerBlock: Int, blocks: Int) {
        let warps = threads / 32, rowsPerItem = gated ? 2 : 1
        let segments = (inputs / 8 + 32 * unroll - 1) / (32 * unroll)
        var warpsPerRow = 1
        while 2 * warpsPerRow <= warps / rowsPerItem && 2 * warpsPerRow <= segments { warpsPerRow *= 2 }
        let items = warps / (warpsPerRow * rowsPerItem)
        return (warpsPerRow, items, (outputs + items - 1) / items)
    }
}

extension CUDABackend {
    /// Most tiles a split GEMV takes and most slices (the scratch is sized for them).
    static let gemvSplitTiles = 1024, gemvMaximumSplits = 16

    /// The shared split-K scratch, made once outside a recording; nil when the launch has more
    /// tiles than it holds or it does not exist yet inside a recording.
    func gemvSplitScratch(tiles: Int) throws -> (workspace: DeviceBuffer, counters: DeviceBuffer)? {
        guard tiles <= Self.gemvSplitTiles else { return nil }
        if let existing = gemvSplit { return existing }
        guard recording == nil else { return nil }
        let workspace = try runtime.allocator.allocate(byteCount: Self.gemvSplitTiles * Self.gemvMaximumSplits * 512)
        let counters = try runtime.allocator.allocate(byteCount: Self.gemvSplitTiles * 4)
        try stream.fill(counters, byte: 0)
        gemvSplit = (workspace, counters)
        return gemvSplit
    }
}
