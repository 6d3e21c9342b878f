import KilnBackend
import KilnCore
import KilnCPU
import KilnEngine
import KilnModels
import Testing

/// A CPU backend that "samples on the device" with the GPU kernel's CPU twin, to check the
/// generator's device path without a GPU: which requests take it, and that the request's random
/// stream advances one unit a token exactly as the host path's does.
final class TwinSamplingBackend: Backend, @unchecked Sendable {
    let cpu = CPUBackend()
    private(set) var sampledRows = 0
    var name: String { "twin-sampling" }
    func loadWeight(_ source: WeightSource) throws -> CPUWeight { try cpu.loadWeight(source) }
    func loadVector(_ values: [Float], name: String) throws -> CPUWeight { try cpu.loadVector(values, name: name) }
    func makeTensor(rows: Int, columns: Int) throws -> CPUTensor { cpu.makeTensor(rows: rows, columns: columns) }
    func makeCache(_ shape: KVCacheShape) throws -> CPUKVCache { try cpu.makeCache(shape) }
    func prepare(_ batch: ForwardBatch) throws { cpu.prepare(batch) }
    func embed(tokens: [Int], table: CPUWeight, scale: Float, into out: CPUTensor) throws { cpu.embed(tokens: tokens, table: table, scale: scale, into: out) }
    func rmsNorm(_ x: CPUTensor, weight: CPUWeight, epsilon: Float, into out: CPUTensor) throws { cpu.rmsNorm(x, weight: weight, epsilon: epsilon, into: out) }
    func headRMSNorm(_ x: CPUTensor, heads: Int, headDim: Int, weight: CPUWeight, epsilon: Float) throws {
        cpu.headRMSNorm(x, heads: heads, headDim: headDim, weight: weight, epsilon: epsilon)
    }
    func linear(_ x: CPUTensor, weight: CPUWeight, bias: CPUWeight?, into out: CPUTensor) throws { cpu.linear(x, weight: weight, bias: bias, into: out) }
    func add(_ x: CPUTensor, into accumulator: CPUTensor) throws { cpu.add(x, into: accumulator) }
    func gatedActivation(gate: CPUTensor, up: CPUTensor, activation: GateActivation, into out: CPUTensor) throws {
        cpu.gatedActivation(gate: gate, up: up, activation: activation, into: out)
    }
    func rope(_ x: CPUTensor, heads: Int, headDim: Int, positions: [Int], parameters: RopeParameters) throws {
        cpu.rope(x, heads: heads, headDim: headDim, positions: positions, parameters: parameters)
    }
    func writeCache(_ cache: CPUKVCache, layer: Int, keys: CPUTensor, values: CPUTensor, slots: [Int]) throws {
        cpu.writeCache(cache, layer: layer, keys: keys, values: values, slots: slots)
    }
    func attention(query: CPUTensor, cache: CPUKVCache, layer: Int, batch: ForwardBatch, parameters: AttentionParameters, into out: CPUTensor) throws {
        cpu.attention(query: query, cache: cache, layer: layer, batch: batch, parameters: parameters, into: out)
    }
    func softcap(_ x: CPUTensor, cap: Float) throws { cpu.softcap(x, cap: cap) }
    func gatherRows(_ x: CPUTensor, rows: [Int], into out: CPUTensor) throws { cpu.gatherRows(x, rows: rows, into: out) }
    func read(_ x: CPUTensor) throws -> [Float] { cpu.read(x) }

    func sampleRows(_ x: CPUTensor, columns: Int, parameters: [SamplingParameters], units: [Double]) throws -> [Int]? {
        let values = cpu.read(x)
        sampledRows += parameters.count
        return parameters.indices.map { row in
            Array(values[(row * columns)..<((row + 1) * columns)]).withUnsafeBufferPointer {
                GPUSamplingReference.sample($0, GPUSamplingReference.Parameters(parameters[row]), unit: units[row])
            }
        }
    }
}

@Suite struct DeviceSamplingGeneratorTests {
    @Test func plainDrawsAreSampledWhereTheLogitsAreWithOneUnitEachFromTheRequestsStream() throws {
        let backend = TwinSamplingBackend()
        let model = try DecoderModel(provider: RandomWeights(config: RandomWeightPreset.tinyLlama.config), backend: backend)
        let generator = TextGenerator(model: model, tokenizer: nil, prefillChunk: 3) // prefill in chunks: no draw for earlier ones
        let prompt = [5, 17, 42, 99, 7, 3, 250]
        let parameters = SamplingParameters(temperature: 0.9, topK: 50, topP: 0.9, seed: 11, maxTokens: 12, ignoreEOS: true)
        let result = try generator.generate(promptIDs: prompt, parameters: parameters)
        #expect(result.outputIDs.count == 12)
        #expect(backend.sampledRows == 12, "one device draw a token, none for the earlier prefill chunks")

        // The same ids from the twin fed with the request's stream, one unit a token.
        let cpuModel = try DecoderModel(provider: RandomWeights(config: RandomWeightPreset.tinyLlama.config), backend: CPUBackend())
        let cache = try cpuModel.backend.makeCache(cpuModel.cacheShape(blocks: 2, blockSize: 16))
        var stream = SeededGenerator(seed: 11)
        var logits = try cpuModel.forward(.single(tokens: prompt, startPosition: 0, blockTable: [0, 1], blockSize: 16), cache: cache)[0]
        var expected: [Int] = []
        for step in 0..<12 {
            let id = logits.withUnsafeBufferPointer {
                GPUSamplingReference.sample($0, GPUSamplingReference.Parameters(parameters), unit: stream.nextUnitInterval())
            }
            expected.append(id)
            logits = try cpuModel.forward(.single(tokens: [id], startPosition: prompt.count + step, blockTable: [0, 1], blockSize: 16), cache: cache)[0]
        }
        #expect(result.outputIDs == expected)

        // Penalties need the logits on the host: no device draw.
        let before = backend.sampledRows
        var penalised = parameters
        penalised.repetitionPenalty = 1.2
        _ = try generator.generate(promptIDs: prompt, parameters: penalised)
        #expect(backend.sampledRows == before)
    }
}
