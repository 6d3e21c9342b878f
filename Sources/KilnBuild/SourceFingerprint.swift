import Foundation
import KilnCore
import KilnFormats

/// The SHA-256 of a checkpoint's files (each file's name, size and bytes, in name order), so an
/// engine records exactly what it was built from.
enum SourceFingerprint {
    static func sha256(of checkpoint: Checkpoint) throws -> String {
        var hash = SHA256()
        let files: [MappedFile]
        switch checkpoint {
        case let .gguf(file): files = [file.file]
        case let .huggingFace(_, weights), let .engine(_, _, weights): files = weights.files.map(\.file)
        }
        for file in files.sorted(by: { $0.path < $1.path }) {
            hash.update(Array("\((file.path as NSString).lastPathComponent)\n\(file.count)\n".utf8))
            hash.update(file.bytes)
        }
        return hash.finalizeHex()
    }
}
