import Foundation
import KilnCore
import Testing
@testable import KilnCUDA

/// Device memory without a device: hands out increasing fake addresses up to a capacity.
final class FakeDeviceMemory: DeviceMemory, @unchecked Sendable {
    let capacity: Int
    private let lock = NSLock()
    private var blocks: [CUdeviceptr: Int] = [:]
    private var counts = (allocations: 0, frees: 0)
    private var next: CUdeviceptr = 0x1000_0000

    init(capacity: Int) { self.capacity = capacity }

    var live: [CUdeviceptr: Int] { lock.withLock { blocks } }
    var allocations: Int { lock.withLock { counts.allocations } }
    var frees: Int { lock.withLock { counts.frees } }
    var used: Int { live.values.reduce(0, +) }

    func allocateRaw(byteCount: Int) throws -> CUdeviceptr? {
        lock.lock()
        defer { lock.unlock() }
        guard blocks.values.reduce(0, +) + byteCount <= capacity else { return nil }
        let address = next
        next += CUdeviceptr(byteCount)
        blocks[address] = byteCount
        counts.allocations += 1
        return address
    }

    func freeRaw(_ address: CUdeviceptr) {
        lock.lock()
        defer { lock.unlock() }
        precondition(blocks.removeValue(forKey: address) != nil, "double or foreign free")
        counts.frees += 1
    }

    func freeAndTotalBytes() -> (free: Int, total: Int)? { (capacity - used, capacity) }
    var memoryDescription: String { "fake:0" }
}

@Suite struct DeviceAllocatorTests {
    @Test func sizeClasses() {
        #expect(DeviceAllocator.sizeClass(for: 0) == 512)
        #expect(DeviceAllocator.sizeClass(for: 1) == 512)
        #expect(DeviceAllocator.sizeClass(for: 512) == 512)
        #expect(DeviceAllocator.sizeClass(for: 513) == 640)
        #expect(DeviceAllocator.sizeClass(for: 700) == 768)
        #expect(DeviceAllocator.sizeClass(for: 1000) == 1024)
        #expect(DeviceAllocator.sizeClass(for: 1025) == 1280)
        #expect(DeviceAllocator.sizeClass(for: 3 << 20) == 3 << 20)
        #expect(DeviceAllocator.sizeClass(for: (3 << 20) + 1) == (7 << 20) / 2)
        #expect(DeviceAllocator.sizeClass(for: 32 << 20) == 32 << 20)
        #expect(DeviceAllocator.sizeClass(for: (32 << 20) + 1) == 34 << 20)
        #expect(DeviceAllocator.sizeClass(for: 1_000_000_000) == 954 << 20)
        // Every class holds its request, wastes at most a quarter below the large limit, and
        // classes are monotonic.
        var previous = 0
        for size in stride(from: 1, to: 80 << 20, by: 4099) {
            let sizeClass = DeviceAllocator.sizeClass(for: size)
            #expect(sizeClass >= size && sizeClass >= previous)
            if size > 512 { #expect(Double(sizeClass) <= Double(size) * 1.25 + 1) }
            previous = sizeClass
        }
    }

    @Test func freedBlocksAreReusedBySameClassRequests() throws {
        let memory = FakeDeviceMemory(capacity: 1 << 30)
        let allocator = DeviceAllocator(memory: memory)
        var first: DeviceBuffer? = try allocator.allocate(byteCount: 1000)
        let address = first!.address
        #expect(first!.capacity == 1024 && first!.byteCount == 1000)
        first = nil
        #expect(allocator.statistics.bytesCached == 1024 && allocator.statistics.bytesInUse == 0)
        let second = try allocator.allocate(byteCount: 900)  // same class (1024)
        #expect(second.address == address)
        let third = try allocator.allocate(byteCount: 2000)  // another class: a fresh block
        #expect(third.address != address)
        let stats = allocator.statistics
        #expect(stats.requests == 3 && stats.poolHits == 1 && stats.deviceAllocations == 2)
        #expect(stats.bytesInUse == 1024 + 2048 && stats.bytesCached == 0 && stats.peakBytesInUse == 1024 + 2048)
        #expect(memory.allocations == 2 && memory.frees == 0)
        withExtendedLifetime((second, third)) {}
    }

    @Test func aStepThatRepeatsItsShapesAllocatesOnlyOnce() throws {
        let memory = FakeDeviceMemory(capacity: 1 << 30)
        let allocator = DeviceAllocator(memory: memory)
        let shapes = [4096 * 4, 4096 * 4, 16384 * 4, 256_000 * 4, 7 * 4]
        for _ in 0..<10 {
            let buffers = try shapes.map { try allocator.allocate(byteCount: $0) }
            #expect(Set(buffers.map(\.address)).count == shapes.count)
        }
        #expect(memory.allocations == shapes.count)
        #expect(allocator.statistics.poolHits == 9 * shapes.count)
    }

    @Test func emptyCacheReturnsBlocksToTheDevice() throws {
        let memory = FakeDeviceMemory(capacity: 1 << 30)
        let allocator = DeviceAllocator(memory: memory)
        _ = try allocator.allocate(byteCount: 5000)
        _ = try allocator.allocate(byteCount: 50 << 20)
        #expect(memory.live.count == 2)
        allocator.emptyCache()
        #expect(memory.live.isEmpty && allocator.statistics.bytesCached == 0 && allocator.statistics.deviceFrees == 2)
    }

    @Test func outOfMemoryFirstEmptiesTheCacheThenReportsTheSize() throws {
        let memory = FakeDeviceMemory(capacity: 64 << 20)
        let allocator = DeviceAllocator(memory: memory)
        var cached: DeviceBuffer? = try allocator.allocate(byteCount: 40 << 20)
        cached = nil
        _ = cached
        // 40 MiB are cached; 40 more do not fit beside them, but do once the cache is emptied.
        let big = try allocator.allocate(byteCount: 42 << 20)
        #expect(big.capacity == 42 << 20 && memory.frees == 1)
        do {
            _ = try allocator.allocate(byteCount: 30 << 20)
            Issue.record("allocated past the device's capacity")
        } catch let error as KilnError {
            let text = error.description
            #expect(text.contains("fake:0: out of device memory: asked for 30.00 MiB"), "\(text)")
            #expect(text.contains("42.00 MiB in live buffers") && text.contains("22.00 MiB free of 64.00 MiB"), "\(text)")
        }
        withExtendedLifetime(big) {}
    }

    @Test func concurrentUseKeepsTheCountsExact() async throws {
        let memory = FakeDeviceMemory(capacity: 1 << 30)
        let allocator = DeviceAllocator(memory: memory)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var held: [DeviceBuffer] = []
                    for index in 0..<200 {
                        held.append(try! allocator.allocate(byteCount: 512 * (1 + (task + index) % 5)))
                        if held.count > 3 { held.removeFirst(2) }
                    }
                }
            }
        }
        let stats = allocator.statistics
        #expect(stats.requests == 1600 && stats.bytesInUse == 0 && stats.poolHits + stats.deviceAllocations == 1600)
        #expect(stats.bytesCached == memory.used && memory.frees == 0)
    }
}
