/// SIMD inner loops shared by the CPU kernels. Pointers may be unaligned.
enum VectorMath {
    /// Σ a[i] * b[i] over `count` elements, 16 lanes at a time with 2 accumulators.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sum0 = SIMD16<Float>(), sum1 = SIMD16<Float>()
        var index = 0
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        while index + 32 <= count {
            sum0 += rawA.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            sum1 += rawA.loadUnaligned(fromByteOffset: (index + 16) * 4, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 16) * 4, as: SIMD16<Float>.self)
            index += 32
        }
        while index + 16 <= count {
            sum0 += rawA.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            index += 16
        }
        var total = (sum0 + sum1).sum()
        while index < count {
            total += a[index] * b[index]
            index += 1
        }
        return total
    }

    /// y[i] += alpha * x[i].
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var index = 0
        let scale = SIMD16<Float>(repeating: alpha)
        let rawX = UnsafeRawPointer(x), rawY = UnsafeMutableRawPointer(y)
        while index + 16 <= count {
            let updated = rawY.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                + scale * rawX.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            rawY.storeBytes(of: updated, toByteOffset: index * 4, as: SIMD16<Float>.self)
            index += 16
        }
        while index < count {
            y[index] += alpha * x[index]
            index += 1
        }
    }
}
