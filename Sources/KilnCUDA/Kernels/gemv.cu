// Small-batch matrix-vector products for decode: y[b, n] = sum_k x[b, k] * W[n, k] (+ bias[n]),
// batch 1..8, every weight read once per launch for all batch rows. CPU twin: CPUBackend.linear
// (the fused gate/up kernels: .linear, then .gatedActivation on the two halves).
// The exact ABI (parameters, grid, block, workspace, layouts) is in README-gemv.md beside this file.
//
// Layouts. W: bf16 [N, K] row-major (the engine's fused QKV [q+k+v, hidden] and fused gate/up
// [2 * mlp, hidden], gate rows first). x: bf16 [batch, ldx]. y: [batch, ldy], bf16 or fp32.
// Requirements, checked by the host launcher and not here: K % 8 == 0, ldx % 8 == 0, weight and x
// 16-byte aligned, 1 <= batch <= 8, blockDim.x a multiple of 32 and at most 256.
//
// How. The products run on the tensor cores (mma.sync m16n8k16: bf16 in, fp32 accumulate) with the
// weights as the 16-row A operand and x as the 8-column B operand, so batch 1..8 costs the same
// instructions and the arithmetic stays far below the memory time. The sum over k does not care
// which k sits in which fragment slot as long as A and B agree, so each thread loads 16 contiguous
// bytes (8 k) of its two weight rows and of its batch row and feeds them straight to two mma's:
// no shuffles, no shared-memory staging, no bf16 -> fp32 conversions.
//   lane = 4 * g + q (g = 0..7, q = 0..3). Per mma the thread holds A rows g and g + 8, B column
//   (batch row) g, 4 k slots; C comes back as rows g, g + 8 x batch rows 2q, 2q + 1.
// A tile is the 16 weight rows of one A operand: rows 16t..16t+15 (plain), or gate rows 8t..8t+7
// with their up rows mlp+8t..mlp+8t+7 (gate/up), so act(gate) * up is formed by the thread that
// holds both and the [batch, 2 * mlp] intermediate never reaches memory.
// Work split. A block takes TILES tiles at a time (grid-stride over tile groups, so any grid.x >= 1
// is correct) and one of gridDim.y slices of K (split-K, for matrices with few rows). Its warps
// share the slice's k steps round robin, a step being 32 * CHUNKS k of every row: per step a thread
// issues (2 * TILES + 1) * CHUNKS independent 16-byte loads before its first mma. Warp partials are
// summed through shared memory; with gridDim.y > 1 each block stores its slice's partial sums to a
// workspace and the last block of a tile group to finish (a counter per group) adds the slices in
// slice order -- deterministic -- and runs the epilogue (bias, activation, rounding), then resets the
// counter for the next launch.
// Programmatic dependent launch (sm_90): each kernel lets the next one launch at once, and loads the
// weights of its warps' first k steps into registers before waiting for the previous kernel's
// writes (weights are never written by a step); launched without the PDL attribute, both
// instructions do nothing.
#include "kiln_common.cuh"

#define KILN_GEMV_MAX_WARPS 8

// Weights are streamed once (kiln_load_stream_16: no L1, 256-byte L2 prefetch); x is kept in L1,
// since every block on the SM reads the same x (kiln_load_readonly_16).

__device__ __forceinline__ void gemv_prefetch(const uint4* pointer) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(pointer));
}

// Programmatic dependent launch: no-ops unless the launch carries the PDL attribute (and before sm_90).
__device__ __forceinline__ void gemv_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void gemv_wait_dependencies() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    KILN_TRACE_WAITED();
}


// The weight rows a thread feeds to A rows g and g + 8 of `tile`. Rows past the end read the last
// row instead: A's rows are independent in the mma and those results are never stored, so loads
// need no predicates.
template <int Mode>
__device__ __forceinline__ void gemv_rows(int tile, int g, int rows, int& r0, int& r1) {
    if (Mode == 0) {
        r0 = min(tile * 16 + g, rows - 1);
        r1 = min(tile * 16 + g + 8, rows - 1);
    } else {
        r0 = min(tile * 8 + g, rows - 1);
        r1 = rows + r0;
    }
}

// The two weight rows per tile (gemv_rows) that this thread reads for the TILES tiles from firstTile.
template <int Mode, int TILES>
__device__ __forceinline__ void gemv_tile_rows(int firstTile, int g, int rows, const uint4* weights, int chunksPerRow,
                                               const uint4* (&row0)[TILES], const uint4* (&row1)[TILES]) {
    #pragma unroll
    for (int t = 0; t < TILES; t++) {
        int r0, r1;
        gemv_rows<Mode>(firstTile + t, g, rows, r0, r1);
        row0[t] = weights + (long long)r0 * chunksPerRow;
        row1[t] = weights + (long long)r1 * chunksPerRow;
    }
}

// One k step of one warp: each thread loads CHUNKS 16-byte chunks of its two weight rows per tile
// and of its batch row (lanes q = 0..3 of a group read 4 consecutive chunks, 64 contiguous bytes of
// a row; the thread's next chunk is 4 chunks further on), then runs 2 mma's per chunk and tile
// (elements 0..3 of the chunk, then 4..7). firstChunk = step * 4 * CHUNKS + q. Tail: chunks at or
// past chunksPerRow read chunk 0 and are zeroed (both operands, so any weight value gives 0).
// Split in two so that a kernel can issue a step's weight loads before waiting for its inputs.
template <int CHUNKS, int TILES, bool Tail>
__device__ __forceinline__ void gemv_load_weights(uint4 (&w0)[TILES][CHUNKS], uint4 (&w1)[TILES][CHUNKS],
                                                  const uint4* const (&row0)[TILES],
                                                  const uint4* const (&row1)[TILES], int firstChunk,
                                                  int chunksPerRow) {
    #pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        int chunk = firstChunk + 4 * c;
        if (Tail && chunk >= chunksPerRow) chunk = 0;
        #pragma unroll
        for (int t = 0; t < TILES; t++) {
            w0[t][c] = kiln_load_stream_16(row0[t] + chunk);
            w1[t][c] = kiln_load_stream_16(row1[t] + chunk);
        }
    }
}

// The rest of a k step once its weights are in registers: x's chunks, the tail zeroing, the mma's.
template <int CHUNKS, int TILES, bool Tail>
__device__ __forceinline__ void gemv_multiply(float (&acc)[TILES][2][4], uint4 (&w0)[TILES][CHUNKS],
                                              uint4 (&w1)[TILES][CHUNKS], const uint4* input, int firstChunk,
                                              int chunksPerRow) {
    uint4 xs[CHUNKS];
    #pragma unroll
    for (int c = 0; c < CHUNKS; c++) {
        int chunk = firstChunk + 4 * c;
        if (Tail && chunk >= chunksPerRow) chunk = 0;
        xs[c] = kiln_load_readonly_16(input + chunk);
    }
    if (Tail) {
        const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
        #pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            if (firstChunk + 4 * c < chunksPerRow) continue;
            xs[c] = zero;
            #pragma unroll
            for (int t = 0; t < TILES; t++) w0[t][c] = w1[t][c] = zero;
        }
    }
    #pragma unroll
    for (int c = 0; c < CHUNKS; c++)
        #pragma unroll
        for (int t = 0; t < TILES; t++) {
            kiln_mma_bf16_16816(acc[t][0], w0[t][c].x, w1[t][c].x, w0[t][c].y, w1[t][c].y, xs[c].x, xs[c].y);
            kiln_mma_bf16_16816(acc[t][1], w0[t][c].z, w1[t][c].z, w0[t][c].w, w1[t][c].w, xs[c].z, xs[c].w);
        }
}

template <int CHUNKS, int TILES, bool Tail>
__device__ __forceinline__ void gemv_step(float (&acc)[TILES][2][4], const uint4* const (&row0)[TILES],
                                          const uint4* const (&row1)[TILES], const uint4* input, int firstChunk,
                                          int chunksPerRow) {
    uint4 w0[TILES][CHUNKS], w1[TILES][CHUNKS];
    gemv_load_weights<CHUNKS, TILES, Tail>(w0, w1, row0, row1, firstChunk, chunksPerRow);
    gemv_multiply<CHUNKS, TILES, Tail>(acc, w0, w1, input, firstChunk, chunksPerRow);
}

// Writes lane l's finished C fragment of `tile`: .x, .y = row g', batch 2q', 2q'+1; .z, .w = row
// g' + 8 (plain) or the matching up row (gate/up), same batch rows.
template <int Mode, typename Out>
__device__ __forceinline__ void gemv_epilogue(float4 sum, int tile, int l, int rows, int batch,
                                              const float* __restrict__ bias, Out* __restrict__ y, int ldy) {
    const int gl = l >> 2, b0 = 2 * (l & 3), b1 = b0 + 1;
    if (Mode == 0) {
        const int n0 = tile * 16 + gl, n1 = n0 + 8;
        if (n0 < rows) {
            const float add = bias != nullptr ? bias[n0] : 0.0f;
            if (b0 < batch) kiln_store(y + (long long)b0 * ldy + n0, sum.x + add);
            if (b1 < batch) kiln_store(y + (long long)b1 * ldy + n0, sum.y + add);
        }
        if (n1 < rows) {
            const float add = bias != nullptr ? bias[n1] : 0.0f;
            if (b0 < batch) kiln_store(y + (long long)b0 * ldy + n1, sum.z + add);
            if (b1 < batch) kiln_store(y + (long long)b1 * ldy + n1, sum.w + add);
        }
    } else {
        const int n = tile * 8 + gl;
        if (n < rows) {
            if (b0 < batch) kiln_store(y + (long long)b0 * ldy + n, kiln_gated_activation<Mode>(sum.x) * sum.z);
            if (b1 < batch) kiln_store(y + (long long)b1 * ldy + n, kiln_gated_activation<Mode>(sum.y) * sum.w);
        }
    }
}

// Mode 0: plain, y[b, n] = W[n, :] . x[b, :] + bias[n], n < rows (= N); tiles of 16 rows.
// Mode 1 (SiLU) / 2 (GELU-tanh): fused gate/up, rows = mlp, W is [2 * mlp, K];
//   y[b, n] = act(W[n, :] . x[b, :]) * (W[mlp + n, :] . x[b, :]), n < mlp; tiles of 8 outputs.
// CHUNKS: 16-byte chunks per row per thread per k step. TILES: tiles per block at a time.
// workspace: [tileGroups * TILES][gridDim.y][32] float4, counters: [tileGroups] uint32, both
// unused (may be null) when gridDim.y == 1.
template <int CHUNKS, int TILES, int Mode, typename Out>
__device__ __forceinline__ void gemv_body(const bf16* __restrict__ weight, const bf16* __restrict__ x,
                                          const float* __restrict__ bias, Out* __restrict__ y, int rows, int K,
                                          int batch, int ldx, int ldy, float4* __restrict__ workspace,
                                          unsigned* __restrict__ counters) {
    KILN_TRACE_SCOPE(Mode != 0 ? kTraceGEMVGateUp : (sizeof(Out) == 4 ? kTraceGEMVLogits : kTraceGEMV));
    // Partial C fragments of every warp: [warps][TILES][32 lanes] x 4 floats.
    __shared__ float4 partial[KILN_GEMV_MAX_WARPS][TILES][32];
    __shared__ int lastSlice;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const int g = lane >> 2, q = lane & 3;
    const int chunksPerRow = K >> 3;
    const int stepChunks = 4 * CHUNKS;
    const int steps = (chunksPerRow + stepChunks - 1) / stepChunks, fullSteps = chunksPerRow / stepChunks;
    const int tiles = Mode == 0 ? (rows + 15) / 16 : (rows + 7) / 8;
    // This block's slice of the k steps.
    const int slice = blockIdx.y, slices = gridDim.y;
    const int stepsPerSlice = (steps + slices - 1) / slices;
    const int stepBegin = min(steps, slice * stepsPerSlice), stepEnd = min(steps, stepBegin + stepsPerSlice);
    const int fullEnd = min(stepEnd, fullSteps);
    const uint4* weights = reinterpret_cast<const uint4*>(weight);
    // Batch rows past `batch` read the last one: C's columns are independent and never stored.
    const uint4* input = reinterpret_cast<const uint4*>(x) + (long long)min(g, batch - 1) * (ldx >> 3);

    // Before the previous kernel has finished: let the next one launch, and issue the weight loads
    // of this warp's first PRELOAD full k steps of the block's first tile group into registers
    // (weights are never written by a decode step; x is read only after the wait). Under PDL these
    // loads overlap the previous kernel's tail: for qkv/o (K = 2048, 8 warps of one step each) that
    // is all of the block's weights. (An L2 prefetch here instead cost up to 40%: README-gemv.md.)
#ifdef KILN_GEMV_NO_PRELOAD
    constexpr int PRELOAD = 0;  // the earlier variant, for A/B timing (KILN_KERNEL_DEFINES)
#else
    constexpr int PRELOAD = CHUNKS >= 8 ? 1 : 8 / CHUNKS;
#endif
    const int firstGroup = blockIdx.x * TILES;
    uint4 pre0[PRELOAD > 0 ? PRELOAD : 1][TILES][CHUNKS], pre1[PRELOAD > 0 ? PRELOAD : 1][TILES][CHUNKS];
    int preloaded = 0;  // full steps loaded: stepBegin + warp + i * warps, i < preloaded
    if (firstGroup < tiles) {
        const uint4* row0[TILES];
        const uint4* row1[TILES];
        gemv_tile_rows<Mode, TILES>(firstGroup, g, rows, weights, chunksPerRow, row0, row1);
        #pragma unroll
        for (int i = 0; i < PRELOAD; i++) {
            const int step = stepBegin + warp + i * warps;
            if (step < fullEnd) {
                gemv_load_weights<CHUNKS, TILES, false>(pre0[i], pre1[i], row0, row1, step * stepChunks + q,
                                                        chunksPerRow);
                preloaded = i + 1;
            }
        }
    }
    gemv_launch_dependents();
    gemv_wait_dependencies();

    for (int firstTile = firstGroup; firstTile < tiles; firstTile += gridDim.x * TILES) {
        const uint4* row0[TILES];
        const uint4* row1[TILES];
        gemv_tile_rows<Mode, TILES>(firstTile, g, rows, weights, chunksPerRow, row0, row1);

        // Two accumulator sets (first and second half of each chunk) halve the mma dependency chain.
        float acc[TILES][2][4];
        #pragma unroll
        for (int t = 0; t < TILES; t++)
            #pragma unroll
            for (int h = 0; h < 2; h++)
                #pragma unroll
                for (int i = 0; i < 4; i++) acc[t][h][i] = 0.0f;

        // The preloaded steps first (same order as the loop, so the same bits), then the rest.
        int step = stepBegin + warp;
        if (firstTile == firstGroup) {
            #pragma unroll
            for (int i = 0; i < PRELOAD; i++)
                if (i < preloaded) {
                    gemv_multiply<CHUNKS, TILES, false>(acc, pre0[i], pre1[i], input, step * stepChunks + q,
                                                        chunksPerRow);
                    step += warps;
                }
        }
        for (; step < fullEnd; step += warps)
            gemv_step<CHUNKS, TILES, false>(acc, row0, row1, input, step * stepChunks + q, chunksPerRow);
        // The last, partial step (K not a multiple of 32 * CHUNKS), by the warp whose turn it is.
        if (fullSteps < stepEnd && fullSteps >= stepBegin && (fullSteps - stepBegin) % warps == warp)
            gemv_step<CHUNKS, TILES, true>(acc, row0, row1, input, fullSteps * stepChunks + q, chunksPerRow);

        #pragma unroll
        for (int t = 0; t < TILES; t++)
            partial[warp][t][lane] = make_float4(acc[t][0][0] + acc[t][1][0], acc[t][0][1] + acc[t][1][1],
                                                 acc[t][0][2] + acc[t][1][2], acc[t][0][3] + acc[t][1][3]);
        __syncthreads();
        // Thread i = 32 t + l sums lane l's fragment of tile t over the warps.
        for (int i = threadIdx.x; i < TILES * 32; i += blockDim.x) {
            const int t = i >> 5, l = i & 31;
            float4 sum = partial[0][t][l];
            for (int w = 1; w < warps; w++) {
                const float4 p = partial[w][t][l];
                sum.x += p.x;
                sum.y += p.y;
                sum.z += p.z;
                sum.w += p.w;
            }
            if (slices == 1) gemv_epilogue<Mode, Out>(sum, firstTile + t, l, rows, batch, bias, y, ldy);
            else workspace[((long long)(firstTile + t) * slices + slice) * 32 + l] = sum;
        }
        if (slices > 1) {
            // Publish this slice's sums, then count it; the last slice of the group finishes.
            __threadfence();
            __syncthreads();
            if (threadIdx.x == 0) lastSlice = atomicAdd(&counters[firstTile / TILES], 1u) == (unsigned)(slices - 1);
            __syncthreads();
            if (lastSlice) {
                __threadfence();
                for (int i = threadIdx.x; i < TILES * 32; i += blockDim.x) {
                    const int t = i >> 5, l = i & 31;
                    const float4* sums = workspace + (long long)(firstTile + t) * slices * 32 + l;
                    float4 sum = __ldcg(sums);
                    for (int s = 1; s < slices; s++) {
                        const float4 p = __ldcg(sums + s * 32);
                        sum.x += p.x;
                        sum.y += p.y;
                        sum.z += p.z;
                        sum.w += p.w;
                    }
                    gemv_epilogue<Mode, Out>(sum, firstTile + t, l, rows, batch, bias, y, ldy);
                }
                if (threadIdx.x == 0) counters[firstTile / TILES] = 0u;
            }
        }
        __syncthreads();
    }
}

// The shipped configuration: 8 chunks (128 bytes) of each of 2 rows per thread per k step, one
// 16-row tile per block at a time (see README-gemv.md for the measurements that chose it).
#define KILN_GEMV_CHUNKS 8
#define KILN_GEMV_TILES 1

// Plain: weight [N, K], x [batch, ldx], bias [N] fp32 or null, y [batch, ldy].
#define KILN_GEMV_PLAIN(NAME, OUT, C, T)                                                                            \
    extern "C" __global__ void __launch_bounds__(256) NAME(const bf16* weight, const bf16* x, const float* bias,    \
                                                           OUT* y, int N, int K, int batch, int ldx, int ldy,       \
                                                           float4* workspace, unsigned* counters) {                 \
        gemv_body<C, T, 0, OUT>(weight, x, bias, y, N, K, batch, ldx, ldy, workspace, counters);                    \
    }

// Fused gate/up: weight [2 * mlp, K] (gate rows first), x [batch, ldx], y [batch, ldy] bf16.
#define KILN_GEMV_GATEUP(NAME, MODE, C, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(256) NAME(const bf16* weight, const bf16* x, bf16* y, int mlp,     \
                                                           int K, int batch, int ldx, int ldy, float4* workspace,   \
                                                           unsigned* counters) {                                    \
        gemv_body<C, T, MODE, bf16>(weight, x, nullptr, y, mlp, K, batch, ldx, ldy, workspace, counters);           \
    }

KILN_GEMV_PLAIN(gemv_bf16, bf16, KILN_GEMV_CHUNKS, KILN_GEMV_TILES)
KILN_GEMV_PLAIN(gemv_bf16_f32, float, KILN_GEMV_CHUNKS, KILN_GEMV_TILES)
KILN_GEMV_GATEUP(gemv_gateup_silu_bf16, 1, KILN_GEMV_CHUNKS, KILN_GEMV_TILES)
KILN_GEMV_GATEUP(gemv_gateup_gelu_bf16, 2, KILN_GEMV_CHUNKS, KILN_GEMV_TILES)
// One chunk (16 bytes of each row per thread per k step): the faster configuration for matrices
// of many tiles (gate/up, the LM head) in the H200 timings; the launcher picks by tile count.
KILN_GEMV_PLAIN(gemv_bf16_c1, bf16, 1, 1)
KILN_GEMV_PLAIN(gemv_bf16_f32_c1, float, 1, 1)
KILN_GEMV_GATEUP(gemv_gateup_silu_bf16_c1, 1, 1, 1)
KILN_GEMV_GATEUP(gemv_gateup_gelu_bf16_c1, 2, 1, 1)

#ifdef KILN_GEMV_TUNING
// Other configurations, compiled only by scripts/check_gemv_kernels.py to compare them:
// gemv_bf16_c<CHUNKS>_t<TILES> and gemv_gateup_gelu_bf16_c<CHUNKS>_t<TILES>.
#define KILN_GEMV_TUNE(C, T)                                                                                        \
    KILN_GEMV_PLAIN(gemv_bf16_c##C##_t##T, bf16, C, T)                                                              \
    KILN_GEMV_GATEUP(gemv_gateup_gelu_bf16_c##C##_t##T, 2, C, T)
KILN_GEMV_TUNE(1, 1)
KILN_GEMV_TUNE(2, 1)
KILN_GEMV_TUNE(4, 1)
KILN_GEMV_TUNE(1, 2)
KILN_GEMV_TUNE(2, 2)
KILN_GEMV_TUNE(4, 2)
#endif
