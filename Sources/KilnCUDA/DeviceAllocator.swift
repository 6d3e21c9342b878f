import Foundation
import KilnCore

/// Raw device memory under the allocator: `cuMemAlloc`/`cuMemFree` on a GPU, a fake in tests.
public protocol DeviceMemory: AnyObject, Sendable {
    /// A fresh block of `byteCount` bytes, or nil when the device is out of memory.
    func allocateRaw(byteCount: Int) throws -> CUdeviceptr?
    /// Returns a block from `allocateRaw`.
    func freeRaw(_ address: CUdeviceptr)
    /// Free and total bytes of the device, for out-of-memory messages (nil: unknown).
    func freeAndTotalBytes() -> (free: Int, total: Int)?
    /// "cuda:0 (NVIDIA H100 80GB HBM3)".
    var memoryDescription: String { get }
    /// Waits until the device has finished all queued work (before cached blocks go back to the
    /// driver: queued steps drop buffers the GPU may still be using).
    func waitForIdle()
}

extension DeviceMemory {
    public func waitForIdle() {}
}

/// A caching device allocator. `cuMemAlloc`/`cuMemFree` synchronise the device and cost tens of
/// microseconds, so freed blocks are kept in per-size-class free lists and handed out again to
/// requests of the same class (an inference step allocates the same shapes every time).
///
/// Size classes: up to 32 MiB, four per power of two (512, 640, 768, 896, 1024, 1280, ... bytes;
/// at most 25% over the request); above, multiples of 2 MiB (weights are allocated once, so
/// little is wasted on them). A block serves only its own class: no splitting, no coalescing.
/// When the device runs out, every cached block is freed and the request tried once more.
///
/// Thread-safe. Blocks are released (to the pool) when their `DeviceBuffer` is deinitialised,
/// possibly while queued GPU work still uses them (queued greedy steps drop the previous step's
/// buffers without waiting): a block is handed out again only to work queued later on the same
/// stream -- Kiln queues everything on one stream, so stream order protects it -- and
/// `emptyCache` waits for the device before it returns blocks to the driver.
public final class DeviceAllocator: @unchecked Sendable {
    /// Counters since creation.
    public struct Statistics: Sendable, Equatable {
        /// `allocate` calls.
        public var requests = 0
        /// Requests served from the pool.
        public var poolHits = 0
        /// Blocks taken from the device.
        public var deviceAllocations = 0
        /// Blocks given back to the device.
        public var deviceFrees = 0
        /// Bytes (by size class) of live buffers.
        public var bytesInUse = 0
        /// Bytes in the free lists.
        public var bytesCached = 0
        /// Most `bytesInUse` seen.
        public var peakBytesInUse = 0
        /// Most `bytesInUse + bytesCached` seen: what the process held from the device.
        public var peakBytesReserved = 0
    }

    /// Largest size served by the geometric classes; above, classes are multiples of `largeGranularity`.
    public static let geometricLimit = 32 << 20
    /// Class granularity above `geometricLimit`.
    public static let largeGranularity = 2 << 20
    /// Smallest block.
    public static let minimumBlock = 512

    private let memory: any DeviceMemory
    private let lock = NSLock()
    private var freeLists: [Int: [CUdeviceptr]] = [:]
    private var stats = Statistics()

    /// An allocator over `memory`.
    public init(memory: any DeviceMemory) {
        self.memory = memory
    }

    deinit { emptyCache() }

    /// The block size a request of `byteCount` bytes gets.
    public static func sizeClass(for byteCount: Int) -> Int {
        let size = max(byteCount, minimumBlock)
        if size > geometricLimit {
            return (size + largeGranularity - 1) / largeGranularity * largeGranularity
        }
        // Four classes per power of two: 2^k * {1, 1.25, 1.5, 1.75}.
        let power = Int.bitWidth - (size - 1).leadingZeroBitCount - 1  // 2^power < size <= 2^(power+1) for non-powers
        if size.nonzeroBitCount == 1 { return size }
        let base = 1 << power, step = base / 4
        return base + (size - base + step - 1) / step * step
    }

    /// A buffer of at least `byteCount` bytes (uninitialised). Throws a `KilnError` when the
    /// device is out of memory even after the cache is emptied.
    public func allocate(byteCount: Int) throws -> DeviceBuffer {
        precondition(byteCount >= 0, "negative allocation")
        let size = Self.sizeClass(for: byteCount)
        lock.lock()
        stats.requests += 1
        if let address = freeLists[size]?.popLast() {
            stats.poolHits += 1
            stats.bytesCached -= size
            stats.bytesInUse += size
            stats.peakBytesInUse = max(stats.peakBytesInUse, stats.bytesInUse)
            lock.unlock()
            return DeviceBuffer(address: address, byteCount: byteCount, capacity: size, allocator: self)
        }
        lock.unlock()

        var address = try memory.allocateRaw(byteCount: size)
        if address == nil {
            emptyCache()
            address = try memory.allocateRaw(byteCount: size)
        }
        guard let address else { throw outOfMemory(byteCount: byteCount, size: size) }
        lock.lock()
        stats.deviceAllocations += 1
        stats.bytesInUse += size
        stats.peakBytesInUse = max(stats.peakBytesInUse, stats.bytesInUse)
        stats.peakBytesReserved = max(stats.peakBytesReserved, stats.bytesInUse + stats.bytesCached)
        lock.unlock()
        return DeviceBuffer(address: address, byteCount: byteCount, capacity: size, allocator: self)
    }

    /// Puts a block back in its free list (from `DeviceBuffer.deinit`).
    func release(_ address: CUdeviceptr, capacity: Int) {
        lock.lock()
        freeLists[capacity, default: []].append(address)
        stats.bytesInUse -= capacity
        stats.bytesCached += capacity
        lock.unlock()
    }

    /// Gives every cached block back to the device.
    public func emptyCache() {
        lock.lock()
        let blocks = freeLists
        freeLists = [:]
        var freed = 0
        for (_, addresses) in blocks { freed += addresses.count }
        stats.deviceFrees += freed
        stats.bytesCached = 0
        lock.unlock()
        if freed > 0 { memory.waitForIdle() }
        for (_, addresses) in blocks { for address in addresses { memory.freeRaw(address) } }
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    private func outOfMemory(byteCount: Int, size: Int) -> KilnError {
        let snapshot = statistics
        var message = "\(memory.memoryDescription): out of device memory: asked for \(Self.bytesText(byteCount))"
        if size != byteCount { message += " (block of \(Self.bytesText(size)))" }
        message += "; Kiln holds \(Self.bytesText(snapshot.bytesInUse)) in live buffers"
        if let (free, total) = memory.freeAndTotalBytes() {
            message += ", the device has \(Self.bytesText(free)) free of \(Self.bytesText(total))"
        }
        message += ". Use a smaller batch or context length, a quantised engine, or a GPU with more memory"
        return KilnError.invalidArgument(message)
    }

    /// "1.50 GiB", "640 B".
    public static func bytesText(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.2f %@", value, units[unit])
    }
}

/// Device memory from a `DeviceAllocator`; returned to its pool when deinitialised.
public final class DeviceBuffer: @unchecked Sendable {
    /// Device address of the first byte.
    public let address: CUdeviceptr
    /// Bytes asked for.
    public let byteCount: Int
    /// Bytes of the block (its size class).
    public let capacity: Int
    private let allocator: DeviceAllocator

    init(address: CUdeviceptr, byteCount: Int, capacity: Int, allocator: DeviceAllocator) {
        self.address = address
        self.byteCount = byteCount
        self.capacity = capacity
        self.allocator = allocator
    }

    deinit { allocator.release(address, capacity: capacity) }
}
