import Foundation
import KilnCore

/// Programmatic dependent launch for cuBLASLt's kernels inside a recorded step.
///
/// Kiln launches its own kernels with programmatic stream serialization, so each is resident and
/// waiting (`griddepcontrol.wait`) before the kernel ahead of it ends. cuBLASLt launches its
/// kernels plainly: a library product after one of Kiln's kernels starts only once that kernel
/// has drained, plus a launch. In a static batch-64 Gemma-2B step on an H100 that is three such
/// hand-offs a layer (norm -> qkv, reduce -> o, gate/up -> down; session 14's trace: qkv holds
/// 12.2 us between the norm's end and the attention's release for a ~7.7 us product).
///
/// cuBLASLt 13.1's Hopper GEMM kernels carry the wait themselves: every `sm90_xmma_gemm_*bf16*`
/// and every `splitKreduce_kernel` of libcublasLt.so.13.1.0.3's sm_90a / sm_90 cubins contains
/// the ACQBULK instruction (what `griddepcontrol.wait` assembles to), found by scanning the
/// library's kernels (session 14, bench/results/issue4-session14-2026-11-28.txt). For those, and
/// only those, the plain edge from the kernel before is turned into a programmatic one in the
/// recorded graph, the same edge stream capture makes for Kiln's own launches. A kernel without
/// the wait would read its inputs early, so the list is by name, and `kiln check gpu` compares
/// graph replay with the op-by-op run bit for bit.
struct LibraryProgrammaticEdges {
    /// CUDA 12.3+ driver calls for reading and rewriting a graph's edges; nil where missing.
    struct Functions: @unchecked Sendable {
        /// (graph, nodes or nil, count in/out)
        let cuGraphGetNodes: @convention(c) (CUhandle?, UnsafeMutablePointer<CUhandle?>?, UnsafeMutablePointer<Int>) -> CUresult
        /// (node, type out): 0 is a kernel node.
        let cuGraphNodeGetType: @convention(c) (CUhandle?, UnsafeMutablePointer<Int32>) -> CUresult
        /// (node, CUDA_KERNEL_NODE_PARAMS_v2 out)
        let cuGraphKernelNodeGetParams: @convention(c) (CUhandle?, UnsafeMutableRawPointer) -> CUresult
        /// (name out, function)
        let cuFuncGetName: @convention(c) (UnsafeMutablePointer<UnsafePointer<CChar>?>, CUhandle?) -> CUresult
        /// (graph, from, to, edge data, count in/out)
        let cuGraphGetEdges: @convention(c) (CUhandle?, UnsafeMutablePointer<CUhandle?>?, UnsafeMutablePointer<CUhandle?>?,
                                             UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<Int>) -> CUresult
        /// (graph, from, to, edge data, count)
        let cuGraphRemoveDependencies: @convention(c) (CUhandle?, UnsafePointer<CUhandle?>, UnsafePointer<CUhandle?>,
                                                       UnsafePointer<UInt64>?, Int) -> CUresult
        let cuGraphAddDependencies: @convention(c) (CUhandle?, UnsafePointer<CUhandle?>, UnsafePointer<CUhandle?>,
                                                    UnsafePointer<UInt64>?, Int) -> CUresult

        init(_ library: DynamicLibrary) throws {
            cuGraphGetNodes = try library.function("cuGraphGetNodes")
            cuGraphNodeGetType = try library.function("cuGraphNodeGetType")
            cuGraphKernelNodeGetParams = try library.function("cuGraphKernelNodeGetParams_v2")
            cuFuncGetName = try library.function("cuFuncGetName")
            cuGraphGetEdges = try library.function("cuGraphGetEdges_v2")
            cuGraphRemoveDependencies = try library.function("cuGraphRemoveDependencies_v2")
            cuGraphAddDependencies = try library.function("cuGraphAddDependencies_v2")
        }
    }

    /// `CUgraphEdgeData` as one little-endian word: from_port, to_port, type, 5 reserved bytes.
    /// Port 1 = CU_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC, type 1 = CU_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC.
    static let programmaticEdge: UInt64 = 0x01_00_01
    static let defaultEdge: UInt64 = 0

    /// Whether a library kernel is known to wait for its prerequisites itself (see above).
    /// cuBLASLt 13's nvjet kernels (assembled by the library at run time, so not in its cubins)
    /// are not: with programmatic edges into them, session 14's batched decode check read stale
    /// inputs (relative errors 1.5-3.7 against op-by-op).
    func waitsForPrerequisites(_ name: String) -> Bool {
        (name.hasPrefix("sm90_xmma_gemm_") && name.contains("bf16")) || name.contains("splitKreduce_kernel")
    }

    let functions: Functions

    /// The number of plain kernel-to-kernel edges into a listed library kernel that were made
    /// programmatic in `graph` (before instantiation), and the names of library kernels left
    /// plain because they are not listed.
    func rewrite(_ graph: CUhandle?, device: CUDADevice) throws -> (rewritten: Int, unlisted: Set<String>) {
        var edgeCount = 0
        try device.check(functions.cuGraphGetEdges(graph, nil, nil, nil, &edgeCount), "cuGraphGetEdges")
        guard edgeCount > 0 else { return (0, []) }
        var from = [CUhandle?](repeating: nil, count: edgeCount), to = [CUhandle?](repeating: nil, count: edgeCount)
        var data = [UInt64](repeating: 0, count: edgeCount)
        try device.check(functions.cuGraphGetEdges(graph, &from, &to, &data, &edgeCount), "cuGraphGetEdges")
        var names: [OpaquePointer: String?] = [:]
        func kernelName(_ node: CUhandle?) throws -> String? {
            guard let node else { return nil }
            if let known = names[node] { return known }
            let name = try self.kernelName(node, device: device)
            names[node] = name
            return name
        }
        var rewritten = 0
        var unlisted = Set<String>()
        for index in 0..<edgeCount where data[index] == Self.defaultEdge {
            // Programmatic edges join kernel nodes only (not copies or memsets).
            guard let target = try kernelName(to[index]), try kernelName(from[index]) != nil else { continue }
            guard waitsForPrerequisites(target) else {
                if Self.looksLikeLibraryKernel(target) { unlisted.insert(target) }
                continue
            }
            var edgeFrom = from[index], edgeTo = to[index]
            var plain = Self.defaultEdge, programmatic = Self.programmaticEdge
            try device.check(functions.cuGraphRemoveDependencies(graph, &edgeFrom, &edgeTo, &plain, 1), "cuGraphRemoveDependencies")
            try device.check(functions.cuGraphAddDependencies(graph, &edgeFrom, &edgeTo, &programmatic, 1), "cuGraphAddDependencies")
            rewritten += 1
        }
        return (rewritten, unlisted)
    }

    /// The names of the kernels `body` queues on `stream`, found by recording them into a graph
    /// that is never run (for telling which of cuBLASLt's algorithms run listed kernels).
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
        try device.check(functions.cuGraphGetNodes(graph, nil, &count), "cuGraphGetNodes")
        var nodes = [CUhandle?](repeating: nil, count: count)
        try device.check(functions.cuGraphGetNodes(graph, &nodes, &count), "cuGraphGetNodes")
        return try nodes.prefix(count).compactMap { try kernelName($0, device: device) }
    }

    /// A node's kernel name: nil for a node that is not a kernel, "" where the driver gives none.
    func kernelName(_ node: CUhandle?, device: CUDADevice) throws -> String? {
        var type: Int32 = -1
        try device.check(functions.cuGraphNodeGetType(node, &type), "cuGraphNodeGetType")
        guard type == 0 else { return nil }
        // CUDA_KERNEL_NODE_PARAMS_v2: the CUfunction first (72 bytes in all; room for more).
        let parameters = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
        defer { parameters.deallocate() }
        parameters.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        try device.check(functions.cuGraphKernelNodeGetParams(node, parameters), "cuGraphKernelNodeGetParams")
        let function = parameters.load(as: OpaquePointer?.self)
        var text: UnsafePointer<CChar>?
        guard function != nil, functions.cuFuncGetName(&text, function) == CUDAConstant.success, let text else { return "" }
        return String(cString: text)
    }

    /// cuBLASLt's kernel names (mangled C++, `sm*_` GEMMs, nvjet); Kiln's are `extern "C"` names
    /// of Kernels/*.cu, none of which start so. For the log of kernels left plain.
    static func looksLikeLibraryKernel(_ name: String) -> Bool {
        name.hasPrefix("sm") || name.hasPrefix("_Z") || name.contains("nvjet") || name.contains("cublas")
    }
}
