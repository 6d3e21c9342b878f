/// Element types of dense tensors as checkpoints store them (safetensors names in `init?(safetensorsName:)`).
public enum DType: String, Sendable, CaseIterable, Codable {
    case f64, f32, f16, bf16
    /// FP8 with 4 exponent bits and 3 mantissa bits (OCP "E4M3FN": no infinities, one NaN pattern).
    case f8e4m3
    /// FP8 with 5 exponent bits and 2 mantissa bits (IEEE-like, has infinities).
    case f8e5m2
    case i64, i32, i16, i8, u8, bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }

    /// True for floating-point types (the ones a model's weights are computed in).
    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: return true
        default: return false
        }
    }

    /// The dtype for a safetensors header `dtype` string ("BF16", "F8_E4M3", ...), nil when unknown.
    public init?(safetensorsName name: String) {
        switch name {
        case "F64": self = .f64
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        case "F8_E4M3": self = .f8e4m3
        case "F8_E5M2": self = .f8e5m2
        case "I64": self = .i64
        case "I32": self = .i32
        case "I16": self = .i16
        case "I8": self = .i8
        case "U8": self = .u8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    /// The safetensors spelling of this dtype.
    public var safetensorsName: String {
        switch self {
        case .f64: return "F64"
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .f8e4m3: return "F8_E4M3"
        case .f8e5m2: return "F8_E5M2"
        case .i64: return "I64"
        case .i32: return "I32"
        case .i16: return "I16"
        case .i8: return "I8"
        case .u8: return "U8"
        case .bool: return "BOOL"
        }
    }
}
