import Dispatch
import Foundation
import KilnCore

/// Expands ggml tensor data (dense or block-quantised) to `Float` on the CPU.
///
/// Results are bit-identical to ggml's `dequantize_row_*` reference code (and to the `gguf`
/// Python package): every kernel keeps ggml's order of float operations and never fuses a
/// multiply-add. Source pointers may have any alignment; destinations need `Float` alignment.
public enum GGMLDequantizer {
    /// One kernel: expands `blocks` whole blocks starting at `source` into `destination`.
    typealias Kernel = @Sendable (_ source: UnsafeRawPointer, _ blocks: Int, _ destination: UnsafeMutablePointer<Float>) -> Void

    /// Expands `count` elements of `type` from `source` into `destination` (`count` floats).
    ///
    /// Throws `KilnError.unsupported` when the type has no CPU kernel or `count` is not a
    /// non-negative multiple of the type's block size.
    public static func dequantize(
        _ type: GGMLType, from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) throws {
        let (kernel, blocks) = try plan(type, count: count)
        kernel(source, blocks, destination)
    }

    /// Same contract as `dequantize`, but splits large inputs into contiguous runs of blocks
    /// expanded on all cores with `DispatchQueue.concurrentPerform`.
    public static func dequantizeParallel(
        _ type: GGMLType, from source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>
    ) throws {
        let (kernel, blocks) = try plan(type, count: count)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Below ~256 KiB of output, thread wake-up costs more than the work.
        let minimumBlocksPerTask = max(1, (1 << 16) / type.blockSize)
        let tasks = min(cores * 4, blocks / minimumBlocksPerTask)
        guard cores > 1, tasks > 1 else {
            kernel(source, blocks, destination)
            return
        }
        // Raw addresses cross into the worker closure as integers: the pointers are not Sendable,
        // and every task writes a disjoint range of `destination`.
        let sourceAddress = UInt(bitPattern: source)
        let destinationAddress = UInt(bitPattern: destination)
        let blockBytes = type.typeSize
        let blockElements = type.blockSize
        DispatchQueue.concurrentPerform(iterations: tasks) { task in
            let first = blocks * task / tasks
            let end = blocks * (task + 1) / tasks
            guard end > first,
                  let taskSource = UnsafeRawPointer(bitPattern: sourceAddress),
                  let taskDestination = UnsafeMutablePointer<Float>(bitPattern: destinationAddress)
            else { return }
            kernel(taskSource + first * blockBytes, end - first, taskDestination + first * blockElements)
        }
    }

    /// Validates `count` and picks the kernel; returns it with the number of blocks to expand.
    static func plan(_ type: GGMLType, count: Int) throws -> (Kernel, Int) {
        guard let kernel = kernel(for: type) else {
            throw KilnError.unsupported(path: "", reason: "no CPU dequantisation for ggml type \(type.name)")
        }
        guard count >= 0, count % type.blockSize == 0 else {
            throw KilnError.unsupported(
                path: "", reason: "\(count) elements is not a whole number of \(type.name) blocks of \(type.blockSize)")
        }
        return (kernel, count / type.blockSize)
    }

    /// The kernel for `type`, nil for types without one (kept in step with `GGMLType.canDequantize`).
    static func kernel(for type: GGMLType) -> Kernel? {
        switch type {
        case .f32: return expandF32
        case .f16: return expandF16
        case .bf16: return expandBF16
        case .f64: return expandF64
        case .i8: return expandI8
        case .i16: return expandI16
        case .i32: return expandI32
        case .i64: return expandI64
        case .q4_0: return expandQ4_0
        case .q4_1: return expandQ4_1
        case .q5_0: return expandQ5_0
        case .q5_1: return expandQ5_1
        case .q8_0: return expandQ8_0
        case .mxfp4: return expandMXFP4
        case .q2K: return expandQ2K
        case .q3K: return expandQ3K
        case .q4K: return expandQ4K
        case .q5K: return expandQ5K
        case .q6K: return expandQ6K
        case .q8K: return expandQ8K
        case .q8_1, .iq2XXS, .iq2XS, .iq3XXS, .iq1S, .iq4NL, .iq3S, .iq2S, .iq4XS, .iq1M,
             .tq1_0, .tq2_0, .nvfp4, .q1_0:
            return nil
        }
    }
}

// MARK: - Vector helpers shared by the kernels

extension GGMLDequantizer {
    /// 16 bytes at `offset`, any alignment.
    @inline(__always)
    static func bytes16(_ base: UnsafeRawPointer, _ offset: Int) -> SIMD16<UInt8> {
        base.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt8>.self)
    }

    /// The f16 at `offset` as a Float.
    @inline(__always)
    static func half(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.f16ToFloat(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Four unsigned bytes minus `offset`, as exact floats.
    ///
    /// Each byte is placed in the low byte of a 32-bit lane (LLVM turns the lane-wise initialiser
    /// into unpack shuffles) and OR-ed into the bits of 2^23, so the lane reads as 2^23 + byte;
    /// one subtraction of 2^23 + `offset` is then exact for any integer `offset` below 2^23.
    /// The stdlib's generic integer-to-float SIMD conversions are not inlined, and their calls
    /// force every vector register to be spilled.
    @inline(__always)
    static func floats(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, minus offset: Float) -> SIMD4<Float> {
        let lanes = unsafeBitCast(SIMD16<UInt8>(a, 0, 0, 0, b, 0, 0, 0, c, 0, 0, 0, d, 0, 0, 0), to: SIMD4<UInt32>.self)
        return unsafeBitCast(lanes | 0x4B00_0000, to: SIMD4<Float>.self) - (0x1p23 + offset)
    }

    /// Unsigned bytes minus `offset` (an integer), as exact floats.
    @inline(__always)
    static func floats(_ b: SIMD16<UInt8>, minus offset: Float = 0) -> SIMD16<Float> {
        SIMD16(
            lowHalf: SIMD8(
                lowHalf: floats(b[0], b[1], b[2], b[3], minus: offset),
                highHalf: floats(b[4], b[5], b[6], b[7], minus: offset)),
            highHalf: SIMD8(
                lowHalf: floats(b[8], b[9], b[10], b[11], minus: offset),
                highHalf: floats(b[12], b[13], b[14], b[15], minus: offset)))
    }

    /// Unsigned bytes as exact floats, eight lanes.
    @inline(__always)
    static func floats(_ b: SIMD8<UInt8>) -> SIMD8<Float> {
        SIMD8(lowHalf: floats(b[0], b[1], b[2], b[3], minus: 0), highHalf: floats(b[4], b[5], b[6], b[7], minus: 0))
    }

    /// Two's-complement bytes as exact floats (-128...127): flipping the sign bit maps them to 0...255.
    @inline(__always)
    static func signedFloats(_ bytes: SIMD16<UInt8>) -> SIMD16<Float> {
        floats(bytes ^ 0x80, minus: 128)
    }

    /// Stores 16 floats at `destination[index]`.
    @inline(__always)
    static func store(_ values: SIMD16<Float>, _ destination: UnsafeMutablePointer<Float>, _ index: Int) {
        UnsafeMutableRawPointer(destination + index).storeBytes(of: values, as: SIMD16<Float>.self)
    }

    /// Bit `bit` of each of 16 bytes, as 0 or 1.
    @inline(__always)
    static func bit(_ bytes: SIMD16<UInt8>, _ bit: UInt8) -> SIMD16<UInt8> {
        (bytes &>> bit) & 1
    }
}
