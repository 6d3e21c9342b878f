import KilnCore

/// GGUF's encodings on top of `ByteReader`: strings are a u64 length then UTF-8 bytes; values
/// carry a u32 type id (0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
/// 9 array, 10 u64, 11 i64, 12 f64); an array is an element type id, a u64 count, the elements.
extension ByteReader {
    mutating func readGGUFString(_ what: String) throws -> String {
        let length = try read(UInt64.self, "length of \(what)")
        guard length <= UInt64(bytes.count - offset) else {
            throw KilnError.invalidFile(path: path, reason: "corrupt \(what): length \(length) at offset \(offset - 8) passes the end of the file (\(bytes.count) bytes)")
        }
        return try readString(length: Int(length), what)
    }

    /// Smallest encoded size of one element of `typeID`, for bounding array counts; nil if unknown.
    static func minimumGGUFSize(typeID: UInt32) -> Int? {
        switch typeID {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8, 10, 11, 12: return 8
        case 9: return 12
        default: return nil
        }
    }

    mutating func readGGUFValue(typeID: UInt32, key: String, depth: Int) throws -> GGUFValue {
        let what = "metadata '\(key)'"
        switch typeID {
        case 0: return .uint(UInt64(try read(UInt8.self, what)))
        case 1: return .int(Int64(try read(Int8.self, what)))
        case 2: return .uint(UInt64(try read(UInt16.self, what)))
        case 3: return .int(Int64(try read(Int16.self, what)))
        case 4: return .uint(UInt64(try read(UInt32.self, what)))
        case 5: return .int(Int64(try read(Int32.self, what)))
        case 6: return .float(Double(try readFloat(what)))
        case 7:
            let byte = try read(UInt8.self, what)
            return .bool(byte != 0)
        case 8: return .string(try readGGUFString(what))
        case 9: return .array(try readGGUFArray(key: key, depth: depth))
        case 10: return .uint(try read(UInt64.self, what))
        case 11: return .int(try read(Int64.self, what))
        case 12: return .float(try readDouble(what))
        default:
            throw KilnError.invalidFile(path: path, reason: "\(what) has unknown value type \(typeID) at offset \(offset - 4)")
        }
    }

    private mutating func readGGUFArray(key: String, depth: Int) throws -> GGUFArray {
        guard depth < 4 else {
            throw KilnError.invalidFile(path: path, reason: "metadata '\(key)' nests arrays deeper than 4")
        }
        let elementType = try read(UInt32.self, "element type of metadata '\(key)'")
        let count = try read(UInt64.self, "length of metadata '\(key)'")
        guard let minimum = Self.minimumGGUFSize(typeID: elementType) else {
            throw KilnError.invalidFile(path: path, reason: "metadata '\(key)' is an array of unknown type \(elementType)")
        }
        guard count <= UInt64((bytes.count - offset) / minimum) else {
            throw KilnError.invalidFile(path: path, reason: "corrupt metadata '\(key)': \(count) elements cannot fit in the \(bytes.count - offset) bytes left")
        }
        let length = Int(count)
        let what = "element of metadata '\(key)'"
        switch elementType {
        case 0, 2, 4, 10:
            var values = [UInt64](); values.reserveCapacity(length)
            for _ in 0..<length {
                switch elementType {
                case 0: values.append(UInt64(try read(UInt8.self, what)))
                case 2: values.append(UInt64(try read(UInt16.self, what)))
                case 4: values.append(UInt64(try read(UInt32.self, what)))
                default: values.append(try read(UInt64.self, what))
                }
            }
            return .uints(values)
        case 1, 3, 5, 11:
            var values = [Int64](); values.reserveCapacity(length)
            for _ in 0..<length {
                switch elementType {
                case 1: values.append(Int64(try read(Int8.self, what)))
                case 3: values.append(Int64(try read(Int16.self, what)))
                case 5: values.append(Int64(try read(Int32.self, what)))
                default: values.append(try read(Int64.self, what))
                }
            }
            return .ints(values)
        case 6, 12:
            var values = [Double](); values.reserveCapacity(length)
            for _ in 0..<length {
                values.append(elementType == 6 ? Double(try readFloat(what)) : try readDouble(what))
            }
            return .floats(values)
        case 7:
            var values = [Bool](); values.reserveCapacity(length)
            for _ in 0..<length { values.append(try read(UInt8.self, what) != 0) }
            return .bools(values)
        case 8:
            var values = [String](); values.reserveCapacity(length)
            for _ in 0..<length { values.append(try readGGUFString(what)) }
            return .strings(values)
        default: // 9: nested arrays
            var values = [GGUFArray](); values.reserveCapacity(length)
            for _ in 0..<length {
                // Each nested element is a whole array: its own element type, count, values.
                values.append(try readGGUFArray(key: key, depth: depth + 1))
            }
            return .arrays(values)
        }
    }
}
