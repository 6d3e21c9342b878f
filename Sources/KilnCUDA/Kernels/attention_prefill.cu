// Causal attention over the paged KV cache for any batch: prompt chunks (with or without a cached
// prefix) and single decode tokens mixed, many sequences per launch. FlashAttention-2 style:
// a block owns a tile of query rows, walks the keys in tiles through shared memory and keeps an
// online softmax in fp32. CPU twin: CPUBackend.attention. ABI and launch rules:
// README-attention.md.
//
// For each sequence s, each of its new tokens t (batch row tokenStart[s] + i) at position p and
// each query head h:
//   out[t, h] = Σ_j softmax_j(score(j)) · V[j, h / group],   score(j) = cap·tanh(scale·q·K[j] / cap)
//   (or scale·q·K[j] without a cap) over cached positions j in (p − window, p] ∩ [0, context),
// K/V of position j read at slot blockTable[s][j / blockSize] * blockSize + j % blockSize.
//
// GQA packing: the `group = heads / kvHeads` query heads that share one kv head are packed into
// the rows of one tile (row r of a sequence's kv head = token r / group, head r % group), so a
// key tile loaded once serves every head of the group. Tiles are taken last-first (the longest
// causal rows start first).
//
// Two instantiations per head size:
//   bf16: tensor cores (mma.sync m16n8k16, bf16 in, fp32 accumulate), 64 rows x 64 keys per tile,
//         K/V tiles loaded by cp.async (V overlapped with Q·Kᵀ, the next K with P·V).
//   f32:  plain fp32 FMA (tensor cores would round to tf32), 32 rows x 32 keys per tile, for
//         parity checks against the CPU backend.
#include "kiln_common.cuh"

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kThreads = 128;  // 4 warps, every instantiation

// d += a · b for one 16x8x16 bf16 tile, fp32 accumulators.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    kiln_mma_bf16_16816(d, a[0], a[1], a[2], a[3], b0, b1);
}

// Score of one (query, key) dot product in log2 units: scale, then the optional soft-cap.
__device__ __forceinline__ float log2_score(float dot, float scale, float softcap) {
    return softcap > 0.0f ? softcap * tanhf(dot * scale / softcap) * kLog2e : dot * scale * kLog2e;
}

// Whether key position `key` is visible from a query at `position` (`last` = the tile's last
// readable key, min(max position, context - 1)); window <= 0 means no window.
__device__ __forceinline__ bool visible(int key, int position, int last, int window) {
    return key <= position && key <= last && (window <= 0 || key > position - window);
}

// Per-sequence values read once by every block.
struct SequenceView {
    int tokenStart, tokenCount, contextLength;
    const int* blockTable;
};

// Cache slot of key position `key`.
__device__ __forceinline__ int slot_of(const int* blockTable, int blockSize, int key) {
    return blockTable[key / blockSize] * blockSize + key % blockSize;
}

// ---------------------------------------------------------------------------------------------
// bf16, tensor cores.
// ---------------------------------------------------------------------------------------------

constexpr int kTileRows = 64;  // packed query rows per block (16 per warp)
constexpr int kTileKeys = 64;  // keys per K/V tile

// Shared memory: Q, K and V tiles of 64 rows, each row headDim + 8 bf16 (16 bytes of padding
// make ldmatrix's eight 16-byte row reads fall in distinct banks).
template <int HeadDim>
constexpr int prefill_bf16_shared_bytes() {
    return 3 * 64 * (HeadDim + 8) * 2;
}

template <int HeadDim>
__device__ __forceinline__ void attention_prefill_bf16_body(
    const bf16* __restrict__ query, int queryStride, const bf16* __restrict__ keyCache,
    const bf16* __restrict__ valueCache, bf16* __restrict__ out, int outStride, const int* __restrict__ positions,
    const int* __restrict__ sequenceTokenStart, const int* __restrict__ sequenceTokenCount,
    const int* __restrict__ sequenceContextLength, const int* __restrict__ blockTables, int blockTableStride,
    int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap) {
    static_assert(HeadDim % 64 == 0 && HeadDim <= 256, "head size 64, 128 or 256");
    constexpr int Stride = HeadDim + 8;           // shared row stride, elements
    constexpr int ChunksPerRow = HeadDim / 8;     // 16-byte chunks per row
    constexpr int RowsPerPass = 32 / ChunksPerRow;  // rows one warp copies per instruction
    constexpr int DimBlocks = HeadDim / 8;        // n8 blocks of the output

    const int group = heads / kvHeads;
    const int sequence = blockIdx.z, kvHead = blockIdx.y;
    SequenceView view;
    view.tokenCount = sequenceTokenCount[sequence];
    const int rowCount = view.tokenCount * group;
    const int rowStart = (gridDim.x - 1 - blockIdx.x) * kTileRows;
    if (rowStart >= rowCount) return;
    view.tokenStart = sequenceTokenStart[sequence];
    view.contextLength = sequenceContextLength[sequence];
    view.blockTable = blockTables + (long long)sequence * blockTableStride;

    extern __shared__ __align__(16) unsigned char sharedBytes[];
    bf16* queryTile = reinterpret_cast<bf16*>(sharedBytes);  // [64][Stride]
    bf16* keyTile = queryTile + kTileRows * Stride;          // [64][Stride]
    bf16* valueTile = keyTile + kTileKeys * Stride;          // [64][Stride]
    __shared__ int tileMinPosition, tileMaxPosition;

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int groupRow = lane >> 2, quad = lane & 3;  // mma fragment coordinates

    // Positions of the two rows this thread holds accumulators for (warp * 16 + groupRow + 8i);
    // -1 for rows past the sequence's end (nothing is visible from them).
    int rowPosition[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        const int row = rowStart + warp * 16 + groupRow + 8 * i;
        rowPosition[i] = row < rowCount ? positions[view.tokenStart + row / group] : -1;
    }
    if (threadIdx.x == 0) {
        tileMinPosition = 0x7fffffff;
        tileMaxPosition = -1;
    }
    __syncthreads();
    if (threadIdx.x < kTileRows && rowStart + (int)threadIdx.x < rowCount) {
        const int position = positions[view.tokenStart + (rowStart + threadIdx.x) / group];
        atomicMin(&tileMinPosition, position);
        atomicMax(&tileMaxPosition, position);
    }
    __syncthreads();
    const int minPosition = tileMinPosition, maxPosition = tileMaxPosition;
    const int last = min(maxPosition, view.contextLength - 1);  // last key any row reads
    const int first = slidingWindow > 0 ? max(0, minPosition - slidingWindow + 1) : 0;

    // Q tile: warp w copies rows 16w..16w+15 (and reads only those rows later).
#pragma unroll
    for (int pass = 0; pass < 16 / RowsPerPass; ++pass) {
        const int row = warp * 16 + pass * RowsPerPass + lane / ChunksPerRow, chunk = lane % ChunksPerRow;
        const int packed = rowStart + row;
        const bool valid = packed < rowCount;
        const bf16* source = query;
        if (valid) {
            const int token = view.tokenStart + packed / group, head = kvHead * group + packed % group;
            source = query + (long long)token * queryStride + head * HeadDim + chunk * 8;
        }
        kiln_copy_async_16(queryTile + row * Stride + chunk * 8, source, valid);
    }

    // One K or V tile of keys [start, start + 64): key `start + r` into row r; keys past `last`
    // become zeros (never read from the cache: their slots may hold anything, NaN included).
    auto loadTile = [&](bf16* tile, const bf16* cache, int start) {
        const int key0 = start + lane, key1 = start + 32 + lane;
        const int slot0 = key0 <= last ? slot_of(view.blockTable, blockSize, key0) : -1;
        const int slot1 = key1 <= last ? slot_of(view.blockTable, blockSize, key1) : -1;
#pragma unroll
        for (int pass = 0; pass < 16 / RowsPerPass; ++pass) {
            const int row = warp * 16 + pass * RowsPerPass + lane / ChunksPerRow, chunk = lane % ChunksPerRow;
            const int low = __shfl_sync(0xffffffffu, slot0, row & 31);
            const int high = __shfl_sync(0xffffffffu, slot1, row & 31);
            const int slot = row < 32 ? low : high;
            const bf16* source = slot >= 0 ? cache + ((long long)slot * kvHeads + kvHead) * HeadDim + chunk * 8 : cache;
            kiln_copy_async_16(tile + row * Stride + chunk * 8, source, slot >= 0);
        }
    };

    float accumulator[DimBlocks][4];  // O rows (groupRow, groupRow + 8) x dims (8b + 2·quad, +1)
#pragma unroll
    for (int b = 0; b < DimBlocks; ++b)
#pragma unroll
        for (int e = 0; e < 4; ++e) accumulator[b][e] = 0.0f;
    float rowMax[2] = {KILN_NEG_INFINITY, KILN_NEG_INFINITY};  // log2 units
    float rowSum[2] = {0.0f, 0.0f};                            // this thread's columns only

    if (first <= last) loadTile(keyTile, keyCache, first);
    kiln_copy_async_commit();

    for (int start = first; start <= last; start += kTileKeys) {
        kiln_copy_async_wait_all();
        __syncthreads();  // K tile (and Q) landed; every warp is done with the previous V tile
        loadTile(valueTile, valueCache, start);
        kiln_copy_async_commit();

        // S = Q · Kᵀ: this warp's 16 rows x 64 keys, 8 n8 blocks.
        float score[8][4];
#pragma unroll
        for (int b = 0; b < 8; ++b)
#pragma unroll
            for (int e = 0; e < 4; ++e) score[b][e] = 0.0f;
#pragma unroll
        for (int k = 0; k < HeadDim / 16; ++k) {
            unsigned a[4];
            kiln_load_matrix_x4(a, queryTile + (warp * 16 + (lane & 15)) * Stride + k * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int pair = 0; pair < 4; ++pair) {
                unsigned b[4];
                kiln_load_matrix_x4(b, keyTile + (pair * 16 + (lane & 7) + (lane >> 4) * 8) * Stride + k * 16 + ((lane >> 3) & 1) * 8);
                mma_bf16_16816(score[2 * pair], a, b[0], b[1]);
                mma_bf16_16816(score[2 * pair + 1], a, b[2], b[3]);
            }
        }

        // Scores in log2 units; masked where some row of the tile may not see some key.
        const bool masked = start + kTileKeys - 1 > minPosition || start + kTileKeys - 1 > last ||
                            (slidingWindow > 0 && start <= maxPosition - slidingWindow);
#pragma unroll
        for (int b = 0; b < 8; ++b)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float value = log2_score(score[b][e], scale, softcap);
                if (masked && !visible(start + b * 8 + 2 * quad + (e & 1), rowPosition[e >> 1], last, slidingWindow))
                    value = KILN_NEG_INFINITY;
                score[b][e] = value;
            }

        // Online softmax per row; the 4 lanes of a quad share a row.
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            float tileMax = KILN_NEG_INFINITY;
#pragma unroll
            for (int b = 0; b < 8; ++b) tileMax = fmaxf(tileMax, fmaxf(score[b][2 * i], score[b][2 * i + 1]));
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 2));
            const float newMax = fmaxf(rowMax[i], tileMax);
            const float base = newMax == KILN_NEG_INFINITY ? 0.0f : newMax;  // rows that see nothing yet
            const float rescale = exp2f(rowMax[i] - base);
            rowMax[i] = newMax;
            float sum = 0.0f;
#pragma unroll
            for (int b = 0; b < 8; ++b) {
                score[b][2 * i] = exp2f(score[b][2 * i] - base);
                score[b][2 * i + 1] = exp2f(score[b][2 * i + 1] - base);
                sum += score[b][2 * i] + score[b][2 * i + 1];
            }
            rowSum[i] = rowSum[i] * rescale + sum;
#pragma unroll
            for (int b = 0; b < DimBlocks; ++b) {
                accumulator[b][2 * i] *= rescale;
                accumulator[b][2 * i + 1] *= rescale;
            }
        }

        kiln_copy_async_wait_all();
        __syncthreads();  // V tile landed; every warp is done reading the K tile
        if (start + kTileKeys <= last) loadTile(keyTile, keyCache, start + kTileKeys);
        kiln_copy_async_commit();

        // O += P · V: P from the score registers (the accumulator layout of two n8 blocks is the
        // A-operand layout of one k16 step), V through ldmatrix.trans.
#pragma unroll
        for (int k = 0; k < kTileKeys / 16; ++k) {
            unsigned a[4];
            a[0] = kiln_pack_bf16x2(score[2 * k][0], score[2 * k][1]);
            a[1] = kiln_pack_bf16x2(score[2 * k][2], score[2 * k][3]);
            a[2] = kiln_pack_bf16x2(score[2 * k + 1][0], score[2 * k + 1][1]);
            a[3] = kiln_pack_bf16x2(score[2 * k + 1][2], score[2 * k + 1][3]);
#pragma unroll
            for (int pair = 0; pair < HeadDim / 16; ++pair) {
                unsigned b[4];
                kiln_load_matrix_x4_transposed(b, valueTile + (k * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * Stride + pair * 16 + (lane >> 4) * 8);
                mma_bf16_16816(accumulator[2 * pair], a, b[0], b[1]);
                mma_bf16_16816(accumulator[2 * pair + 1], a, b[2], b[3]);
            }
        }
    }
    kiln_copy_async_wait_all();  // the Q copy when no key tile ran

    // Normalise, stage this warp's 16 rows in its own Q rows, then 16-byte stores.
#pragma unroll
    for (int i = 0; i < 2; ++i) {
        float sum = rowSum[i];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
        bf16* stage = queryTile + (warp * 16 + groupRow + 8 * i) * Stride + 2 * quad;
#pragma unroll
        for (int b = 0; b < DimBlocks; ++b)
            *reinterpret_cast<unsigned*>(stage + b * 8) =
                kiln_pack_bf16x2(accumulator[b][2 * i] * inverse, accumulator[b][2 * i + 1] * inverse);
    }
    __syncwarp();
#pragma unroll
    for (int pass = 0; pass < 16 / RowsPerPass; ++pass) {
        const int row = warp * 16 + pass * RowsPerPass + lane / ChunksPerRow, chunk = lane % ChunksPerRow;
        const int packed = rowStart + row;
        if (packed < rowCount) {
            const int token = view.tokenStart + packed / group, head = kvHead * group + packed % group;
            *reinterpret_cast<uint4*>(out + (long long)token * outStride + head * HeadDim + chunk * 8) =
                *reinterpret_cast<const uint4*>(queryTile + row * Stride + chunk * 8);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// f32, plain FMA.
// ---------------------------------------------------------------------------------------------

constexpr int kRowsF32 = 32;  // packed query rows per block; thread t owns row t / 4
constexpr int kKeysF32 = 32;  // keys per tile; thread t owns keys t % 4 + 4i, i < 8

// Shared memory: Q, K, V tiles of 32 rows of headDim + 4 floats (the 4-float pad spreads rows
// over banks for the 16-byte reads), then 32 slots.
template <int HeadDim>
constexpr int prefill_f32_shared_bytes() {
    return 3 * 32 * (HeadDim + 4) * 4 + 32 * 4;
}

template <int HeadDim>
__device__ __forceinline__ void attention_prefill_f32_body(
    const float* __restrict__ query, int queryStride, const float* __restrict__ keyCache,
    const float* __restrict__ valueCache, float* __restrict__ out, int outStride, const int* __restrict__ positions,
    const int* __restrict__ sequenceTokenStart, const int* __restrict__ sequenceTokenCount,
    const int* __restrict__ sequenceContextLength, const int* __restrict__ blockTables, int blockTableStride,
    int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap) {
    static_assert(HeadDim % 64 == 0 && HeadDim <= 256, "head size 64, 128 or 256");
    constexpr int Stride = HeadDim + 4;
    constexpr int Vectors = HeadDim / 4;       // float4 per row
    constexpr int OwnedVectors = HeadDim / 16;  // float4 of the output row per thread

    const int group = heads / kvHeads;
    const int sequence = blockIdx.z, kvHead = blockIdx.y;
    const int tokenCount = sequenceTokenCount[sequence];
    const int rowCount = tokenCount * group;
    const int rowStart = (gridDim.x - 1 - blockIdx.x) * kRowsF32;
    if (rowStart >= rowCount) return;
    const int tokenStart = sequenceTokenStart[sequence];
    const int contextLength = sequenceContextLength[sequence];
    const int* blockTable = blockTables + (long long)sequence * blockTableStride;

    extern __shared__ __align__(16) unsigned char sharedBytes[];
    float* queryTile = reinterpret_cast<float*>(sharedBytes);  // [32][Stride]
    float* keyTile = queryTile + kRowsF32 * Stride;            // [32][Stride]
    float* valueTile = keyTile + kKeysF32 * Stride;            // [32][Stride]
    int* slots = reinterpret_cast<int*>(valueTile + kKeysF32 * Stride);  // [32]
    __shared__ int tileMinPosition, tileMaxPosition;

    const int tid = threadIdx.x, quad = tid & 3, localRow = tid >> 2;
    const int packedRow = rowStart + localRow;
    const int position = packedRow < rowCount ? positions[tokenStart + packedRow / group] : -1;
    if (tid == 0) {
        tileMinPosition = 0x7fffffff;
        tileMaxPosition = -1;
    }
    __syncthreads();
    if (quad == 0 && position >= 0) {
        atomicMin(&tileMinPosition, position);
        atomicMax(&tileMaxPosition, position);
    }
    for (int index = tid; index < kRowsF32 * Vectors; index += kThreads) {
        const int row = index / Vectors, vector = index % Vectors, packed = rowStart + row;
        float4 value = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (packed < rowCount) {
            const int token = tokenStart + packed / group, head = kvHead * group + packed % group;
            value = *reinterpret_cast<const float4*>(query + (long long)token * queryStride + head * HeadDim + vector * 4);
        }
        *reinterpret_cast<float4*>(queryTile + row * Stride + vector * 4) = value;
    }
    __syncthreads();
    const int minPosition = tileMinPosition, maxPosition = tileMaxPosition;
    const int last = min(maxPosition, contextLength - 1);
    const int first = slidingWindow > 0 ? max(0, minPosition - slidingWindow + 1) : 0;

    float4 accumulator[OwnedVectors];  // dims 4 (quad + 4j) .. +3 of row localRow
#pragma unroll
    for (int j = 0; j < OwnedVectors; ++j) accumulator[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    float rowMax = KILN_NEG_INFINITY, rowSum = 0.0f;  // rowSum: this thread's keys only

    for (int start = first; start <= last; start += kKeysF32) {
        if (tid < kKeysF32) slots[tid] = start + tid <= last ? slot_of(blockTable, blockSize, start + tid) : -1;
        __syncthreads();
        for (int index = tid; index < kKeysF32 * Vectors; index += kThreads) {
            const int row = index / Vectors, vector = index % Vectors, slot = slots[row];
            float4 key = make_float4(0.0f, 0.0f, 0.0f, 0.0f), value = key;
            if (slot >= 0) {
                const long long offset = ((long long)slot * kvHeads + kvHead) * HeadDim + vector * 4;
                key = *reinterpret_cast<const float4*>(keyCache + offset);
                value = *reinterpret_cast<const float4*>(valueCache + offset);
            }
            *reinterpret_cast<float4*>(keyTile + row * Stride + vector * 4) = key;
            *reinterpret_cast<float4*>(valueTile + row * Stride + vector * 4) = value;
        }
        __syncthreads();

        float score[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) score[i] = 0.0f;
        const float* q = queryTile + localRow * Stride;
#pragma unroll 4
        for (int v = 0; v < Vectors; ++v) {
            const float4 a = *reinterpret_cast<const float4*>(q + v * 4);
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                const float4 k = *reinterpret_cast<const float4*>(keyTile + (quad + 4 * i) * Stride + v * 4);
                score[i] = fmaf(a.x, k.x, fmaf(a.y, k.y, fmaf(a.z, k.z, fmaf(a.w, k.w, score[i]))));
            }
        }
        float tileMax = KILN_NEG_INFINITY;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float value = log2_score(score[i], scale, softcap);
            score[i] = visible(start + quad + 4 * i, position, last, slidingWindow) ? value : KILN_NEG_INFINITY;
            tileMax = fmaxf(tileMax, score[i]);
        }
        tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
        tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 2));
        const float newMax = fmaxf(rowMax, tileMax);
        const float base = newMax == KILN_NEG_INFINITY ? 0.0f : newMax;
        const float rescale = exp2f(rowMax - base);
        rowMax = newMax;
        float sum = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            score[i] = exp2f(score[i] - base);
            sum += score[i];
        }
        rowSum = rowSum * rescale + sum;
#pragma unroll
        for (int j = 0; j < OwnedVectors; ++j) {
            accumulator[j].x *= rescale;
            accumulator[j].y *= rescale;
            accumulator[j].z *= rescale;
            accumulator[j].w *= rescale;
        }
        // Key quad' + 4i's probability lives in lane (row, quad') as score[i].
        const int rowLane = (tid & 31) & ~3;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
#pragma unroll
            for (int owner = 0; owner < 4; ++owner) {
                const float p = __shfl_sync(0xffffffffu, score[i], rowLane + owner);
                const float* value = valueTile + (owner + 4 * i) * Stride;
#pragma unroll
                for (int j = 0; j < OwnedVectors; ++j) {
                    const float4 x = *reinterpret_cast<const float4*>(value + 4 * (quad + 4 * j));
                    accumulator[j].x = fmaf(p, x.x, accumulator[j].x);
                    accumulator[j].y = fmaf(p, x.y, accumulator[j].y);
                    accumulator[j].z = fmaf(p, x.z, accumulator[j].z);
                    accumulator[j].w = fmaf(p, x.w, accumulator[j].w);
                }
            }
        }
        __syncthreads();  // every thread is done with this K/V tile and the slots
    }

    rowSum += __shfl_xor_sync(0xffffffffu, rowSum, 1);
    rowSum += __shfl_xor_sync(0xffffffffu, rowSum, 2);
    if (packedRow < rowCount) {
        const float inverse = rowSum > 0.0f ? 1.0f / rowSum : 0.0f;
        const int token = tokenStart + packedRow / group, head = kvHead * group + packedRow % group;
        float* destination = out + (long long)token * outStride + head * HeadDim;
#pragma unroll
        for (int j = 0; j < OwnedVectors; ++j) {
            float4 value = accumulator[j];
            value.x *= inverse;
            value.y *= inverse;
            value.z *= inverse;
            value.w *= inverse;
            *reinterpret_cast<float4*>(destination + 4 * (quad + 4 * j)) = value;
        }
    }
}

}  // namespace

#define KILN_PREFILL_PARAMETERS(T)                                                                               \
    const T *query, int queryStride, const T *keyCache, const T *valueCache, T *out, int outStride,              \
        const int *positions, const int *sequenceTokenStart, const int *sequenceTokenCount,                      \
        const int *sequenceContextLength, const int *blockTables, int blockTableStride, int blockSize, int heads, \
        int kvHeads, float scale, int slidingWindow, float softcap
#define KILN_PREFILL_ARGUMENTS                                                                                    \
    query, queryStride, keyCache, valueCache, out, outStride, positions, sequenceTokenStart, sequenceTokenCount,  \
        sequenceContextLength, blockTables, blockTableStride, blockSize, heads, kvHeads, scale, slidingWindow,    \
        softcap

#define KILN_PREFILL(HEAD_DIM)                                                                                 \
    extern "C" __global__ void __launch_bounds__(kThreads)                                                     \
        attention_prefill_bf16_h##HEAD_DIM(KILN_PREFILL_PARAMETERS(bf16)) {                                    \
        attention_prefill_bf16_body<HEAD_DIM>(KILN_PREFILL_ARGUMENTS);                                         \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(kThreads)                                                     \
        attention_prefill_f32_h##HEAD_DIM(KILN_PREFILL_PARAMETERS(float)) {                                    \
        attention_prefill_f32_body<HEAD_DIM>(KILN_PREFILL_ARGUMENTS);                                          \
    }

KILN_PREFILL(64)
KILN_PREFILL(128)
KILN_PREFILL(256)
