import Foundation
import KilnBackend
import KilnCore

/// A skinny-GEMM configuration (skinny_gemm.cu, skinny_gemm_swap.cu, README-skinny-gemm.md):
/// weight rows a block (BN), activation rows a batch tile (MT), K slices (a thread-block cluster
/// of that many blocks, sm_90 only), and for the swapped kernels (batch rows as wgmma's A, weights
/// as B) the slots of their ring.
public struct SkinnyGEMMChoice: Hashable, Sendable, CustomStringConvertible {
    public var rowsPerBlock: Int
    public var batchTile: Int
    public var splits: Int
    /// The `_tma` kernels: stages filled by the bulk tensor copy engine (sm_90a, tensor maps).
    /// Always true for the swapped kernels.
    public var tma: Bool
    /// skinny_gemm_swap.cu's `_w<BN>` kernels (sm_90a): batch tile 64, TMA, `stages` ring slots.
    public var swapped: Bool
    /// Ring slots of a swapped kernel (a launch parameter); 0 for the others.
    public var stages: Int
    /// Consumer warpgroups of a swapped kernel (1, or 2 / 4 taking stages in turn: `_c2`, `_c4`).
    public var consumers: Int
    /// Blocks of a swapped kernel that share each stage's x through TMA multicast (a cluster of
    /// (P, 1, 1); 1, 2 or 4; only with whole K).
    public var multicast: Int
    /// Split-K of a swapped plain product through an fp32 workspace [S, rows, N] and
    /// skinny_gemm_reduce_* instead of a cluster of S blocks (record suffix " ws").
    public var workspace: Bool

    public init(rowsPerBlock: Int, batchTile: Int, splits: Int, tma: Bool = false) {
        self.rowsPerBlock = rowsPerBlock
        self.batchTile = batchTile
        self.splits = splits
        self.tma = tma
        self.swapped = false
        self.stages = 0
        self.consumers = 1
        self.multicast = 1
        self.workspace = false
    }

    /// A swapped configuration: BN weight rows (wgmma's N) a block, `stages` ring slots, `splits` K
    /// slices (through a workspace and a second kernel when `workspace`), `consumers` warpgroups.
    public static func swapped(rowsPerBlock: Int, stages: Int, splits: Int, consumers: Int = 1, multicast: Int = 1,
                               workspace: Bool = false) -> SkinnyGEMMChoice {
        precondition(multicast == 1 || splits == 1, "multicast only with whole K")
        precondition(!workspace || splits > 1, "a workspace only for split K")
        precondition([1, 2, 4].contains(consumers) && stages % consumers == 0, "C consumer warpgroups need a ring of a multiple of C slots")
        var choice = SkinnyGEMMChoice(rowsPerBlock: rowsPerBlock, batchTile: 64, splits: splits, tma: true)
        choice.swapped = true
        choice.stages = stages
        choice.consumers = consumers
        choice.multicast = multicast
        choice.workspace = workspace
        return choice
    }

    /// The (BN, MT) pairs skinny_gemm.cu exports.
    public static let shapes: [SkinnyGEMMChoice] = [64, 128].flatMap { bn in [32, 64].map { SkinnyGEMMChoice(rowsPerBlock: bn, batchTile: $0, splits: 1) } }
    /// The BN skinny_gemm_swap.cu exports for plain products; the gate/up kernels take those that
    /// split into two halves of whole 8-row groups.
    public static let swappedWidths = [16, 24, 32, 48, 64, 128]
    public static func swappedWidths(gated: Bool) -> [Int] { swappedWidths.filter { !gated || $0 % 16 == 0 } }
    /// The workspace split-K's second pass (skinny_gemm_swap.cu), by output type.
    static let reduceKernelNames = ["skinny_gemm_reduce_bf16", "skinny_gemm_reduce_f32"]
    static var swappedKernelNames: [String] {
        var names: [String] = []
        for (name, gated) in [("skinny_gemm_bf16", false), ("skinny_gemm_bf16_f32", false), ("skinny_gemm_gateup_silu_bf16", true),
                              ("skinny_gemm_gateup_gelu_bf16", true)] {
            for width in swappedWidths(gated: gated) { names += ["\(name)_w\(width)", "\(name)_w\(width)_c2", "\(name)_w\(width)_c4"] }
        }
        return names + reduceKernelNames
    }
    /// Stages of the kernel's cp.async ring (kSkinnyStages).
    static let stages = 4

    /// Kernel name suffix: `_n<BN>_m<MT>`, then `_tma` for the TMA variant; `_w<BN>` swapped, then
    /// `_c2` / `_c4` for two / four consumer warpgroups.
    public var suffix: String {
        swapped ? "_w\(rowsPerBlock)" + (consumers > 1 ? "_c\(consumers)" : "") : "_n\(rowsPerBlock)_m\(batchTile)" + (tma ? "_tma" : "")
    }
    var threads: Int { swapped ? 128 * consumers + 32 : 2 * rowsPerBlock }
    /// One slot of a swapped kernel's ring: 64 x rows then BN weight rows, 128 bytes each.
    static func swappedSlotBytes(rowsPerBlock: Int) -> Int { (64 + rowsPerBlock) * 128 }
    /// The ring: stages x (BN + MT) rows of 128 bytes (and the TMA variant's stage mbarriers);
    /// swapped: `stages` slots and a full and an empty mbarrier each, and with C > 1 consumer
    /// warpgroups the others' [C - 1][BN / 2][128] fp32 sums.
    var sharedBytes: Int {
        swapped ? stages * (Self.swappedSlotBytes(rowsPerBlock: rowsPerBlock) + 16) + Self.swappedPartialBytes(rowsPerBlock, consumers)
            : Self.stages * (rowsPerBlock + batchTile) * 128 + (tma ? 64 : 0)
    }
    static func swappedPartialBytes(_ rowsPerBlock: Int, _ consumers: Int) -> Int { (consumers - 1) * 256 * rowsPerBlock }
    /// The largest ring of any configuration of skinny_gemm.cu (the dynamic shared-memory limit set once a kernel).
    static let largestSharedBytes = stages * (128 + 64) * 128 + 64
    public var description: String {
        swapped ? "w\(rowsPerBlock) s\(stages) x\(splits)" + (consumers > 1 ? " c\(consumers)" : "") + (multicast > 1 ? " m\(multicast)" : "") + (workspace ? " ws" : "") : "n\(rowsPerBlock) m\(batchTile) x\(splits)" + (tma ? " tma" : "")
    }

    /// Blocks along N: BN weight rows (plain) or BN / 2 outputs (gate/up) each.
    func tiles(outputs: Int, gated: Bool) -> Int {
        let perBlock = gated ? rowsPerBlock / 2 : rowsPerBlock
        return (outputs + perBlock - 1) / perBlock
    }

    /// The launch's grid.x: the tiles, rounded up to whole multicast clusters (the extra blocks
    /// copy their part of x for their peers and store nothing).
    func gridColumns(outputs: Int, gated: Bool) -> Int {
        let tiles = tiles(outputs: outputs, gated: gated)
        return (tiles + multicast - 1) / multicast * multicast
    }

    /// The thread-block cluster a launch needs: (1, S, 1) for split-K, (P, 1, 1) for multicast.
    var clusterShape: (Int, Int, Int)? {
        workspace ? nil : splits > 1 ? (1, splits, 1) : multicast > 1 ? (multicast, 1, 1) : nil
    }

    /// The configurations worth timing for `rows` activation rows, `outputs` columns and K =
    /// `inputs` on `multiprocessors` SMs: both batch tiles that hold the rows in one tile, both
    /// block heights, and K cut into 2-8 slices (clusters) where the tiles alone leave SMs idle and
    /// every slice keeps at least two 64-wide k stages. With `swapped` (sm_90a, `sharedBytesPerBlock`
    /// the most a block may have): every swapped width, K slices while tiles x slices fill at most
    /// two waves, each with the deepest ring one block an SM holds and the deepest two blocks an SM
    /// hold (at most a slot per stage of the slice), with one, two and four consumer warpgroups;
    /// plain products with N a multiple of 4 also with 2-16 K slices through a workspace (no
    /// cluster); with `multicast`, whole-K ones also with x multicast over clusters of 2 and 4.
    static func candidates(rows: Int, outputs: Int, inputs: Int, gated: Bool, multiprocessors: Int, clusters: Bool,
                           tma: Bool = false, swapped: Bool = false, multicast: Bool = false, sharedBytesPerBlock: Int = 0) -> [SkinnyGEMMChoice] {
        let steps = (inputs + 63) / 64
        func slices(tiles: Int, limitByWaves: Bool, counts: [Int] = [1, 2, 4, 8], needsClusters: Bool = true) -> [(splits: Int, perSlice: Int)] {
            counts.compactMap { splits in
                // The kernel gives slice s steps [s * ceil(steps / S), ...): the last slice keeps what is left.
                let perSlice = (steps + splits - 1) / splits, lastSlice = steps - (splits - 1) * perSlice
                if splits > 1 && ((needsClusters && !clusters) || tiles >= 2 * multiprocessors || lastSlice < 2) { return nil }
                if splits > 1 && limitByWaves && tiles * splits > 2 * multiprocessors { return nil }
                return (splits, perSlice)
            }
        }
        var result: [SkinnyGEMMChoice] = []
        for shape in shapes where shape.batchTile >= rows || shape.batchTile == 64 {
            for (splits, _) in slices(tiles: shape.tiles(outputs: outputs, gated: gated), limitByWaves: false) {
                var choice = shape
                choice.splits = splits
                result.append(choice)
                if tma {
                    choice.tma = true
                    result.append(choice)
                }
            }
        }
        guard swapped, rows <= 64 else { return result }
        // A block leaves 1 KB of an SM's shared memory to the system: two a SM share what is left.
        let twoPerSM = (sharedBytesPerBlock + 1024) / 2 - 1024
        for width in swappedWidths(gated: gated) {
            let slot = swappedSlotBytes(rowsPerBlock: width) + 16
            let tiles = SkinnyGEMMChoice.swapped(rowsPerBlock: width, stages: 2, splits: 1).tiles(outputs: outputs, gated: gated)
            // K slices through clusters (at most 8 blocks) or, for plain products with N a multiple of
            // 4, through a workspace (up to 16 slices, no cluster).
            let workspaceSlices = !gated && outputs % 4 == 0
            for (splits, perSlice) in slices(tiles: tiles, limitByWaves: true, counts: [1, 2, 4, 8, 16], needsClusters: false) {
                let viaCluster = splits == 1 || (clusters && splits <= 8), viaWorkspace = splits > 1 && workspaceSlices
                guard viaCluster || viaWorkspace else { continue }
                for consumers in [1, 2, 4] {
                    var depths: [Int] = []
                    for budget in [sharedBytesPerBlock, twoPerSM] {
                        // C consumer warpgroups take stages in turn: a ring of a multiple of C slots (skinny_gemm_swap.cu).
                        let most = min((budget - swappedPartialBytes(width, consumers)) / slot, perSlice)
                        let depth = most / consumers * consumers
                        if depth >= 2 * consumers && !depths.contains(depth) { depths.append(depth) }
                    }
                    // (The split-K epilogue's [BN][65] fp32 always fits in a ring of two slots or more.)
                    for depth in depths {
                        if viaCluster { result.append(.swapped(rowsPerBlock: width, stages: depth, splits: splits, consumers: consumers)) }
                        if viaWorkspace {
                            result.append(.swapped(rowsPerBlock: width, stages: depth, splits: splits, consumers: consumers, workspace: true))
                        }
                        // Whole K: also with x multicast over clusters of 2 and 4 neighbouring tiles, when asked
                        // for (slower on every Gemma-2B shape on the H200 in session 15, e.g. qkv 9.8 / 10.6 us
                        // against 8.0 without, so not timed by default).
                        if splits == 1 && clusters && multicast {
                            for multicast in [2, 4] where tiles >= multicast {
                                result.append(.swapped(rowsPerBlock: width, stages: depth, splits: 1, consumers: consumers, multicast: multicast))
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// What a bf16 product of 9-64 rows runs on, once timed: a skinny-GEMM configuration or the
/// library path (cuBLASLt, plus the gated kernel for gate/up).
enum SkinnyProductPath: Hashable, Sendable {
    case skinny(SkinnyGEMMChoice)
    case library
}

extension CUDABackend {
    /// Most activation rows the skinny kernels take (one batch tile of 64).
    static let skinnyMaximumRows = 64

    /// Whether the skinny kernels take this product: bf16, more rows than the GEMV takes and at
    /// most 64, K and the row stride multiples of 8.
    func usesSkinnyGEMM(_ x: DeviceTensor, weight: CUDAWeight) -> Bool {
        x.elementType == .bf16 && weight.elementType == .bf16 && x.rows > Self.gemvMaximumRows && x.rows <= Self.skinnyMaximumRows
            && x.columns % 8 == 0 && weight.columns % 8 == 0
    }

    /// Runs the product on the skinny kernel `kernel` (without suffix) when that is the faster
    /// path for this shape, and returns true; false when the caller should run `library` itself.
    /// The first call of a shape outside a CUDA-graph recording times every candidate
    /// configuration and the library path (`timeInChain`) and keeps the fastest; inside a
    /// recording an untimed shape takes the library path.
    func skinnyProduct(_ x: DeviceTensor, weight: CUDAWeight, bias: DeviceBuffer?, outputs: Int, gated: Bool, out: DeviceTensor,
                       kernel: String, library: () throws -> Void) throws -> Bool {
        let key = GEMVKey(kernel: kernel, outputs: outputs, inputs: x.columns, rows: x.rows)
        func launch(_ choice: SkinnyGEMMChoice) throws {
            var arguments = productArguments(x, weight: weight, bias: bias, takesBias: !gated, outputs: outputs, out: out)
            if choice.tma {  // (the swapped kernels are TMA kernels too)
                // The weight's and x's tensor maps (skinny_gemm.cu): boxes of 64 k x BN weight rows
                // (gate/up: BN / 2 from each half) and 64 k x MT rows of x, whose row stride is
                // x.columns, the ldx productArguments passes.
                guard let weightMap = try TensorMap.bf16Matrix(device: runtime.device, address: weight.buffer.address, rows: weight.rows,
                                                               columns: weight.columns, rowStride: weight.columns,
                                                               boxRows: gated ? choice.rowsPerBlock / 2 : choice.rowsPerBlock, boxColumns: 64),
                      let inputMap = try TensorMap.bf16Matrix(device: runtime.device, address: x.buffer.address, rows: x.rows,
                                                              columns: x.columns, rowStride: x.columns,
                                                              boxRows: choice.batchTile / choice.multicast, boxColumns: 64) else {
                    throw KilnError.unsupported(path: kernel + choice.suffix, reason: "the driver has no tensor maps (cuTensorMapEncodeTiled)")
                }
                arguments.words(weightMap)
                arguments.words(inputMap)
                if choice.swapped {
                    arguments.int32(choice.stages)
                    arguments.int32(choice.multicast)
                }
            }
            // Split-K through a workspace: the slices' fp32 sums, [S, rows, N], in the shape's own buffer.
            let partials = choice.workspace ? try skinnyWorkspace(key, splits: choice.splits) : nil
            if choice.swapped { arguments.pointer(partials) }
            let function = try kernels.function(kernel + choice.suffix)
            try sharedMemoryLimitRaised.withLock { limited in  // raised before any launch of the kernel
                if !limited.contains(function.name) {
                    try kernels.setMaxDynamicSharedMemory(function, bytes: choice.swapped ? swappedSharedLimit
                                                                                           : SkinnyGEMMChoice.largestSharedBytes)
                    limited.insert(function.name)
                }
            }
            try stream.launch(function, grid: (choice.gridColumns(outputs: outputs, gated: gated), choice.splits,
                                               (x.rows + choice.batchTile - 1) / choice.batchTile),
                              block: (choice.threads, 1, 1), sharedBytes: choice.sharedBytes,
                              cluster: choice.clusterShape, arguments: arguments)
            skinnyLaunches.withLock { $0[function.name, default: 0] += 1 }
            if let partials {
                let reduce = try kernels.function(SkinnyGEMMChoice.reduceKernelNames[out.elementType == .f32 ? 1 : 0])
                var reduceArguments = KernelArguments()
                reduceArguments.pointer(partials)
                reduceArguments.int32(choice.splits)
                reduceArguments.pointer(bias)
                reduceArguments.pointer(out.buffer)
                reduceArguments.int32(outputs)
                reduceArguments.int32(x.rows)
                reduceArguments.int32(out.columns)
                try stream.launch(reduce, grid: ((x.rows * outputs / 4 + 255) / 256, 1, 1), block: (256, 1, 1), arguments: reduceArguments)
            }
        }
        if var forced = forcedSkinnyChoice {
            // The workspace split-K takes plain products with N a multiple of 4; others slice through clusters.
            if forced.workspace && (gated || outputs % 4 != 0) {
                forced.workspace = false
                forced.splits = min(forced.splits, 8)  // a cluster holds at most 8 blocks portably
            }
            if !supportsClusters && !forced.workspace {
                forced.splits = 1
                forced.multicast = 1
            }
            if !supportsSkinnyTMA {
                guard !forced.swapped else { throw KilnError.unsupported(path: kernel + forced.suffix, reason: "swapped skinny kernels need sm_90a and tensor maps") }
                forced.tma = false
            }
            try launch(forced)
            return true
        }
        // KILN_SKINNY_GEMM=0, and backends that must give the same bits as another (tunesGEMV off),
        // stay on the library, restored decisions included.
        guard skinnyGEMMEnabled, tunesGEMV else { return false }
        if let path = skinnyPaths.withLock({ $0[key] }) {
            guard case .skinny(let choice) = path else { return false }
            try launch(choice)
            return true
        }
        // Untimed shapes inside a recording (or under the profiler) stay on the library.
        guard recording == nil, stream.profiler == nil else { return false }
        let candidates = SkinnyGEMMChoice.candidates(rows: x.rows, outputs: outputs, inputs: x.columns, gated: gated,
                                                     multiprocessors: runtime.device.multiprocessors, clusters: supportsClusters,
                                                     tma: supportsSkinnyTMA && skinnyTMAEnabled,
                                                     swapped: supportsSkinnyTMA && skinnyTMAEnabled && skinnySwapEnabled,
                                                     multicast: Self.skinnyMulticastSetting,
                                                     sharedBytesPerBlock: swappedSharedLimit)
        let log = ProcessInfo.processInfo.environment["KILN_GEMV_LOG"]
        var best = SkinnyProductPath.library
        // In the chain (cold weights, a short programmatic predecessor: CUDABackend+ChainTiming.swift)
        // unless KILN_SKINNY_TIMING=hot.
        var chainBuffers: ChainTimingBuffers?
        func time(_ body: () throws -> Void) throws -> Double {
            Self.skinnyChainTimingSetting ? try timeInChain(input: x, buffers: &chainBuffers, body) : try timeAsInGraph(body)
        }
        let libraryTime = try time(library)
        // The library's time is scaled by `skinnyPreferenceSetting` (KILN_SKINNY_PREFER, default 1): the
        // skinny kernels overlap their weight loads with the previous kernel under programmatic
        // launch inside a step, which the isolated timing does not show.
        var bestTime = libraryTime * Self.skinnyPreferenceSetting
        for candidate in candidates {
            // A configuration the GPU refuses (say, a cluster it cannot place) is left out, not fatal.
            guard let elapsed = try? time({ try launch(candidate) }) else { continue }
            if log == "2" {
                let function = try kernels.function(kernel + candidate.suffix)
                let resident = kernels.occupancy(function, threads: candidate.threads, sharedBytes: candidate.sharedBytes)
                FileHandle.standardError.write(Data(String(format: "  skinny %@ N %d K %d rows %d: %@ %.1f us (%@)\n", kernel, outputs, x.columns,
                                                          x.rows, candidate.description, elapsed * 1000,
                                                          resident.map { "\($0.registers) registers, \($0.blocks) blocks an SM" } ?? "-").utf8))
            }
            if elapsed < bestTime {
                bestTime = elapsed
                best = .skinny(candidate)
            }
        }
        skinnyPaths.withLock { $0[key] = best }
        // The timing's workspace stays only for a workspace split.
        if case .skinny(let choice) = best, choice.workspace {
        } else {
            _ = skinnyWorkspaces.withLock { $0.removeValue(forKey: key) }
        }
        if log == "1" || log == "2" {
            let chosen: String
            if case .skinny(let choice) = best { chosen = "skinny \(choice)" } else { chosen = "library" }
            let chosenTime = best == .library ? libraryTime : bestTime  // bestTime starts as the scaled library time
            FileHandle.standardError.write(Data(String(format: "skinny %@ N %d K %d rows %d: %@ %.1f us (library %.1f us)\n",
                                                      kernel, outputs, x.columns, x.rows, chosen, chosenTime * 1000, libraryTime * 1000).utf8))
        }
        // The output holds the last timed launch's result: rewrite it with the chosen path.
        guard case .skinny(let choice) = best else { return false }
        try launch(choice)
        return true
    }

    /// The shape's split-K workspace (`skinnyWorkspaces`), made at first need with room for 16
    /// slices of its rows and N.
    func skinnyWorkspace(_ key: GEMVKey, splits: Int) throws -> DeviceBuffer {
        precondition(splits <= 16, "at most 16 K slices")
        return try skinnyWorkspaces.withLock { workspaces in
            if let buffer = workspaces[key] { return buffer }
            let buffer = try runtime.allocator.allocate(byteCount: 16 * key.rows * key.outputs * 4)
            workspaces[key] = buffer
            return buffer
        }
    }

    /// `KILN_SKINNY_PREFER=F`: a skinny configuration wins when it times under F x the library's
    /// time (default 1; 0.25-4, for A/B runs of the decision rule; part of the decisions' record
    /// key, SkinnyDecisionRecord). Read once.
    static let skinnyPreferenceSetting: Double = {
        guard let text = ProcessInfo.processInfo.environment["KILN_SKINNY_PREFER"] else { return 1 }
        guard let value = Double(text), value >= 0.25, value <= 4 else {
            FileHandle.standardError.write(Data("KILN_SKINNY_PREFER=\(text) ignored: a number from 0.25 to 4\n".utf8))
            return 1
        }
        return value
    }()

    /// Milliseconds a run of `body` takes inside a CUDA graph, as a decode step runs it: one run
    /// outside (nested shape choices and cuBLASLt's own timing happen there), then eight runs
    /// captured into a graph, replayed three times, best replay / 8. Host launch costs (large for
    /// cuBLASLt) stay out of the figure, as they do in a replayed step; without graph capture, the
    /// same eight runs launched directly.
    func timeAsInGraph(_ body: () throws -> Void) throws -> Double {
        try body()
        let start = try CUDAEvent(device: runtime.device), end = try CUDAEvent(device: runtime.device)
        var graph: CUDAGraph?
        if stream.canCaptureGraphs {
            try stream.beginCapture()
            do {
                for _ in 0..<8 { try body() }
            } catch {
                _ = try? stream.endCapture()
                throw error
            }
            graph = try stream.endCapture()
            try graph?.launch(on: stream)
        }
        var best = Double.infinity
        for _ in 0..<3 {
            try start.record(on: stream)
            if let graph { try graph.launch(on: stream) } else { for _ in 0..<8 { try body() } }
            try end.record(on: stream)
            try end.synchronize()
            best = min(best, Double(try end.milliseconds(since: start)) / 8)
        }
        return best
    }

    /// The dynamic shared memory a swapped skinny kernel may be given: the device's opt-in maximum
    /// less 1 KB, since static shared memory counts against the same limit (KILN_TRACE builds give
    /// every kernel a few bytes of it).
    var swappedSharedLimit: Int { runtime.device.maxSharedMemoryPerBlock - 1024 }

    /// The skinny kernels' TMA variants: sm_90a (wgmma, the bulk tensor copies), a driver that
    /// encodes tensor maps, and the wgmma path compiled (not KILN_SKINNY_MMA_SYNC).
    public var supportsSkinnyTMA: Bool {
        runtime.device.architecture == "sm_90a" && runtime.device.driver.functions.cuTensorMapEncodeTiled != nil
            && !KernelLibrary.experimentDefines.contains("KILN_SKINNY_MMA_SYNC")  // that switch compiles no wgmma: the TMA kernels trap
    }

    /// Thread-block clusters (split-K skinny kernels): sm_90 and newer, and cuLaunchKernelEx.
    public var supportsClusters: Bool {
        runtime.device.driver.extendedLaunch != nil && runtime.device.computeCapability.major >= 9
    }
}
