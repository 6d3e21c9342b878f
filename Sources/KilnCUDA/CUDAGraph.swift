import KilnCore

/// An instantiated CUDA graph: the kernels one stream queued between `CUDAStream.beginCapture`
/// and `endCapture`, replayed with one `cuGraphLaunch` (one host call instead of hundreds of
/// kernel launches). Every address the captured kernels use is baked in: the caller keeps the
/// buffers alive and rewrites their contents, never their addresses, between replays.
public final class CUDAGraph: @unchecked Sendable {
    let device: CUDADevice
    let functions: GraphFunctions
    let graph: CUhandle?
    let executable: CUhandle?

    init(device: CUDADevice, functions: GraphFunctions, graph: CUhandle?) throws {
        self.device = device
        self.functions = functions
        self.graph = graph
        var executable: CUhandle?
        let result = functions.cuGraphInstantiateWithFlags(&executable, graph, 0)
        if result != CUDAConstant.success { _ = functions.cuGraphDestroy(graph) }
        try device.check(result, "cuGraphInstantiateWithFlags")
        self.executable = executable
    }

    deinit {
        _ = functions.cuGraphExecDestroy(executable)
        _ = functions.cuGraphDestroy(graph)
    }

    /// Queues one replay on `stream`.
    public func launch(on stream: CUDAStream) throws {
        try device.check(functions.cuGraphLaunch(executable, stream.handle), "cuGraphLaunch")
    }
}

extension CUDAStream {
    /// Whether this driver can capture graphs.
    public var canCaptureGraphs: Bool { device.driver.graphFunctions != nil }

    /// Starts recording instead of running: kernels queued on this stream until `endCapture` are
    /// recorded (relaxed mode: allocations on the side are allowed; nothing may synchronise).
    public func beginCapture() throws {
        guard let functions = device.driver.graphFunctions else {
            throw KilnError.unsupported(path: device.name, reason: "this NVIDIA driver has no CUDA graph API")
        }
        try device.check(functions.cuStreamBeginCapture(handle, CUDAConstant.captureModeRelaxed), "cuStreamBeginCapture")
    }

    /// Stops recording and instantiates what was recorded.
    public func endCapture() throws -> CUDAGraph {
        guard let functions = device.driver.graphFunctions else {
            throw KilnError.unsupported(path: device.name, reason: "this NVIDIA driver has no CUDA graph API")
        }
        var graph: CUhandle?
        try device.check(functions.cuStreamEndCapture(handle, &graph), "cuStreamEndCapture")
        return try CUDAGraph(device: device, functions: functions, graph: graph)
    }
}
