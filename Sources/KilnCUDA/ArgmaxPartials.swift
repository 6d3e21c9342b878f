import KilnCore

/// Greedy decoding's first argmax pass, written by the LM head's own product (skinny_gemm.cu's
/// `_argmax` kernels: each block's best column per row, by the rule of argmax_partial_body), so
/// the argmax that follows runs only argmax_merge_parts instead of re-reading the logits
/// (`[64, 256000]` bf16 at batch 64: 32.8 MB).
///
/// The partials describe one logits tensor as the product left it. CUDABackend keeps the last
/// ones and forgets them at the start of every step, when anything else writes into that tensor
/// (softcap, another product), and once an argmax has used them; a recorded step keeps its own
/// and hands them back at each replay, which rewrites them.
struct ArgmaxPartials {
    /// The logits tensor's address, rows and columns.
    let logits: CUdeviceptr
    let rows: Int
    let columns: Int
    /// Blocks along the columns: partials per row.
    let parts: Int
    /// fp32 `[rows, parts]` best values and int32 `[rows, parts]` their columns.
    let values: DeviceBuffer
    let indices: DeviceBuffer

    /// Whether these partials are `x`'s.
    func describe(_ x: DeviceTensor) -> Bool {
        x.buffer.address == logits && x.rows == rows && x.columns == columns
    }
}
