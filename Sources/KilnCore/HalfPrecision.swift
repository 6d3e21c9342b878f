/// Conversions of 16- and 8-bit floating-point encodings to `Float`, shared by every reader.
/// BF16 is the top half of an IEEE binary32; F16 is IEEE binary16 (Swift's `Float16`).
public enum HalfPrecision {
    /// bf16 bits -> Float (exact).
    @inlinable public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Float -> bf16 bits, rounding to nearest even (NaN stays NaN).
    @inlinable public static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// IEEE f16 bits -> Float (exact), without relying on `Float16` hardware support.
    @inlinable public static func f16ToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * (1.0 / 16_777_216.0)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// FP8 E4M3FN bits -> Float: bias 7, no infinities, S.1111.111 is NaN.
    @inlinable public static func f8e4m3ToFloat(_ bits: UInt8) -> Float {
        let negative = bits & 0x80 != 0
        let exponent = Int((bits >> 3) & 0x0F)
        let mantissa = Float(bits & 0x07)
        var magnitude: Float
        if exponent == 0x0F && bits & 0x07 == 0x07 {
            magnitude = .nan
        } else if exponent == 0 {
            magnitude = mantissa / 8 * 0.015625 // 2^-6 * m/8
        } else {
            magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }

    /// FP8 E5M2 bits -> Float: exactly the top byte of an f16.
    @inlinable public static func f8e5m2ToFloat(_ bits: UInt8) -> Float {
        f16ToFloat(UInt16(bits) << 8)
    }
}
