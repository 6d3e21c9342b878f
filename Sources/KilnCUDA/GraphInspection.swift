import KilnCore

/// Driver calls (CUDA 12.3+) that read a captured graph's kernel nodes: which kernels a library
/// call launches, found by recording the call into a graph that is never run
/// (MatmulEngine+Enumeration.swift).
struct GraphInspection: @unchecked Sendable {
    /// (graph, nodes or nil, count in/out)
    let cuGraphGetNodes: @convention(c) (CUhandle?, UnsafeMutablePointer<CUhandle?>?, UnsafeMutablePointer<Int>) -> CUresult
    /// (node, type out): 0 is a kernel node.
    let cuGraphNodeGetType: @convention(c) (CUhandle?, UnsafeMutablePointer<Int32>) -> CUresult
    /// (node, CUDA_KERNEL_NODE_PARAMS_v2 out)
    let cuGraphKernelNodeGetParams: @convention(c) (CUhandle?, UnsafeMutableRawPointer) -> CUresult
    /// (name out, function)
    let cuFuncGetName: @convention(c) (UnsafeMutablePointer<UnsafePointer<CChar>?>, CUhandle?) -> CUresult

    init(_ library: DynamicLibrary) throws {
        cuGraphGetNodes = try library.function("cuGraphGetNodes")
        cuGraphNodeGetType = try library.function("cuGraphNodeGetType")
        cuGraphKernelNodeGetParams = try library.function("cuGraphKernelNodeGetParams_v2")
        cuFuncGetName = try library.function("cuFuncGetName")
    }

    /// The names of the kernels `body` queues on `stream` ("" for a kernel the driver will not name).
    func kernelNames(on stream: CUDAStream, _ body: () throws -> Void) throws -> [String] {
        let device = stream.device
        guard let graphFunctions = device.driver.graphFunctions else { return [] }
        try stream.beginCapture()
        var graph: CUhandle?
        do {
            try body()
        } catch {
            _ = graphFunctions.cuStreamEndCapture(stream.handle, &graph)
            _ = graphFunctions.cuGraphDestroy(graph)
            throw error
        }
        try device.check(graphFunctions.cuStreamEndCapture(stream.handle, &graph), "cuStreamEndCapture")
        defer { _ = graphFunctions.cuGraphDestroy(graph) }
        var count = 0
        try device.check(cuGraphGetNodes(graph, nil, &count), "cuGraphGetNodes")
        var nodes = [CUhandle?](repeating: nil, count: count)
        try device.check(cuGraphGetNodes(graph, &nodes, &count), "cuGraphGetNodes")
        var names: [String] = []
        for node in nodes.prefix(count) {
            var type: Int32 = -1
            try device.check(cuGraphNodeGetType(node, &type), "cuGraphNodeGetType")
            guard type == 0 else { continue }
            // CUDA_KERNEL_NODE_PARAMS_v2: the CUfunction first (72 bytes in all; room for more).
            let parameters = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
            defer { parameters.deallocate() }
            parameters.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
            try device.check(cuGraphKernelNodeGetParams(node, parameters), "cuGraphKernelNodeGetParams")
            let function = parameters.load(as: OpaquePointer?.self)
            var text: UnsafePointer<CChar>?
            if function != nil, cuFuncGetName(&text, function) == CUDAConstant.success, let text {
                names.append(String(cString: text))
            } else {
                names.append("")
            }
        }
        return names
    }
}
