import Foundation
import KilnEngine

/// The JSON object and the closing line of `kiln generate`.
enum GenerateReport {
    static func json(_ result: GenerationResult, loadSeconds: Double, backend: String) throws -> String {
        var object: [String: Any] = [
            "backend": backend,
            "prompt_ids": result.promptIDs,
            "output_ids": result.outputIDs,
            "text": result.text,
            "finish_reason": result.finishReason.openAIName,
            "load_seconds": loadSeconds,
            "prefill_seconds": result.prefillSeconds,
            "decode_tokens_per_second": result.decodeTokensPerSecond,
        ]
        if result.tokens.contains(where: { $0.logprob != nil }) {
            object["logprobs"] = result.tokens.map { token -> [String: Any] in
                let logprob: Any = token.logprob.map { Double($0) } ?? NSNull()
                return ["id": token.id, "logprob": logprob,
                 "top": token.topLogprobs.map { ["id": $0.id, "logprob": Double($0.logprob)] }]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func summary(_ result: GenerationResult, loadSeconds: Double, backend: String) -> String {
        let prefillRate = result.prefillSeconds > 0 ? Double(result.promptIDs.count) / result.prefillSeconds : 0
        return "[\(backend) | " + String(format: "load %.2f s | prompt %d tokens, %.2f s (%.1f tokens/s) | %d tokens at %.2f tokens/s | finish: %@]",
                      loadSeconds, result.promptIDs.count, result.prefillSeconds, prefillRate,
                      result.outputIDs.count, result.decodeTokensPerSecond, result.finishReason.openAIName)
    }
}
