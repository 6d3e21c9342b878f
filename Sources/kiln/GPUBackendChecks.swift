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
    var random: SplitMix64
    private(set) var passed = 0
    private(set) var failed = 0
    let cpu = CPUBackend()

    init(runtime: CUDARuntime, seed: UInt64, quick: Bool) {
        self.runtime = runtime
        self.quick = quick
        random = SplitMix64(seed: seed)
    }

    func runAll() throws {
        let backends = [try CUDABackend(runtime: runtime, precision: .bf16), try CUDABackend(runtime: runtime, precision: .f32)]
        for backend in backends {
            checkLinear(backend)
            checkGatedLinear(backend)
            checkDecodeAttention(backend)
        }
    }

    // MARK: - Products

    func checkLinear(_ gpu: CUDABackend) {
        let shapes = quick ? [(17, 64), (2560, 2048)] : [(1, 8), (17, 64), (300, 72), (2048, 576), (2560, 2048), (4099, 576)]
        for (outputs, inputs) in shapes {
            for rows in [1, 3, 8] {
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
                    let cx = cpuTensor(x, rows: rows, columns: inputs)
                    let cw = try cpu.loadWeight(try source(w, rows: outputs, columns: inputs).source)
                    let expected = cpu.makeTensor(rows: rows, columns: outputs)
                    cpu.linear(cx, weight: cw, bias: try b.map { try cpu.loadVector($0, name: "bias") }, into: expected)
                    return (try gpu.read(out), Array(UnsafeBufferPointer(start: expected.data, count: rows * outputs)))
                }
            }
        }
    }

    func checkGatedLinear(_ gpu: CUDABackend) {
        let shapes = quick ? [(1536, 576)] : [(8, 64), (100, 72), (1536, 576), (16384, 2048)]
        for (mlp, inputs) in shapes {
            for rows in [1, 5, 9] {
                for activation in [GateActivation.silu, .geluTanh] {
                    let label = "gatedLinear \(gpu.precision) \(activation) x [\(rows), \(inputs)] · gate/up [2x\(mlp), \(inputs)]"
                    check(label, bound: bound(gpu)) {
                        let x = values(rows * inputs, gpu)
                        let gate = values(mlp * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                        let up = values(mlp * inputs, gpu, scale: 1 / Float(inputs).squareRoot())
                        let parts = [try gpu.loadWeight(try source(gate, rows: mlp, columns: inputs).source),
                                     try gpu.loadWeight(try source(up, rows: mlp, columns: inputs).source)]
                        guard let fused = try gpu.concatenateRows(parts) else {
                            throw KilnError.invalidArgument("CUDABackend did not join gate and up")
                        }
                        let out = try gpu.makeTensor(rows: rows, columns: mlp)
                        try gpu.gatedLinear(try upload(x, rows: rows, columns: inputs, to: gpu), gateUp: fused, activation: activation, into: out)
                        let cx = cpuTensor(x, rows: rows, columns: inputs)
                        let g = cpu.makeTensor(rows: rows, columns: mlp), u = cpu.makeTensor(rows: rows, columns: mlp)
                        cpu.linear(cx, weight: try cpu.loadWeight(try source(gate, rows: mlp, columns: inputs).source), bias: nil, into: g)
                        cpu.linear(cx, weight: try cpu.loadWeight(try source(up, rows: mlp, columns: inputs).source), bias: nil, into: u)
                        cpu.gatedActivation(gate: g, up: u, activation: activation, into: g)
                        return (try gpu.read(out), Array(UnsafeBufferPointer(start: g.data, count: rows * mlp)))
                    }
                }
            }
        }
    }

    // MARK: - Decode attention

    func checkDecodeAttention(_ gpu: CUDABackend) {
        // (heads, kvHeads, headDim, window, softcap)
        let cases: [(Int, Int, Int, Int?, Float?)] = quick
            ? [(8, 1, 256, nil, nil), (9, 3, 64, nil, nil)]
            : [(8, 1, 256, nil, nil), (9, 3, 64, nil, nil), (32, 8, 128, nil, nil), (4, 4, 64, 40, nil), (16, 2, 256, 100, 50),
               (12, 1, 128, nil, 30)]
        for (heads, kvHeads, headDim, window, cap) in cases {
            for rows in [1, 3, 8] {
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
            cpu.writeCache(cpuCache, layer: 0, keys: cpuTensor(keys, rows: tokens.count, columns: width),
                           values: cpuTensor(vals, rows: tokens.count, columns: width), slots: slots)
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
        cpu.writeCache(cpuCache, layer: 0, keys: cpuTensor(keys, rows: rows, columns: width),
                       values: cpuTensor(vals, rows: rows, columns: width), slots: decode.slots)
        let expected = cpu.makeTensor(rows: rows, columns: qWidth)
        cpu.attention(query: cpuTensor(query, rows: rows, columns: qWidth), cache: cpuCache, layer: 0, batch: decode,
                      parameters: parameters, into: expected)
        return (try gpu.read(out), Array(UnsafeBufferPointer(start: expected.data, count: rows * qWidth)))
    }

    // MARK: - Harness

    func bound(_ gpu: CUDABackend) -> Double { gpu.precision == .f32 ? 1e-5 : 1e-2 }

    private func check(_ label: String, bound: Double, _ body: () throws -> (gpu: [Float], cpu: [Float])) {
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

    private func cpuTensor(_ values: [Float], rows: Int, columns: Int) -> CPUTensor {
        let tensor = cpu.makeTensor(rows: rows, columns: columns)
        values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: rows * columns) }
        return tensor
    }
}
