import Foundation
import KilnBackend
import KilnCore
import KilnCPU
import KilnCUDA

/// `kiln check gpu`'s checks of CUDABackend's decode paths against CPUBackend, op by op through
/// the `Backend` protocol: the GEMV products (1...8 rows, plain and fused gate/up), the gated
/// product above 8 rows (cuBLASLt + the gated kernel), and split-K decode attention over a paged
/// cache (head sizes 64/128/256, GQA/MQA, sliding window, soft-cap). Inputs are random and
/// bf16-rounded where the GPU stores bf16; outputs are compared by ‖gpu − cpu‖ / ‖cpu‖.
final class GPUBackendChecks {
    let runtime: CUDARuntime
    let quick: Bool
    /// Only the checks whose label contains this text (`kiln check gpu --only`); nil: all.
    let only: String?
    var random: SplitMix64
    private(set) var passed = 0
    private(set) var failed = 0
    let cpu = CPUBackend()

    init(runtime: CUDARuntime, seed: UInt64, quick: Bool, only: String? = nil) {
        self.runtime = runtime
        self.quick = quick
        self.only = only
        random = SplitMix64(seed: seed)
    }

    func runAll() throws {
        let backends = [try CUDABackend(runtime: runtime, precision: .bf16), try CUDABackend(runtime: runtime, precision: .f32)]
        for backend in backends {
            checkLinear(backend)
            if backend.precision == .bf16 { checkGEMVConfigurations(backend) }
            if backend.precision == .bf16 { checkStreamGEMVConfigurations(backend) }
            if backend.precision == .bf16 { checkSkinnyConfigurations(backend) }
            checkGatedLinear(backend)
            checkDecodeAttention(backend)
            checkAttentionInput(backend)
            if backend.precision == .bf16 { checkFusedDecodeInput(backend) }
        }
    }

    // MARK: - Fused attention input

    /// attentionInput (joined Q/K/V product, QK-norm, RoPE, cache write in one kernel) against the
    /// CPU's three products, headRMSNorm, rope and writeCache: the queries compared directly, the
    /// cached K/V through an attention over them (prefill batch of one sequence).
    func checkAttentionInput(_ gpu: CUDABackend) {
        // (heads, kvHeads, headDim, rotated pairs, style, QK-norm, bias)
        let cases: [(Int, Int, Int, Int, RopeStyle, Bool, Bool)] = quick
            ? [(8, 1, 256, 128, .halves, false, false), (4, 2, 64, 32, .halves, true, true)]
            : [(8, 1, 256, 128, .halves, false, false), (4, 2, 64, 32, .halves, true, true), (6, 2, 128, 64, .interleaved, false, true),
               (4, 4, 64, 16, .halves, false, false), (12, 3, 128, 32, .interleaved, true, false)]
        for (heads, kvHeads, headDim, pairs, style, qkNorm, withBias) in cases {
            for tokens in [1, 5, 37] {
                let label = "attentionInput \(gpu.precision) \(heads)/\(kvHeads) h\(headDim) \(pairs) pairs \(style)"
                    + (qkNorm ? " qk-norm" : "") + (withBias ? " bias" : "") + " tokens \(tokens)"
                check(label, bound: bound(gpu)) {
                    try attentionInput(gpu, tokens: tokens, heads: heads, kvHeads: kvHeads, headDim: headDim, pairs: pairs, style: style,
                                       qkNorm: qkNorm, withBias: withBias)
                }
            }
        }
    }

    func attentionInput(_ gpu: CUDABackend, tokens: Int, heads: Int, kvHeads: Int, headDim: Int, pairs: Int, style: RopeStyle,
                        qkNorm: Bool, withBias: Bool) throws -> (gpu: [Float], cpu: [Float]) {
        let hidden = 64, qWidth = heads * headDim, kvWidth = kvHeads * headDim, blockSize = 16
        let x = values(tokens * hidden, gpu)
        let weights = [values(qWidth * hidden, gpu, scale: 0.125), values(kvWidth * hidden, gpu, scale: 0.125), values(kvWidth * hidden, gpu, scale: 0.125)]
        let rows = [qWidth, kvWidth, kvWidth]
        let biases = withBias ? rows.map { values($0, gpu) } : []
        let norms = qkNorm ? [values(headDim, gpu, scale: 0.2).map { $0 + 1 }, values(headDim, gpu, scale: 0.2).map { $0 + 1 }] : []
        let rope = RopeParameters(inverseFrequencies: (0..<pairs).map { Float(pow(10000.0, -2.0 * Double($0) / Double(2 * pairs))) }, style: style)
        let blocks = (tokens + blockSize - 1) / blockSize + 1
        let table = Array((0..<blocks).reversed())
        let batch = ForwardBatch.single(tokens: Array(repeating: 1, count: tokens), startPosition: 0, blockTable: table, blockSize: blockSize,
                                        allLogits: true)
        let attention = AttentionParameters(heads: heads, kvHeads: kvHeads, headDim: headDim, scale: 1 / Float(headDim).squareRoot(),
                                            slidingWindow: nil, softcap: nil)
        let shape = KVCacheShape(layers: 1, blocks: blocks, blockSize: blockSize, kvHeads: kvHeads, headDim: headDim)
        var keep: [HostBytes] = []
        func weight<W>(_ load: (WeightSource) throws -> W, _ index: Int) throws -> W {
            let (source, bytes) = try self.source(weights[index], rows: rows[index], columns: hidden)
            keep.append(bytes)
            return try load(source)
        }

        // GPU: the fused op, then attention over what it cached.
        let parts = try (0..<3).map { try weight(gpu.loadWeight, $0) }
        guard let qkv = try gpu.concatenateRows(parts) else { throw KilnError.invalidArgument("CUDABackend did not join Q/K/V") }
        let gpuCache = try gpu.makeCache(shape)
        try gpu.prepare(batch)
        let query = try gpu.makeTensor(rows: tokens, columns: qWidth)
        try gpu.attentionInput(try upload(x, rows: tokens, columns: hidden, to: gpu), qkv: qkv,
                               bias: withBias ? try gpu.loadVector(biases.flatMap { $0 }, name: "qkv.bias") : nil,
                               queryNorm: qkNorm ? try gpu.loadVector(norms[0], name: "q_norm") : nil,
                               keyNorm: qkNorm ? try gpu.loadVector(norms[1], name: "k_norm") : nil,
                               epsilon: 1e-6, attention: attention, rope: rope, batch: batch, cache: gpuCache, layer: 0, query: query)
        let attended = try gpu.makeTensor(rows: tokens, columns: qWidth)
        try gpu.attention(query: query, cache: gpuCache, layer: 0, batch: batch, parameters: attention, into: attended)

        // CPU: the unfused sequence.
        let cx = cpu.tensor(x, rows: tokens, columns: hidden)
        let outs = rows.map { cpu.makeTensor(rows: tokens, columns: $0) }
        for i in 0..<3 {
            let bias = withBias ? try cpu.loadVector(biases[i], name: "bias") : nil
            cpu.linear(cx, weight: try weight(cpu.loadWeight, i), bias: bias, into: outs[i])
        }
        if qkNorm {
            cpu.headRMSNorm(outs[0], heads: heads, headDim: headDim, weight: try cpu.loadVector(norms[0], name: "q_norm"), epsilon: 1e-6)
            cpu.headRMSNorm(outs[1], heads: kvHeads, headDim: headDim, weight: try cpu.loadVector(norms[1], name: "k_norm"), epsilon: 1e-6)
        }
        cpu.rope(outs[0], heads: heads, headDim: headDim, positions: batch.positions, parameters: rope)
        cpu.rope(outs[1], heads: kvHeads, headDim: headDim, positions: batch.positions, parameters: rope)
        let cpuCache = try cpu.makeCache(shape)
        cpu.writeCache(cpuCache, layer: 0, keys: outs[1], values: outs[2], slots: batch.slots)
        let expected = cpu.makeTensor(rows: tokens, columns: qWidth)
        cpu.attention(query: outs[0], cache: cpuCache, layer: 0, batch: batch, parameters: attention, into: expected)
        return (try gpu.read(query) + (try gpu.read(attended)), cpu.values(of: outs[0]) + cpu.values(of: expected))
    }

    // MARK: - Products

    func checkLinear(_ gpu: CUDABackend) {
        let shapes = quick ? [(17, 64), (2560, 2048)] : [(1, 8), (17, 64), (300, 72), (2048, 576), (2560, 2048), (4099, 576)]
        for (outputs, inputs) in shapes {
            for rows in [1, 3, 8, 40] {  // 40: the skinny decision, timed in the chain, runs first (x must survive it)
                let withBias = outputs % 2 == 1
                let label = "linear \(gpu.precision) x [\(rows), \(inputs)] · w [\(outputs), \(inputs)]" + (withBias ? " + bias" : "")
                check(label, bound: bound(gpu)) {
                    let x = values(rows * inputs, gpu), w = values(outputs * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                    let b = withBias ? values(outputs, gpu) : nil
                    let gx = try upload(x, rows: rows, columns: inputs, to: gpu)
                    let gw = try gpu.loadWeight(try source(w, rows: outputs, columns: inputs).source)
                    let gb = try b.map { try gpu.loadVector($0, name: "bias") }
                    let out = try gpu.makeTensor(rows: rows, columns: outputs)
                    try gpu.linear(gx, weight: gw, bias: gb, into: out)
                    let cx = cpu.tensor(x, rows: rows, columns: inputs)
                    let cw = try cpu.loadWeight(try source(w, rows: outputs, columns: inputs).source)
                    let expected = cpu.makeTensor(rows: rows, columns: outputs)
                    cpu.linear(cx, weight: cw, bias: try b.map { try cpu.loadVector($0, name: "bias") }, into: expected)
                    return (try gpu.read(out), cpu.values(of: expected))
                }
            }
        }
    }

    /// Every GEMV configuration the timing may choose (eight or one chunk, 128 or 256 threads,
    /// 1 to 16 K slices), forced in turn on plain products (checkGatedLinear runs the fused
    /// gate/up kernels under the timing's choices).
    func checkGEMVConfigurations(_ gpu: CUDABackend) {
        defer { gpu.forcedGEMVChoice = nil }
        let configurations = [GEMVChoice(suffix: "", threads: 256, splits: 1), GEMVChoice(suffix: "", threads: 128, splits: 2),
                              GEMVChoice(suffix: "_c1", threads: 256, splits: 2), GEMVChoice(suffix: "_c1", threads: 128, splits: 4),
                              GEMVChoice(suffix: "", threads: 256, splits: 4), GEMVChoice(suffix: "_c1", threads: 128, splits: 8),
                              GEMVChoice(suffix: "", threads: 128, splits: 16)]
        for choice in configurations {
            gpu.forcedGEMVChoice = choice
            for (outputs, inputs, rows) in [(2560, 2048, 1), (2048, 16384, 3), (300, 72, 8), (40, 1000, 2)] {
                let label = "GEMV\(choice.suffix.isEmpty ? "_c8" : choice.suffix) \(choice.threads) threads \(choice.splits) slices x [\(rows), \(inputs)] · w [\(outputs), \(inputs)]"
                check(label, bound: bound(gpu)) {
                    let x = values(rows * inputs, gpu), w = values(outputs * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                    let out = try gpu.makeTensor(rows: rows, columns: outputs)
                    let (source, bytes) = try source(w, rows: outputs, columns: inputs)
                    try gpu.linear(try upload(x, rows: rows, columns: inputs, to: gpu), weight: try gpu.loadWeight(source), bias: nil, into: out)
                    let expected = cpu.makeTensor(rows: rows, columns: outputs)
                    cpu.linear(cpu.tensor(x, rows: rows, columns: inputs), weight: try cpu.loadWeight(source), bias: nil, into: expected)
                    let result = (try gpu.read(out), cpu.values(of: expected))
                    withExtendedLifetime(bytes) {} // the CPU weight reads the host bytes until here
                    return result
                }
            }
        }
    }

    /// Every row-streaming GEMV configuration (gemv_stream.cu: 2, 4 or 8 loads a lane, 256 or 512
    /// threads; batch 1), forced in turn: plain with and without bias, fp32 output (logits), fused
    /// gate/up with both activations; K tails (72, 576, 1000) and long rows (4096 gate/up: 8 warps a
    /// row at 2 loads a lane; 16384).
    func checkStreamGEMVConfigurations(_ gpu: CUDABackend) {
        defer { gpu.forcedGEMVChoice = nil }
        let plain = quick ? [(2560, 2048, false, false)]
            : [(2560, 2048, false, false), (300, 72, true, false), (1000, 576, true, true), (2048, 16384, false, false), (4099, 1000, false, true)]
        let gated: [(Int, Int, GateActivation)] = quick ? [(1536, 576, .geluTanh)] : [(1536, 576, .geluTanh), (100, 72, .silu), (2048, 1000, .geluTanh), (300, 4096, .silu)]
        for choice in GEMVChoice.streamCandidates {
            gpu.forcedGEMVChoice = choice
            for (outputs, inputs, withBias, f32) in plain {
                let label = "GEMV_\(choice.label) \(choice.threads) threads\(f32 ? " f32 out" : "") x [1, \(inputs)] · w [\(outputs), \(inputs)]"
                    + (withBias ? " + bias" : "")
                check(label, bound: bound(gpu)) {
                    let x = values(inputs, gpu), w = values(outputs * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                    let b = withBias ? values(outputs, gpu) : nil
                    let out = f32 ? try DeviceTensor(rows: 1, columns: outputs, elementType: .f32, allocator: gpu.runtime.allocator)
                        : try gpu.makeTensor(rows: 1, columns: outputs)
                    let (weightSource, bytes) = try source(w, rows: outputs, columns: inputs)
                    let launches = gpu.streamGEMVLaunches.withLock { $0 }
                    try gpu.linear(try upload(x, rows: 1, columns: inputs, to: gpu), weight: try gpu.loadWeight(weightSource),
                                   bias: try b.map { try gpu.loadVector($0, name: "bias") }, into: out)
                    guard gpu.streamGEMVLaunches.withLock({ $0 }) > launches else { throw KilnError.invalidArgument("the row-streaming GEMV did not run") }
                    let expected = cpu.makeTensor(rows: 1, columns: outputs)
                    cpu.linear(cpu.tensor(x, rows: 1, columns: inputs), weight: try cpu.loadWeight(weightSource),
                               bias: try b.map { try cpu.loadVector($0, name: "bias") }, into: expected)
                    let result = (try gpu.read(out), cpu.values(of: expected))
                    withExtendedLifetime(bytes) {}
                    return result
                }
            }
            for (mlp, inputs, activation) in gated {
                let label = "GEMV_\(choice.label) \(choice.threads) threads gate/up \(activation) x [1, \(inputs)] · [2x\(mlp), \(inputs)]"
                check(label, bound: bound(gpu)) {
                    let launches = gpu.streamGEMVLaunches.withLock { $0 }
                    let result = try gatedResult(gpu, mlp: mlp, inputs: inputs, rows: 1, activation: activation)
                    guard gpu.streamGEMVLaunches.withLock({ $0 }) > launches else { throw KilnError.invalidArgument("the row-streaming GEMV did not run") }
                    return result
                }
            }
        }
    }

    /// Every skinny-GEMM configuration (9-64 rows: 64 or 128 weight rows a block, batch tiles of
    /// 32 or 64, 1 to 8 K slices as clusters, cp.async or TMA copies on sm_90a; on sm_90a also the
    /// swapped kernels of every width, one, two or four consumer warpgroups, x multicast over 2 or 4 blocks), forced in turn on odd shapes: plain with and
    /// without bias, fp32 output (logits), fused gate/up; rows past one batch tile too.
    func checkSkinnyConfigurations(_ gpu: CUDABackend) {
        defer { gpu.forcedSkinnyChoice = nil }
        let splits = gpu.supportsClusters ? (quick ? [1, 4] : [1, 2, 4, 8]) : [1]
        let plain = quick ? [(2560, 2048, 64, false, false)]
            : [(2560, 2048, 64, false, false), (300, 72, 9, true, false), (1000, 1032, 33, false, true), (2048, 16384, 20, false, false),
               (1000, 1024, 40, true, true)]
        let copies = gpu.supportsSkinnyTMA ? [false, true] : [false]
        var choices: [SkinnyGEMMChoice] = []
        for shape in SkinnyGEMMChoice.shapes {
            for slices in splits {
                for tma in copies {
                    var choice = shape
                    choice.splits = slices
                    choice.tma = tma
                    choices.append(choice)
                }
            }
        }
        // skinny_gemm_swap.cu (sm_90a): every width, one consumer warpgroup with a 3-slot ring and
        // two or four with a 4- or 6-slot ring (K = 2048 wraps them ten, eight and five times).
        if gpu.supportsSkinnyTMA {
            for width in SkinnyGEMMChoice.swappedWidths {
                for slices in splits {
                    choices.append(.swapped(rowsPerBlock: width, stages: 3, splits: slices))
                    choices.append(.swapped(rowsPerBlock: width, stages: 4, splits: slices, consumers: 2))
                    choices.append(.swapped(rowsPerBlock: width, stages: 4, splits: slices, consumers: 4))
                }
                // K slices through a workspace and skinny_gemm_reduce_* (plain products): 4 and 16.
                choices.append(.swapped(rowsPerBlock: width, stages: 3, splits: 4, workspace: true))
                choices.append(.swapped(rowsPerBlock: width, stages: 4, splits: 16, consumers: 2, workspace: true))
                if gpu.supportsClusters {  // x multicast over clusters of 2 and 4 tiles (whole K)
                    choices.append(.swapped(rowsPerBlock: width, stages: 3, splits: 1, multicast: 2))
                    choices.append(.swapped(rowsPerBlock: width, stages: 6, splits: 1, consumers: 2, multicast: 4))
                }
            }
        }
        for choice in choices {
            gpu.forcedSkinnyChoice = choice
            for (outputs, inputs, rows, withBias, f32) in plain {
                let label = "skinny \(choice)\(f32 ? " f32 out" : "") x [\(rows), \(inputs)] · w [\(outputs), \(inputs)]" + (withBias ? " + bias" : "")
                check(label, bound: bound(gpu)) {
                    let x = values(rows * inputs, gpu), w = values(outputs * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                    let b = withBias ? values(outputs, gpu) : nil
                    let out = f32 ? try DeviceTensor(rows: rows, columns: outputs, elementType: .f32, allocator: gpu.runtime.allocator)
                        : try gpu.makeTensor(rows: rows, columns: outputs)
                    let (weightSource, bytes) = try source(w, rows: outputs, columns: inputs)
                    let launches = skinnyLaunches(gpu, choice)
                    try gpu.linear(try upload(x, rows: rows, columns: inputs, to: gpu), weight: try gpu.loadWeight(weightSource),
                                   bias: try b.map { try gpu.loadVector($0, name: "bias") }, into: out)
                    guard skinnyLaunches(gpu, choice) > launches else { throw KilnError.invalidArgument("the skinny kernel \(choice) did not run") }
                    let expected = cpu.makeTensor(rows: rows, columns: outputs)
                    cpu.linear(cpu.tensor(x, rows: rows, columns: inputs), weight: try cpu.loadWeight(weightSource),
                               bias: try b.map { try cpu.loadVector($0, name: "bias") }, into: expected)
                    let result = (try gpu.read(out), cpu.values(of: expected))
                    withExtendedLifetime(bytes) {}
                    return result
                }
            }
            let gatedKernel = !choice.workspace && (!choice.swapped || SkinnyGEMMChoice.swappedWidths(gated: true).contains(choice.rowsPerBlock))
            for (mlp, inputs, rows) in !gatedKernel ? [] : quick ? [(1536, 576, 20)] : [(1536, 576, 20), (100, 72, 64), (16384, 2048, 64)] {
                let label = "skinny \(choice) gate/up gelu x [\(rows), \(inputs)] · [2x\(mlp), \(inputs)]"
                check(label, bound: bound(gpu)) {
                    try gatedResult(gpu, mlp: mlp, inputs: inputs, rows: rows, activation: .geluTanh, requireSkinny: choice)
                }
            }
            if !quick && gatedKernel { check("skinny \(choice) gate/up silu x [40, 136] · [2x200, 136]", bound: bound(gpu)) {
                try gatedResult(gpu, mlp: 200, inputs: 136, rows: 40, activation: .silu, requireSkinny: choice)
            } }
        }
    }

    func checkGatedLinear(_ gpu: CUDABackend) {
        let shapes = quick ? [(1536, 576)] : [(8, 64), (100, 72), (1536, 576), (16384, 2048)]
        for (mlp, inputs) in shapes {
            // 9 and 40 rows: the skinny kernel or the library, whichever the timing picks.
            for rows in [1, 5, 9, 40] {
                for activation in [GateActivation.silu, .geluTanh] {
                    let label = "gatedLinear \(gpu.precision) \(activation) x [\(rows), \(inputs)] · gate/up [2x\(mlp), \(inputs)]"
                    check(label, bound: bound(gpu)) { try gatedResult(gpu, mlp: mlp, inputs: inputs, rows: rows, activation: activation) }
                }
            }
        }
    }

    /// Launches so far of the skinny kernels of `choice`'s configuration (any product; the name
    /// suffix tells the cp.async and TMA forms apart).
    private func skinnyLaunches(_ gpu: CUDABackend, _ choice: SkinnyGEMMChoice) -> Int {
        gpu.skinnyLaunches.withLock { $0.filter { $0.key.hasSuffix(choice.suffix) }.values.reduce(0, +) }
    }

    /// gatedLinear on a gate/up weight joined on the GPU, and its CPU twin (two products, then
    /// gatedActivation). `requireSkinny`: fail unless that skinny-GEMM configuration ran (forced checks).
    private func gatedResult(_ gpu: CUDABackend, mlp: Int, inputs: Int, rows: Int, activation: GateActivation,
                             requireSkinny: SkinnyGEMMChoice? = nil) throws -> (gpu: [Float], cpu: [Float]) {
        let x = values(rows * inputs, gpu)
        let gate = values(mlp * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
        let up = values(mlp * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
        let parts = [try gpu.loadWeight(try source(gate, rows: mlp, columns: inputs).source),
                     try gpu.loadWeight(try source(up, rows: mlp, columns: inputs).source)]
        guard let fused = try gpu.concatenateRows(parts) else {
            throw KilnError.invalidArgument("CUDABackend did not join gate and up")
        }
        let out = try gpu.makeTensor(rows: rows, columns: mlp)
        let launches = requireSkinny.map { skinnyLaunches(gpu, $0) }
        try gpu.gatedLinear(try upload(x, rows: rows, columns: inputs, to: gpu), gateUp: fused, activation: activation, into: out)
        if let choice = requireSkinny, skinnyLaunches(gpu, choice) == launches {
            throw KilnError.invalidArgument("the skinny kernel \(choice) did not run")
        }
        let cx = cpu.tensor(x, rows: rows, columns: inputs)
        let g = cpu.makeTensor(rows: rows, columns: mlp), u = cpu.makeTensor(rows: rows, columns: mlp)
        cpu.linear(cx, weight: try cpu.loadWeight(try source(gate, rows: mlp, columns: inputs).source), bias: nil, into: g)
        cpu.linear(cx, weight: try cpu.loadWeight(try source(up, rows: mlp, columns: inputs).source), bias: nil, into: u)
        cpu.gatedActivation(gate: g, up: u, activation: activation, into: g)
        return (try gpu.read(out), cpu.values(of: g))
    }

    // MARK: - Decode attention

    func checkDecodeAttention(_ gpu: CUDABackend) {
        // (heads, kvHeads, headDim, window, softcap)
        let cases: [(Int, Int, Int, Int?, Float?)] = quick
            ? [(8, 1, 256, nil, nil), (9, 3, 64, nil, nil)]
            : [(8, 1, 256, nil, nil), (9, 3, 64, nil, nil), (32, 8, 128, nil, nil), (4, 4, 64, 40, nil), (16, 2, 256, 100, 50),
               (12, 1, 128, nil, 30)]
        for (heads, kvHeads, headDim, window, cap) in cases {
            // 20 rows: wide groups take the 8-head tile (the batched-decode instantiations).
            for rows in [1, 3, 8, 20] {
                let contexts = (0..<rows).map { _ in 1 + Int(random.next() % 700) }
                let label = "decode attention \(gpu.precision) h\(headDim) \(heads)/\(kvHeads) rows \(rows) ctx ≤\(contexts.max()!)"
                    + (window.map { " window \($0)" } ?? "") + (cap.map { " cap \($0)" } ?? "")
                let parameters = AttentionParameters(heads: heads, kvHeads: kvHeads, headDim: headDim,
                                                     scale: 1 / Float(headDim).squareRoot(), slidingWindow: window, softcap: cap)
                check(label, bound: bound(gpu)) {
                    try decodeAttention(gpu, contexts: contexts, parameters: parameters)
                }
            }
        }
    }

    /// Fills each sequence's cache (prefill step with random K/V), then one decode step: one new
    /// token per sequence, its K/V written, attention of its query over the whole context.
    func decodeAttention(_ gpu: CUDABackend, contexts: [Int], parameters: AttentionParameters) throws -> (gpu: [Float], cpu: [Float]) {
        let blockSize = 16, width = parameters.kvHeads * parameters.headDim, qWidth = parameters.heads * parameters.headDim
        var tables: [[Int]] = [], next = 0
        for context in contexts {
            let blocks = (context + blockSize - 1) / blockSize
            tables.append(Array((next..<(next + blocks)).reversed())) // scrambled, as a paged cache hands out
            next += blocks
        }
        let shape = KVCacheShape(layers: 1, blocks: next, blockSize: blockSize, kvHeads: parameters.kvHeads, headDim: parameters.headDim)
        let gpuCache = try gpu.makeCache(shape), cpuCache = try cpu.makeCache(shape)
        func slot(_ s: Int, _ p: Int) -> Int { tables[s][p / blockSize] * blockSize + p % blockSize }

        // Step 1: every position but the last of each sequence.
        var tokens: [Int] = [], positions: [Int] = [], slots: [Int] = [], sequences: [ForwardBatch.Sequence] = []
        for (s, context) in contexts.enumerated() {
            sequences.append(.init(tokenStart: tokens.count, tokenCount: context - 1, contextLength: context - 1, blockTable: tables[s]))
            for p in 0..<(context - 1) {
                tokens.append(0)
                positions.append(p)
                slots.append(slot(s, p))
            }
        }
        let prefill = ForwardBatch(tokens: tokens, positions: positions, slots: slots, sequences: sequences, logitRows: [])
        if !tokens.isEmpty {
            let keys = values(tokens.count * width, gpu), vals = values(tokens.count * width, gpu)
            try gpu.prepare(prefill)
            try gpu.writeCache(gpuCache, layer: 0, keys: try upload(keys, rows: tokens.count, columns: width, to: gpu),
                               values: try upload(vals, rows: tokens.count, columns: width, to: gpu), slots: slots)
            cpu.writeCache(cpuCache, layer: 0, keys: cpu.tensor(keys, rows: tokens.count, columns: width),
                           values: cpu.tensor(vals, rows: tokens.count, columns: width), slots: slots)
        }
        // Step 2: the decode step.
        let rows = contexts.count
        let decode = ForwardBatch(tokens: Array(repeating: 0, count: rows), positions: contexts.map { $0 - 1 },
                                  slots: contexts.indices.map { slot($0, contexts[$0] - 1) },
                                  sequences: contexts.indices.map { .init(tokenStart: $0, tokenCount: 1, contextLength: contexts[$0], blockTable: tables[$0]) },
                                  logitRows: Array(0..<rows))
        let keys = values(rows * width, gpu), vals = values(rows * width, gpu), query = values(rows * qWidth, gpu)
        try gpu.prepare(decode)
        try gpu.writeCache(gpuCache, layer: 0, keys: try upload(keys, rows: rows, columns: width, to: gpu),
                           values: try upload(vals, rows: rows, columns: width, to: gpu), slots: decode.slots)
        let out = try gpu.makeTensor(rows: rows, columns: qWidth)
        try gpu.attention(query: try upload(query, rows: rows, columns: qWidth, to: gpu), cache: gpuCache, layer: 0, batch: decode,
                          parameters: parameters, into: out)
        cpu.writeCache(cpuCache, layer: 0, keys: cpu.tensor(keys, rows: rows, columns: width),
                       values: cpu.tensor(vals, rows: rows, columns: width), slots: decode.slots)
        let expected = cpu.makeTensor(rows: rows, columns: qWidth)
        cpu.attention(query: cpu.tensor(query, rows: rows, columns: qWidth), cache: cpuCache, layer: 0, batch: decode,
                      parameters: parameters, into: expected)
        return (try gpu.read(out), cpu.values(of: expected))
    }

    // MARK: - Decode attention with its input formed in the kernel

    /// attentionWithInput on decode batches (bf16: the Q/K/V product, then one kernel forming
    /// the queries and new keys, writing the new K/V and attending) against the CPU's three
    /// products, headRMSNorm, rope, writeCache and attention; two decode steps, so the second
    /// reads the K/V the first wrote to the cache.
    func checkFusedDecodeInput(_ gpu: CUDABackend) {
        // (heads, kvHeads, headDim, rotated pairs, style, QK-norm, window, softcap)
        let cases: [(Int, Int, Int, Int, RopeStyle, Bool, Int?, Float?)] = quick
            ? [(8, 1, 256, 128, .halves, false, nil, nil), (4, 2, 64, 32, .halves, true, nil, nil)]
            : [(8, 1, 256, 128, .halves, false, nil, nil), (4, 2, 64, 32, .halves, true, nil, nil),
               (6, 2, 128, 64, .interleaved, false, nil, nil), (12, 3, 128, 32, .interleaved, true, nil, nil),
               (16, 2, 256, 128, .halves, false, 100, 50), (8, 8, 64, 16, .halves, false, nil, nil)]
        // Each kernel: CUDA cores (attention_decode_input_*) and tensor cores (attention_decode_mma_*,
        // with its ring of one and two tile buffers; at 40 rows a partition holds 128-704 keys,
        // several tiles a warp, and 8/1 still splits into 3; 1-8 rows cover the reduce for every
        // case). The tensor-core checks fail unless that kernel ran.
        let kernels: [(label: String, mma: Bool, stages: Int?)] = [("", false, nil), (" mma", true, nil), (" mma 1 stage", true, 1)]
        for (heads, kvHeads, headDim, pairs, style, qkNorm, window, cap) in cases {
            for kernel in kernels {
                for rows in kernel.stages == nil ? [1, 3, 8, 40] : [40] {
                    let contexts = (0..<rows).map { _ in 1 + Int(random.next() % 700) }
                    let label = "attentionWithInput decode\(kernel.label) \(heads)/\(kvHeads) h\(headDim) \(pairs) pairs \(style)"
                        + (qkNorm ? " qk-norm" : "") + (window.map { " window \($0)" } ?? "") + (cap.map { " cap \($0)" } ?? "")
                        + " rows \(rows) ctx ≤\(contexts.max()! + 1)"
                    let attention = AttentionParameters(heads: heads, kvHeads: kvHeads, headDim: headDim,
                                                        scale: 1 / Float(headDim).squareRoot(), slidingWindow: window, softcap: cap)
                    let rope = RopeParameters(inverseFrequencies: (0..<pairs).map { Float(pow(10000.0, -2.0 * Double($0) / Double(2 * pairs))) },
                                              style: style)
                    let (savedMMA, savedStages) = (gpu.decodeAttentionMMA, gpu.decodeMMAStages)
                    gpu.decodeAttentionMMA = kernel.mma
                    gpu.decodeMMAStages = kernel.stages
                    defer { (gpu.decodeAttentionMMA, gpu.decodeMMAStages) = (savedMMA, savedStages) }
                    check(label, bound: bound(gpu)) {
                        let launches = gpu.tensorCoreDecodeLaunches.withLock { $0 }
                        let result = try fusedDecodeInput(gpu, contexts: contexts, attention: attention, rope: rope, qkNorm: qkNorm)
                        let ran = gpu.tensorCoreDecodeLaunches.withLock { $0 } > launches
                        guard ran == kernel.mma else { throw KilnError.invalidArgument("the tensor-core decode kernel \(ran ? "ran" : "did not run")") }
                        return result
                    }
                }
            }
        }
    }

    func fusedDecodeInput(_ gpu: CUDABackend, contexts: [Int], attention: AttentionParameters, rope: RopeParameters,
                          qkNorm: Bool) throws -> (gpu: [Float], cpu: [Float]) {
        let hidden = 64, headDim = attention.headDim, blockSize = 16
        let qWidth = attention.heads * headDim, kvWidth = attention.kvHeads * headDim
        let widths = [qWidth, kvWidth, kvWidth]
        let weights = widths.map { values($0 * hidden, gpu, scale: 0.125) }
        let norms = qkNorm ? [values(headDim, gpu, scale: 0.2).map { $0 + 1 }, values(headDim, gpu, scale: 0.2).map { $0 + 1 }] : []
        // Each sequence: its own blocks, in reverse order, room for two decode steps.
        var tables: [[Int]] = [], next = 0
        for context in contexts {
            let blocks = (context + 1 + blockSize - 1) / blockSize
            tables.append(Array((next..<(next + blocks)).reversed()))
            next += blocks
        }
        let shape = KVCacheShape(layers: 1, blocks: next, blockSize: blockSize, kvHeads: attention.kvHeads, headDim: headDim)
        let gpuCache = try gpu.makeCache(shape), cpuCache = try cpu.makeCache(shape)
        func slot(_ s: Int, _ p: Int) -> Int { tables[s][p / blockSize] * blockSize + p % blockSize }
        var keep: [HostBytes] = []
        func weight<W>(_ load: (WeightSource) throws -> W, _ index: Int) throws -> W {
            let (source, bytes) = try self.source(weights[index], rows: widths[index], columns: hidden)
            keep.append(bytes)
            return try load(source)
        }
        guard let qkv = try gpu.concatenateRows(try (0..<3).map { try weight(gpu.loadWeight, $0) }) else {
            throw KilnError.invalidArgument("CUDABackend did not join Q/K/V")
        }
        let cpuWeights = try (0..<3).map { try weight(cpu.loadWeight, $0) }
        let gpuNorms = qkNorm ? try norms.map { try gpu.loadVector($0, name: "qk_norm") } : []
        let cpuNorms = qkNorm ? try norms.map { try cpu.loadVector($0, name: "qk_norm") } : []

        // Every position before each sequence's last (context - 1 tokens): random K/V, as a prefill would leave.
        let earlier = contexts.indices.flatMap { s in (0..<(contexts[s] - 1)).map { slot(s, $0) } }
        if !earlier.isEmpty {
            let keys = values(earlier.count * kvWidth, gpu), vals = values(earlier.count * kvWidth, gpu)
            let fill = ForwardBatch(tokens: Array(repeating: 0, count: earlier.count), positions: Array(repeating: 0, count: earlier.count),
                                    slots: earlier, sequences: [.init(tokenStart: 0, tokenCount: earlier.count, contextLength: earlier.count,
                                                                      blockTable: tables[0])], logitRows: [])
            try gpu.prepare(fill)
            try gpu.writeCache(gpuCache, layer: 0, keys: try upload(keys, rows: earlier.count, columns: kvWidth, to: gpu),
                               values: try upload(vals, rows: earlier.count, columns: kvWidth, to: gpu), slots: earlier)
            cpu.writeCache(cpuCache, layer: 0, keys: cpu.tensor(keys, rows: earlier.count, columns: kvWidth),
                           values: cpu.tensor(vals, rows: earlier.count, columns: kvWidth), slots: earlier)
        }
        var gpuResults: [Float] = [], cpuResults: [Float] = []
        for extra in 0..<2 {  // step 1 at position context - 1, step 2 one further
            let rows = contexts.count
            let batch = ForwardBatch(tokens: Array(repeating: 0, count: rows), positions: contexts.map { $0 - 1 + extra },
                                     slots: contexts.indices.map { slot($0, contexts[$0] - 1 + extra) },
                                     sequences: contexts.indices.map { .init(tokenStart: $0, tokenCount: 1, contextLength: contexts[$0] + extra,
                                                                             blockTable: tables[$0]) },
                                     logitRows: Array(0..<rows))
            let x = values(rows * hidden, gpu)
            try gpu.prepare(batch)
            let query = try gpu.makeTensor(rows: rows, columns: qWidth), out = try gpu.makeTensor(rows: rows, columns: qWidth)
            // The check is of the fused kernel: the batch must take that path.
            guard gpu.fusesDecodeInputs,
                  CUDABackend.fusesDecodeInput(batch, parameters: attention, pairs: rope.inverseFrequencies.count, elementType: .bf16) else {
                throw KilnError.invalidArgument("this decode batch would not run the fused-input kernel (KILN_FUSED_DECODE_INPUT=0?)")
            }
            try gpu.attentionWithInput(try upload(x, rows: rows, columns: hidden, to: gpu), qkv: qkv, bias: nil,
                                       queryNorm: qkNorm ? gpuNorms[0] : nil, keyNorm: qkNorm ? gpuNorms[1] : nil, epsilon: 1e-6,
                                       attention: attention, rope: rope, batch: batch, cache: gpuCache, layer: 0, query: query, into: out)
            gpuResults += try gpu.read(out)
            // The new K/V rows the kernel wrote, read back from the cache (step 2 also reads them, but
            // as one key among hundreds).
            let cached = gpuCache.tensors(layer: 0)
            let cachedKeys = try gpu.read(cached.keys), cachedValues = try gpu.read(cached.values)
            for slot in batch.slots {
                let range = (slot * kvWidth)..<((slot + 1) * kvWidth)
                gpuResults.append(contentsOf: cachedKeys[range])
                gpuResults.append(contentsOf: cachedValues[range])
            }

            let cx = cpu.tensor(x, rows: rows, columns: hidden)
            let outs = widths.map { cpu.makeTensor(rows: rows, columns: $0) }
            for i in 0..<3 { cpu.linear(cx, weight: cpuWeights[i], bias: nil, into: outs[i]) }
            for (tensor, heads) in [(outs[0], attention.heads), (outs[1], attention.kvHeads)] {
                if qkNorm {
                    cpu.headRMSNorm(tensor, heads: heads, headDim: headDim, weight: cpuNorms[tensor === outs[0] ? 0 : 1], epsilon: 1e-6)
                }
                // The GPU stores bf16 after the norm and after RoPE: the same roundings here.
                cpu.rope(tensor, heads: heads, headDim: headDim, positions: batch.positions, parameters: rope)
            }
            cpu.writeCache(cpuCache, layer: 0, keys: outs[1], values: outs[2], slots: batch.slots)
            let expected = cpu.makeTensor(rows: rows, columns: qWidth)
            cpu.attention(query: outs[0], cache: cpuCache, layer: 0, batch: batch, parameters: attention, into: expected)
            cpuResults += cpu.values(of: expected)
            let newKeys = cpu.values(of: outs[1]), newValues = cpu.values(of: outs[2])
            for row in 0..<rows {
                let range = (row * kvWidth)..<((row + 1) * kvWidth)
                cpuResults.append(contentsOf: newKeys[range])
                cpuResults.append(contentsOf: newValues[range])
            }
        }
        withExtendedLifetime(keep) {}
        return (gpuResults, cpuResults)
    }

    // MARK: - Harness

    func bound(_ gpu: CUDABackend) -> Double { gpu.precision == .f32 ? 1e-5 : 1e-2 }

    private func check(_ label: String, bound: Double, _ body: () throws -> (gpu: [Float], cpu: [Float])) {
        if let only, !label.contains(only) { return }
        do {
            let (gpu, cpu) = try body()
            let error = GPUParityChecks.relativeError(gpu, cpu)
            let ok = error < bound
            ok ? (passed += 1) : (failed += 1)
            print(String(format: "%@ %@: rel error %.2e (bound %.0e)", ok ? "PASS" : "FAIL", label, error, bound))
        } catch {
            failed += 1
            print("FAIL \(label): \(error)")
        }
    }

    /// Random normal values (never zero), rounded to bf16 when the backend stores bf16 so that
    /// both backends see the same inputs.
    private func values(_ count: Int, _ gpu: CUDABackend, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in
            var value: Float = 0
            while value == 0 { value = random.normal() * scale }
            return gpu.precision == .bf16 ? HalfPrecision.bf16ToFloat(HalfPrecision.floatToBF16(value)) : value
        }
    }

    /// An fp32 weight source over host memory (kept alive by the returned bytes).
    private func source(_ values: [Float], rows: Int, columns: Int) throws -> (source: WeightSource, bytes: HostBytes) {
        let bytes = HostBytes(count: values.count * 4)
        for (i, v) in values.enumerated() { bytes.buffer.storeBytes(of: v.bitPattern, toByteOffset: 4 * i, as: UInt32.self) }
        return (try WeightSource(name: "check", shape: [rows, columns], storage: .dense(.f32), bytes: UnsafeRawBufferPointer(bytes.buffer), owner: bytes), bytes)
    }

    private func upload(_ values: [Float], rows: Int, columns: Int, to gpu: CUDABackend) throws -> DeviceTensor {
        let tensor = try gpu.makeTensor(rows: rows, columns: columns)
        switch gpu.precision {
        case .f32: try gpu.stream.upload(values, to: tensor.buffer)
        case .bf16: try gpu.stream.upload(values.map { HalfPrecision.floatToBF16($0) }, to: tensor.buffer)
        }
        try gpu.stream.synchronize()
        return tensor
    }


}
