/// Every error Kiln reports to a user: one line that names the file (or input) and what is wrong.
public enum KilnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A file is malformed: truncated, bad magic, a field out of range.
    case invalidFile(path: String, reason: String)
    /// A file or directory that should exist does not.
    case missingFile(path: String, reason: String)
    /// A format feature Kiln does not implement (unknown dtype, unsupported version).
    case unsupported(path: String, reason: String)
    /// Bad input from the user (flags, text, values).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .invalidFile(path, reason): return "\(path): \(reason)"
        case let .missingFile(path, reason): return "\(path): \(reason)"
        case let .unsupported(path, reason): return "\(path): unsupported: \(reason)"
        case let .invalidArgument(message): return message
        }
    }
}
