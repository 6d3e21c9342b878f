import Foundation
import KilnCore

/// Kernel timeline tracing, for seeing a decode step's chain of kernels instead of inferring it
/// from ablations. `KILN_TRACE=FILE` compiles every kernel with -DKILN_TRACE (kiln_common.cuh:
/// thread 0 of each block of a traced kernel appends (site, SM, block, entry, after the
/// programmatic-launch wait, exit) in %globaltimer nanoseconds); `KILN_TRACE_STEP=N` (default 64)
/// picks the step `CUDABackend.runStep` traces: the buffers are cleared before it and, after it,
/// FILE gets one line per block and FILE.launches.txt the launches (`KernelTrace`). Tracing
/// changes the timing a little (one atomic and four stores per block).
public final class KernelTracer: @unchecked Sendable {
    /// `KILN_TRACE`, read once; nil: tracing off.
    public static let outputPath: String? = ProcessInfo.processInfo.environment["KILN_TRACE"].flatMap { $0.isEmpty ? nil : $0 }
    /// `KILN_TRACE_STEP`: which `runStep` call (1-based) is traced.
    public static let tracedStep: Int = ProcessInfo.processInfo.environment["KILN_TRACE_STEP"].flatMap { Int($0) }.map { max(1, $0) } ?? 64
    /// Records each module's region holds (32 bytes each).
    static let capacityPerModule = 1 << 17

    let device: CUDADevice
    /// [modules][capacityPerModule][4] UInt64.
    let records: CUdeviceptr
    let moduleCapacity: Int
    private let lock = NSLock()
    /// Each attached module's `kiln_trace_count` and its region.
    private var attached: [(name: String, count: CUdeviceptr, region: CUdeviceptr)] = []

    init(device: CUDADevice, modules: Int) throws {
        self.device = device
        moduleCapacity = modules
        guard let address = try device.allocateRaw(byteCount: modules * Self.capacityPerModule * 32) else {
            throw KilnError.invalidArgument("KILN_TRACE: no device memory for the trace buffers")
        }
        records = address
    }

    deinit { device.freeRaw(records) }

    /// Points a freshly loaded module's trace variables at its own region (modules compiled
    /// without -DKILN_TRACE have none and are skipped).
    func attach(module: CUhandle?, name: String) throws {
        let functions = device.driver.functions
        guard let getGlobal = functions.cuModuleGetGlobal else { return }
        func global(_ symbol: String) -> CUdeviceptr? {
            var address: CUdeviceptr = 0
            var size = 0
            return getGlobal(&address, &size, module, symbol) == CUDAConstant.success ? address : nil
        }
        guard let pointer = global("kiln_trace_records"), let capacity = global("kiln_trace_capacity"),
              let count = global("kiln_trace_count") else { return }
        lock.lock()
        defer { lock.unlock() }
        guard attached.count < moduleCapacity else { return }
        let region = records + CUdeviceptr(attached.count * Self.capacityPerModule * 32)
        try write(UInt64(region), to: pointer, bytes: 8, what: "kiln_trace_records of \(name)")
        try write(UInt64(Self.capacityPerModule), to: capacity, bytes: 4, what: "kiln_trace_capacity of \(name)")
        try write(0, to: count, bytes: 4, what: "kiln_trace_count of \(name)")
        attached.append((name, count, region))
    }

    /// Drops every record so far (call with the stream idle).
    public func reset() throws {
        lock.lock()
        defer { lock.unlock() }
        for module in attached { try write(0, to: module.count, bytes: 4, what: "kiln_trace_count of \(module.name)") }
    }

    /// Writes the low `bytes` bytes of `value` to a module variable and reads them back: a copy
    /// from pageable memory may return before it lands, and the backend's stream is not ordered
    /// after the legacy stream, but the read-back (which returns only once done, behind the write
    /// on the legacy stream) is; it also checks the value arrived.
    private func write(_ value: UInt64, to address: CUdeviceptr, bytes: Int, what: String) throws {
        let functions = device.driver.functions
        var source = value, check: UInt64 = 0
        try device.check(functions.cuMemcpyHtoD(address, &source, bytes), "KILN_TRACE: set \(what)")
        try device.check(functions.cuMemcpyDtoH(&check, address, bytes), "KILN_TRACE: read back \(what)")
        let mask: UInt64 = bytes >= 8 ? .max : (1 << UInt64(8 * bytes)) - 1
        guard check & mask == value & mask else {
            throw KilnError.invalidArgument("KILN_TRACE: \(what) reads \(check & mask) after writing \(value & mask)")
        }
    }

    /// Every record since the last reset (call with the stream idle), and how many were dropped.
    public func collect() throws -> (records: [KernelTrace.Record], dropped: Int) {
        lock.lock()
        defer { lock.unlock() }
        var all: [KernelTrace.Record] = []
        var dropped = 0
        for module in attached {
            var count: UInt32 = 0
            try device.check(device.driver.functions.cuMemcpyDtoH(&count, module.count, 4), "KILN_TRACE: read kiln_trace_count of \(module.name)")
            let kept = min(Int(count), Self.capacityPerModule)
            dropped += Int(count) - kept
            guard kept > 0 else { continue }
            var words = [UInt64](repeating: 0, count: 4 * kept)
            try words.withUnsafeMutableBytes {
                try device.check(device.driver.functions.cuMemcpyDtoH($0.baseAddress, module.region, 32 * kept), "KILN_TRACE: read the records of \(module.name)")
            }
            for i in 0..<kept { all.append(KernelTrace.Record(words: Array(words[(4 * i)..<(4 * i + 4)]))) }
        }
        return (all, dropped)
    }

    /// Writes `records` (one line per block) to `path` and their launches to `path`.launches.txt.
    public static func write(_ records: [KernelTrace.Record], dropped: Int, to path: String) throws {
        let launches = KernelTrace.launches(records)
        var blocks = "site,sm,block,start_ns,waited_ns,end_ns\n"
        let origin = records.map(\.start).min() ?? 0
        for record in records.sorted(by: { $0.waited < $1.waited }) {
            blocks += "\(record.site.name),\(record.sm),\(record.block),\(record.start - origin),\(record.waited - origin),\(record.end - origin)\n"
        }
        try blocks.write(toFile: path, atomically: true, encoding: .utf8)
        let summary = KernelTrace.table(launches) + (dropped > 0 ? "\n\(dropped) records dropped (buffer full)\n" : "")
        try summary.write(toFile: path + ".launches.txt", atomically: true, encoding: .utf8)
    }
}
