import KilnCore

/// A CUDA event for ordering and timing work on streams.
public final class CUDAEvent: @unchecked Sendable {
    /// The device it belongs to.
    public let device: CUDADevice
    let handle: CUhandle?

    /// Creates an event that records timing.
    public init(device: CUDADevice) throws {
        self.device = device
        var event: CUhandle?
        try device.check(device.driver.functions.cuEventCreate(&event, CUDAConstant.eventDefault), "cuEventCreate")
        handle = event
    }

    deinit { _ = device.driver.functions.cuEventDestroy(handle) }

    /// Records the event at the current end of `stream`'s queue.
    public func record(on stream: CUDAStream) throws {
        try device.check(device.driver.functions.cuEventRecord(handle, stream.handle), "cuEventRecord")
    }

    /// Waits until the event has happened.
    public func synchronize() throws {
        try device.check(device.driver.functions.cuEventSynchronize(handle), "cuEventSynchronize")
    }

    /// Milliseconds from `start` to this event (both recorded and done).
    public func milliseconds(since start: CUDAEvent) throws -> Float {
        var milliseconds: Float = 0
        try device.check(device.driver.functions.cuEventElapsedTime(&milliseconds, start.handle, handle), "cuEventElapsedTime")
        return milliseconds
    }
}
