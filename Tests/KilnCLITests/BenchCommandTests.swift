import Foundation
import Testing

@Suite struct BenchCommandTests {
    @Test func latencyAndStaticRunOnTinyRandomWeights() throws {
        let latency = try KilnProcess.run(["bench", "latency", "--random-weights", "tiny-llama", "--backend", "cpu",
                                           "--input", "8", "--output", "4", "--runs", "1"])
        #expect(latency.status == 0, "\(latency.standardError)")
        #expect(latency.standardOutput.contains("decode") && latency.standardOutput.contains("tokens/s"))
        let batch = try KilnProcess.run(["bench", "static", "--random-weights", "tiny-gemma", "--backend", "cpu",
                                         "--batch", "3", "--input", "8", "--output", "4"])
        #expect(batch.status == 0, "\(batch.standardError)")
        #expect(batch.standardOutput.contains("output tokens/s"))
        let neither = try KilnProcess.run(["bench", "static"])
        #expect(neither.status == 1)
        #expect(neither.standardError.contains("--random-weights"))
    }
}
