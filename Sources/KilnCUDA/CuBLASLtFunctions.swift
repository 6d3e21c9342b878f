// The only place Kiln declares cuBLASLt's C API (libcublasLt.so): the functions it calls, as
// `@convention(c)` function-pointer types resolved with `dlsym`, the enum values it passes and
// the byte layout of the two structs it reads. Nothing here links against CUDA.
//
// Checked against cublasLt.h / cublas_api.h / library_types.h of CUDA 11.x, 12.x and 13.x (the
// values below have not changed across them):
//   cublasLtMatmulAlgo_t              = struct { uint64_t data[8]; }            64 bytes
//   cublasLtMatmulHeuristicResult_t   = struct { cublasLtMatmulAlgo_t algo;     offset  0
//                                                size_t workspaceSize;          offset 64
//                                                cublasStatus_t state;          offset 72 (int32)
//                                                float wavesCount;              offset 76
//                                                int reserved[4]; }             offset 80; 96 bytes
// Enums are C `int`-sized; handles are pointers; device pointers are `void *`.

/// `cublasStatus_t`: 0 is success.
typealias CublasStatus = Int32

/// Enum values of cublasLt.h, cublas_api.h and library_types.h that Kiln passes.
enum CuBLASLtConstant {
    // cublasStatus_t
    static let statusSuccess: CublasStatus = 0
    static let statusNotSupported: CublasStatus = 15

    // cudaDataType_t
    static let dataTypeR32F: Int32 = 0     // CUDA_R_32F
    static let dataTypeR16BF: Int32 = 14   // CUDA_R_16BF

    // cublasComputeType_t: fp32 accumulation, fp32 inputs stay fp32 (no TF32: that is
    // CUBLAS_COMPUTE_32F_FAST_TF32 = 77).
    static let compute32F: Int32 = 68      // CUBLAS_COMPUTE_32F

    // cublasOperation_t
    static let operationN: Int32 = 0       // CUBLAS_OP_N
    static let operationT: Int32 = 1       // CUBLAS_OP_T

    // cublasLtMatmulDescAttributes_t
    static let descTransA: Int32 = 3       // int32_t (cublasOperation_t)
    static let descTransB: Int32 = 4       // int32_t
    static let descEpilogue: Int32 = 7     // uint32_t (cublasLtEpilogue_t)
    static let descBiasPointer: Int32 = 8  // const void *: bias of the output's type, length = rows of D

    // cublasLtEpilogue_t
    static let epilogueDefault: UInt32 = 1 // CUBLASLT_EPILOGUE_DEFAULT
    static let epilogueBias: UInt32 = 4    // CUBLASLT_EPILOGUE_BIAS: D += bias broadcast over D's columns

    // cublasLtMatmulPreferenceAttributes_t
    static let preferenceMaxWorkspaceBytes: Int32 = 1  // uint64_t
    static let preferenceMinAlignmentA: Int32 = 5      // uint32_t, bytes (default 256)
    static let preferenceMinAlignmentB: Int32 = 6
    static let preferenceMinAlignmentC: Int32 = 7
    static let preferenceMinAlignmentD: Int32 = 8

    // cublasLtMatmulAlgoConfigAttributes_t (read back for reports; all 4-byte values)
    static let configID: Int32 = 0         // int32_t
    static let configTile: Int32 = 1       // uint32_t (cublasLtMatmulTile_t)
    static let configSplitK: Int32 = 2     // uint32_t
    static let configReductionScheme: Int32 = 3  // uint32_t
    static let configStages: Int32 = 6     // uint32_t (cublasLtMatmulStages_t)

    /// sizeof(cublasLtMatmulAlgo_t).
    static let algorithmBytes = 64
    /// sizeof(cublasLtMatmulHeuristicResult_t) and its fields' offsets.
    static let heuristicResultBytes = 96
    static let heuristicWorkspaceOffset = 64
    static let heuristicStateOffset = 72
    static let heuristicWavesOffset = 76
}

/// The cuBLASLt functions Kiln calls, resolved from libcublasLt.so.
struct CuBLASLtFunctions: @unchecked Sendable {
    let cublasLtCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>) -> CublasStatus
    let cublasLtDestroy: @convention(c) (CUhandle?) -> CublasStatus
    /// CUBLAS_VERSION of the library: major * 10000 + minor * 100 + patch (130100 is 13.1.0).
    let cublasLtGetVersion: @convention(c) () -> Int
    /// CUDART_VERSION it was built against (13000 is CUDA 13.0).
    let cublasLtGetCudartVersion: @convention(c) () -> Int
    let cublasLtGetStatusName: @convention(c) (CublasStatus) -> UnsafePointer<CChar>?
    let cublasLtGetStatusString: @convention(c) (CublasStatus) -> UnsafePointer<CChar>?
    /// (descriptor, compute type, scale type)
    let cublasLtMatmulDescCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, Int32, Int32) -> CublasStatus
    let cublasLtMatmulDescDestroy: @convention(c) (CUhandle?) -> CublasStatus
    /// (descriptor, attribute, value, value bytes)
    let cublasLtMatmulDescSetAttribute: @convention(c) (CUhandle?, Int32, UnsafeRawPointer?, Int) -> CublasStatus
    /// (layout, data type, rows, columns, leading dimension): column-major by default.
    let cublasLtMatrixLayoutCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>, Int32, UInt64, UInt64, Int64) -> CublasStatus
    let cublasLtMatrixLayoutDestroy: @convention(c) (CUhandle?) -> CublasStatus
    let cublasLtMatmulPreferenceCreate: @convention(c) (UnsafeMutablePointer<CUhandle?>) -> CublasStatus
    let cublasLtMatmulPreferenceDestroy: @convention(c) (CUhandle?) -> CublasStatus
    /// (preference, attribute, value, value bytes)
    let cublasLtMatmulPreferenceSetAttribute: @convention(c) (CUhandle?, Int32, UnsafeRawPointer?, Int) -> CublasStatus
    /// (handle, descriptor, A, B, C, D layouts, preference, requested count,
    ///  results: `requested` x 96-byte cublasLtMatmulHeuristicResult_t, returned count)
    let cublasLtMatmulAlgoGetHeuristic: @convention(c) (CUhandle?, CUhandle?, CUhandle?, CUhandle?, CUhandle?, CUhandle?, CUhandle?, Int32,
                                                        UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>) -> CublasStatus
    /// (handle, descriptor, A, B, C, D layouts, algorithm (64 bytes), result (96 bytes)): whether
    /// an algorithm chosen for one shape runs this one, and the workspace it needs here.
    let cublasLtMatmulAlgoCheck: @convention(c) (CUhandle?, CUhandle?, CUhandle?, CUhandle?, CUhandle?, CUhandle?,
                                                 UnsafeRawPointer?, UnsafeMutableRawPointer?) -> CublasStatus
    /// (algorithm, attribute, value, value bytes, bytes written)
    let cublasLtMatmulAlgoConfigGetAttribute: @convention(c) (UnsafeRawPointer?, Int32, UnsafeMutableRawPointer?, Int,
                                                              UnsafeMutablePointer<Int>?) -> CublasStatus
    /// (handle, descriptor, alpha (host), A, A layout, B, B layout, beta (host), C, C layout, D, D layout,
    ///  algorithm (64 bytes, nil: cuBLASLt picks), workspace, workspace bytes, stream)
    let cublasLtMatmul: @convention(c) (CUhandle?, CUhandle?, UnsafeRawPointer?, UnsafeRawPointer?, CUhandle?, UnsafeRawPointer?, CUhandle?,
                                        UnsafeRawPointer?, UnsafeRawPointer?, CUhandle?, UnsafeMutableRawPointer?, CUhandle?,
                                        UnsafeRawPointer?, UnsafeMutableRawPointer?, Int, CUhandle?) -> CublasStatus

    /// Resolves every function; a missing one means a cuBLASLt older than Kiln supports.
    init(_ library: DynamicLibrary) throws {
        cublasLtCreate = try library.function("cublasLtCreate")
        cublasLtDestroy = try library.function("cublasLtDestroy")
        cublasLtGetVersion = try library.function("cublasLtGetVersion")
        cublasLtGetCudartVersion = try library.function("cublasLtGetCudartVersion")
        cublasLtGetStatusName = try library.function("cublasLtGetStatusName")
        cublasLtGetStatusString = try library.function("cublasLtGetStatusString")
        cublasLtMatmulDescCreate = try library.function("cublasLtMatmulDescCreate")
        cublasLtMatmulDescDestroy = try library.function("cublasLtMatmulDescDestroy")
        cublasLtMatmulDescSetAttribute = try library.function("cublasLtMatmulDescSetAttribute")
        cublasLtMatrixLayoutCreate = try library.function("cublasLtMatrixLayoutCreate")
        cublasLtMatrixLayoutDestroy = try library.function("cublasLtMatrixLayoutDestroy")
        cublasLtMatmulPreferenceCreate = try library.function("cublasLtMatmulPreferenceCreate")
        cublasLtMatmulPreferenceDestroy = try library.function("cublasLtMatmulPreferenceDestroy")
        cublasLtMatmulPreferenceSetAttribute = try library.function("cublasLtMatmulPreferenceSetAttribute")
        cublasLtMatmulAlgoGetHeuristic = try library.function("cublasLtMatmulAlgoGetHeuristic")
        cublasLtMatmulAlgoCheck = try library.function("cublasLtMatmulAlgoCheck")
        cublasLtMatmulAlgoConfigGetAttribute = try library.function("cublasLtMatmulAlgoConfigGetAttribute")
        cublasLtMatmul = try library.function("cublasLtMatmul")
    }
}
