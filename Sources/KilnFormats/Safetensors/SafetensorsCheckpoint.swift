import Foundation
import KilnCore

/// All safetensors weights of a Hugging Face model directory: one `model.safetensors`, or shards
/// listed by `model.safetensors.index.json` (`{"weight_map": {"tensor": "model-00001-of-00002.safetensors"}}`).
public final class SafetensorsCheckpoint: @unchecked Sendable {
    /// The opened files, in shard order.
    public let files: [SafetensorsFile]
    /// Which file holds each tensor.
    private let fileIndexByTensor: [String: Int]

    /// Opens the weights of `directory`. Throws `missingFile` when it holds no safetensors.
    public init(directory: String) throws {
        let manager = FileManager.default
        let indexPath = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        let singlePath = (directory as NSString).appendingPathComponent("model.safetensors")
        var shardNames: [String]
        var declaredMap: [String: String]? = nil
        if manager.fileExists(atPath: indexPath) {
            let map = try Self.readWeightMap(indexPath)
            declaredMap = map
            shardNames = Array(Set(map.values)).sorted()
        } else if manager.fileExists(atPath: singlePath) {
            shardNames = ["model.safetensors"]
        } else {
            let entries = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
            shardNames = entries.filter { $0.hasSuffix(".safetensors") }.sorted()
            guard !shardNames.isEmpty else {
                throw KilnError.missingFile(path: directory, reason: "no model.safetensors, model.safetensors.index.json or *.safetensors file")
            }
        }
        var files: [SafetensorsFile] = []
        var index: [String: Int] = [:]
        for name in shardNames {
            let shardPath = (directory as NSString).appendingPathComponent(name)
            guard manager.fileExists(atPath: shardPath) else {
                throw KilnError.missingFile(path: shardPath, reason: "shard listed in model.safetensors.index.json is missing")
            }
            let file = try SafetensorsFile(path: shardPath)
            for tensorName in file.tensors.keys {
                if let previous = index[tensorName] {
                    throw KilnError.invalidFile(path: shardPath, reason: "tensor '\(tensorName)' also appears in \(files[previous].path)")
                }
                index[tensorName] = files.count
            }
            files.append(file)
        }
        if let declaredMap {
            for (tensorName, shard) in declaredMap where index[tensorName] == nil {
                throw KilnError.invalidFile(path: indexPath, reason: "tensor '\(tensorName)' is mapped to \(shard) but that file does not contain it")
            }
        }
        self.files = files
        self.fileIndexByTensor = index
    }

    private static func readWeightMap(_ path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KilnError.missingFile(path: path, reason: "cannot read")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let map = object["weight_map"] as? [String: String] else {
            throw KilnError.invalidFile(path: path, reason: "expected a JSON object with a \"weight_map\" of tensor name to file name")
        }
        for shard in Set(map.values) where shard.contains("/") || shard.hasPrefix(".") {
            throw KilnError.invalidFile(path: path, reason: "shard name '\(shard)' must be a plain file name")
        }
        return map
    }

    /// Every tensor of the checkpoint.
    public var tensors: [SafetensorsTensorInfo] {
        files.flatMap { file in file.tensorNames.compactMap { file.tensors[$0] } }
    }

    /// The tensor called `name`, nil when absent.
    public func tensor(_ name: String) -> SafetensorsTensorInfo? {
        guard let index = fileIndexByTensor[name] else { return nil }
        return files[index].tensors[name]
    }

    /// The raw bytes of tensor `name`.
    public func data(of name: String) throws -> UnsafeRawBufferPointer {
        guard let index = fileIndexByTensor[name], let info = files[index].tensors[name] else {
            throw KilnError.invalidArgument("tensor '\(name)' is not in the checkpoint")
        }
        return try files[index].data(of: info)
    }

    /// Tensor `name` converted to fp32 (any floating or integer dtype).
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensor(name) else {
            throw KilnError.invalidArgument("tensor '\(name)' is not in the checkpoint")
        }
        let bytes = try data(of: name)
        return DenseConversion.floats(from: bytes, dtype: info.dtype, count: info.elementCount)
    }
}
