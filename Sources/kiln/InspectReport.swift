import Foundation
import KilnCore
import KilnFormats

/// Renders a `CheckpointSummary` as the table or the JSON object of `kiln inspect`.
enum InspectReport {
    static func table(_ summary: CheckpointSummary) -> String {
        let config = summary.config
        var rows: [(String, String)] = [
            ("Model", summary.path),
            ("Name", summary.name ?? "-"),
            ("Format", summary.format),
            ("Architecture", config.modelType),
            ("Parameters", "\(Units.count(summary.parameterCount)) (\(summary.parameterCount))"),
            ("Tensors", "\(summary.tensorCount)"),
            ("Storage types", summary.tensorsByType.map { "\($0.type) x\($0.count)" }.joined(separator: ", ")),
            ("Stored size", Units.bytes(summary.storedBytes)),
            ("Memory at bf16", "\(Units.bytes(summary.bf16Bytes)) weights + \(Units.bytes(summary.kvCacheBytesPerToken * config.contextLength)) KV cache for one \(config.contextLength)-token sequence"),
            ("Context length", "\(config.contextLength)"),
            ("Layers", "\(config.layerCount)"),
            ("Hidden / MLP", "\(config.hiddenSize) / \(config.intermediateSize) (\(config.hiddenActivation))"),
            ("Heads", "\(config.attentionHeads) query, \(config.kvHeads) kv, size \(config.headDim)"),
            ("Vocabulary", "\(config.vocabularySize)"),
            ("RoPE base", ropeDescription(config)),
        ]
        if let window = config.slidingWindow {
            let count = config.slidingLayers.filter { $0 }.count
            rows.append(("Sliding window", "\(window) tokens on \(count) of \(config.layerCount) layers"))
        }
        if let cap = config.finalLogitSoftcap { rows.append(("Logit soft cap", "\(cap)")) }
        if let cap = config.attentionLogitSoftcap { rows.append(("Attention soft cap", "\(cap)")) }
        rows.append(("Tied embeddings", config.tieWordEmbeddings ? "yes" : "no"))
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func ropeDescription(_ config: ModelConfig) -> String {
        var text = "\(config.ropeTheta)"
        if let local = config.ropeLocalTheta { text += " (local layers \(local))" }
        if let scaling = config.ropeScaling { text += ", scaling \(scaling.type) x\(scaling.factor)" }
        return text
    }

    static func json(_ summary: CheckpointSummary) throws -> String {
        let config = summary.config
        let object: [String: Any] = [
            "path": summary.path,
            "name": summary.name ?? NSNull(),
            "format": summary.format,
            "architecture": config.modelType,
            "parameters": summary.parameterCount,
            "tensors": summary.tensorCount,
            "tensor_types": Dictionary(uniqueKeysWithValues: summary.tensorsByType.map { ($0.type, $0.count) }),
            "parameters_by_type": Dictionary(uniqueKeysWithValues: summary.parametersByType.map { ($0.type, $0.count) }),
            "stored_bytes": summary.storedBytes,
            "bf16_weight_bytes": summary.bf16Bytes,
            "kv_cache_bytes_per_token_bf16": summary.kvCacheBytesPerToken,
            "context_length": config.contextLength,
            "layers": config.layerCount,
            "hidden_size": config.hiddenSize,
            "intermediate_size": config.intermediateSize,
            "attention_heads": config.attentionHeads,
            "kv_heads": config.kvHeads,
            "head_dim": config.headDim,
            "vocab_size": config.vocabularySize,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func details(_ checkpoint: Checkpoint) -> String {
        var lines: [String] = []
        if case let .gguf(file) = checkpoint {
            lines.append("\nMetadata:")
            for key in file.metadataKeys { lines.append("  \(key) = \(file.metadata[key]!.summary)") }
        }
        lines.append("\nTensors:")
        for tensor in checkpoint.tensorSummaries {
            lines.append("  \(tensor.name)  \(tensor.storageType)  \(tensor.shape)")
        }
        return lines.joined(separator: "\n")
    }
}
