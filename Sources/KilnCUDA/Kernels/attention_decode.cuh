// The decode attention kernels' shared body, included by attention_decode.cu (the split
// kernels), attention_decode_input.cu (the same with the attention input formed in the kernel)
// and attention_decode_reduce.cu (the partition combine). Split in three files so that a bf16
// decode step compiles only the kernels it runs (NVRTC compiles a file's every kernel at once).
// Split-K ("flash-decoding") attention over the paged KV cache for query rows that each see
// their whole visible context on their own (decode: one new token per sequence). CPU twin:
// CPUBackend.attention. ABI and launch rules: README-attention.md.
//
// Row r (a row of `query`, usually sequence r's one new token) at position p = positions[r], of
// sequence s = rowSequence[r], attends to keys j in (p − window, p] ∩ [0, context(s)): that
// range is cut into partitions of `partitionSize` keys, one block per (partition, kv head, head
// chunk, row). A block keeps a running max / sum / output per query head in fp32 and either
// writes the final output (the row's range fits one partition) or its partial results, which
// attention_decode_reduce_* combines.
//
// GQA: a block serves a chunk of `GroupTile` query heads of one kv head (the group is cut into
// ceil(group / GroupTile) chunks), so each K/V element loaded feeds GroupTile heads. Inside a
// warp, the 32 lanes split the head dimension (headDim / 32 each) and a step covers
// 32 / GroupTile keys: the 32 (key, head) partial dot products are summed across lanes by a
// transposing butterfly (31 shuffles for 32 sums), after which lane i holds item i.
// Plain fp32 FMA for both element types (memory-bound; no tensor cores).
#pragma once
#include "kiln_common.cuh"

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

// Launch bounds of the split kernels. By default the compiler may use every register it wants
// (h256 g4/g8: 255 a thread, 2 blocks an SM); KILN_ATTENTION_3_BLOCKS / KILN_ATTENTION_4_BLOCKS
// (KILN_KERNEL_DEFINES, for A/B timing; not yet measured) cap them at 168 / 128 so that 3 / 4
// blocks fit, at the cost of spilling to local memory (336 / 672 bytes a thread for h256 g8).
#if defined(KILN_ATTENTION_4_BLOCKS)
#define KILN_ATTENTION_BOUNDS __launch_bounds__(kThreads, 4)
#elif defined(KILN_ATTENTION_3_BLOCKS)
#define KILN_ATTENTION_BOUNDS __launch_bounds__(kThreads, 3)
#else
#define KILN_ATTENTION_BOUNDS __launch_bounds__(kThreads)
#endif

// N consecutive elements -> fp32 (N = 2, 4, 8: 4- to 32-byte loads).
template <int N>
__device__ __forceinline__ void load_floats(const float* __restrict__ source, float (&value)[N]) {
    if constexpr (N == 2) {
        const float2 x = *reinterpret_cast<const float2*>(source);
        value[0] = x.x; value[1] = x.y;
    } else {
#pragma unroll
        for (int i = 0; i < N; i += 4) {
            const float4 x = *reinterpret_cast<const float4*>(source + i);
            value[i] = x.x; value[i + 1] = x.y; value[i + 2] = x.z; value[i + 3] = x.w;
        }
    }
}
__device__ __forceinline__ void unpack_bf16x2(unsigned bits, float& low, float& high) {
    low = __uint_as_float(bits << 16);
    high = __uint_as_float(bits & 0xffff0000u);
}
template <int N>
__device__ __forceinline__ void load_floats(const bf16* __restrict__ source, float (&value)[N]) {
    if constexpr (N == 2) {
        const unsigned x = *reinterpret_cast<const unsigned*>(source);
        unpack_bf16x2(x, value[0], value[1]);
    } else if constexpr (N == 4) {
        const uint2 x = *reinterpret_cast<const uint2*>(source);
        unpack_bf16x2(x.x, value[0], value[1]);
        unpack_bf16x2(x.y, value[2], value[3]);
    } else {
        const uint4 x = *reinterpret_cast<const uint4*>(source);
        unpack_bf16x2(x.x, value[0], value[1]);
        unpack_bf16x2(x.y, value[2], value[3]);
        unpack_bf16x2(x.z, value[4], value[5]);
        unpack_bf16x2(x.w, value[6], value[7]);
    }
}

// N elements of T as they sit in memory (N * sizeof(T) / 4 words), so a step can have its K and
// V loads in flight before it converts anything.
template <typename T, int N>
struct RawVector {
    static constexpr int Words = N * (int)sizeof(T) / 4;
    unsigned word[Words];
};
template <typename T, int N>
__device__ __forceinline__ void load_raw(const T* __restrict__ source, RawVector<T, N>& raw) {
    constexpr int Words = RawVector<T, N>::Words;
    if constexpr (Words == 1) {
        raw.word[0] = *reinterpret_cast<const unsigned*>(source);
    } else if constexpr (Words == 2) {
        const uint2 x = *reinterpret_cast<const uint2*>(source);
        raw.word[0] = x.x; raw.word[1] = x.y;
    } else {
#pragma unroll
        for (int i = 0; i < Words; i += 4) {
            const uint4 x = reinterpret_cast<const uint4*>(source)[i / 4];
            raw.word[i] = x.x; raw.word[i + 1] = x.y; raw.word[i + 2] = x.z; raw.word[i + 3] = x.w;
        }
    }
}
template <typename T, int N>
__device__ __forceinline__ void clear_raw(RawVector<T, N>& raw) {
#pragma unroll
    for (int i = 0; i < RawVector<T, N>::Words; ++i) raw.word[i] = 0u;
}
template <int N>
__device__ __forceinline__ void raw_to_floats(const RawVector<float, N>& raw, float (&value)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) value[i] = __uint_as_float(raw.word[i]);
}
template <int N>
__device__ __forceinline__ void raw_to_floats(const RawVector<bf16, N>& raw, float (&value)[N]) {
#pragma unroll
    for (int i = 0; i < N / 2; ++i) unpack_bf16x2(raw.word[i], value[2 * i], value[2 * i + 1]);
}

// Transposing butterfly over the 32 lanes: on entry each lane holds its share of 32 sums
// (items 0..31); on exit value[0] of lane i is the full sum of item i. At the stage of width w,
// a lane keeps the half of its items whose bit w matches its own and sends the other half.
template <int Width>
__device__ __forceinline__ void transpose_sum(float (&value)[32], int lane) {
    const bool upper = (lane & Width) != 0;
#pragma unroll
    for (int i = 0; i < Width; ++i) {
        const float send = upper ? value[i] : value[i + Width];
        const float keep = upper ? value[i + Width] : value[i];
        value[i] = keep + __shfl_xor_sync(0xffffffffu, send, Width);
    }
    if constexpr (Width > 1) transpose_sum<Width / 2>(value, lane);
}

// The keys row `row` reads: [first, last], and how many partitions cover them (0: none).
struct RowRange {
    int first, last, partitions;
};
__device__ __forceinline__ RowRange row_range(int position, int contextLength, int slidingWindow, int partitionSize) {
    RowRange range;
    range.last = min(position, contextLength - 1);
    range.first = slidingWindow > 0 ? max(0, position - slidingWindow + 1) : 0;
    range.partitions = range.last >= range.first ? (range.last - range.first + partitionSize) / partitionSize : 0;
    return range;
}

// Lane k < KeysPerStep's slot for key keyBase + k of a step; -1 past the partition, -2 for the
// new key (FusedInput: formed in shared memory, not read from the cache).
template <int KeysPerStep, bool FusedInput>
__device__ __forceinline__ int decode_step_slot(int lane, int keyBase, int end, int position,
                                                const int* __restrict__ blockTable, int blockSize) {
    if (lane >= KeysPerStep || keyBase + lane > end) return -1;
    const int key = keyBase + lane;
    return FusedInput && key == position ? -2 : blockTable[key / blockSize] * blockSize + key % blockSize;
}

// Every K load of a step (and its V loads, when they fit in registers) goes out at once. The new
// key's entries (slot -2) are read from shared memory only with `readNew`; else they stay zero
// and decode_step_new_loads fills them in later.
template <typename T, int DimsPerLane, int KeysPerStep, bool PreloadValues>
__device__ __forceinline__ void decode_step_loads(int mySlot, bool readNew, const T* __restrict__ keyCache,
                                                  const T* __restrict__ valueCache, long long slotStride,
                                                  long long kvOffset, const T* newKey, const T* newValue, int lane,
                                                  RawVector<T, DimsPerLane> (&keyRaw)[KeysPerStep],
                                                  RawVector<T, DimsPerLane> (&valueRaw)[PreloadValues ? KeysPerStep : 1]) {
#pragma unroll
    for (int k = 0; k < KeysPerStep; ++k) {
        const int slot = __shfl_sync(0xffffffffu, mySlot, k);
        if (slot >= 0) {
            load_raw(keyCache + slot * slotStride + kvOffset, keyRaw[k]);
            if constexpr (PreloadValues) load_raw(valueCache + slot * slotStride + kvOffset, valueRaw[k]);
        } else if (readNew && slot == -2) {
            load_raw(newKey + lane * DimsPerLane, keyRaw[k]);
            if constexpr (PreloadValues) load_raw(newValue + lane * DimsPerLane, valueRaw[k]);
        } else {
            clear_raw(keyRaw[k]);
            if constexpr (PreloadValues) clear_raw(valueRaw[k]);
        }
    }
}
template <typename T, int DimsPerLane, int KeysPerStep, bool PreloadValues>
__device__ __forceinline__ void decode_step_new_loads(int mySlot, const T* newKey, const T* newValue, int lane,
                                                      RawVector<T, DimsPerLane> (&keyRaw)[KeysPerStep],
                                                      RawVector<T, DimsPerLane> (&valueRaw)[PreloadValues ? KeysPerStep : 1]) {
#pragma unroll
    for (int k = 0; k < KeysPerStep; ++k) {
        if (__shfl_sync(0xffffffffu, mySlot, k) != -2) continue;
        load_raw(newKey + lane * DimsPerLane, keyRaw[k]);
        if constexpr (PreloadValues) load_raw(newValue + lane * DimsPerLane, valueRaw[k]);
    }
}

// The attention input a decode kernel forms itself (attention_decode_input_*): from the row's
// fused Q/K/V product, QK-norm (norms optional), RoPE and the new token's K/V write -- what
// attention_input.cu does in a launch of its own, with the same formulas and roundings.
// qkv: [rows, qkvStride], query heads, key heads, value heads; slots[row] < 0: no K/V write;
// inverseFrequencies: [pairs]; interleaved: RoPE on (2i, 2i+1) pairs, else on (i, i + offset).
template <typename T>
struct DecodeInput {
    const T* qkv;
    int qkvStride;
    T* keyCache;
    T* valueCache;
    const int* slots;
    const float* queryNorm;
    const float* keyNorm;
    float epsilon;
    const float* inverseFrequencies;
    int pairs;
    int interleaved;
};

// Forms a decode block's attention input from the row's fused Q/K/V product (the FusedInput
// kernels), with the formulas and roundings of attention_input.cu's own launch: QK-norm (norms
// optional), RoPE at the row's position, rounding to T. (One difference: the new key's QK-norm sum
// of squares is added in another order, so with a key norm its elements may round one bf16 step
// apart from attention_input.cu's now and then; without one they are the same bits.) Warps take the block's `headCount`
// query heads (from `headBase`) one at a time; with `holdsNew` (the block's partition holds the
// new key) all threads share the new key and value, thread t taking dims t, t + kThreads, ...:
// their loads go out before the first barrier (the cos / sin come precomputed from
// decode_form_trig), and no warp needs a second round
// (as a key and a value taken as two more items did: the block holding the new key ran ~2 us
// longer than the others of a batch-1 Gemma-2B step on an H100, and was the attention's critical
// path). Each query element goes to storeQuery(head item, dim, stored), the new key's to
// storeKey(dim, stored), the new value's to storeValue(dim, value); the first head chunk's block
// (`firstChunk`) also writes the new key and value to the cache. Ends with __syncthreads().
// One code path for every rotary layout: a faster-looking variant for full rotary (each lane
// holding whole RoPE pairs) doubled the decode kernels' code (h256 g4: 9,256 SASS instructions
// against 4,688) and made decode slower, bound by instruction fetch (ncu, H100, batch 1: 6.9 of
// ~12.6 cycles an issued instruction waiting for instructions; b1 488.9 against 495.8 / 494.9
// tokens/s, static 64 20,577 / 20,551 against 21,066 / 20,815).
//
// The rotation's cos / sin come from decode_form_trig, run before the programmatic-launch wait
// (they depend on the step's position and the RoPE table only) and published by a barrier there;
// with QueriesFirst (the CUDA-core kernel) the new key's and value's loads and the query heads'
// loads then all go out before anything consumes them, so the block waits for one L2 round trip,
// not two (before session 10: the table's load and the sincos, a barrier, then the query loads;
// batch 1 on an H100, the kept form: 514.5 / 514.7 against 512.6 / 512.7 tok/s). The tensor-core kernel forms
// the new key first and the queries after the barrier, as before: with the queries first its
// static batch 64 measured 21,456-21,527 against 21,638-21,864 output tok/s (same call).
template <typename T, int HeadDim, bool QueriesFirst, typename QuerySink, typename KeySink, typename ValueSink>
__device__ __forceinline__ void decode_form_input(const DecodeInput<T>& input, const float* trig, int row, int position, int heads,
                                                  int kvHeads, int kvHead, int headBase, int headCount, bool holdsNew,
                                                  bool firstChunk, QuerySink storeQuery, KeySink storeKey, ValueSink storeValue) {
    __shared__ float scratch[kWarps][HeadDim];
    __shared__ float keySquares[kWarps];  // the new key's sum of squares by warp (QK-norm)
    __shared__ __align__(16) T keyElements[HeadDim];  // the new key as loaded (RoPE reads each element's partner)
    constexpr int kDimsPerThread = (HeadDim + kThreads - 1) / kThreads;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int pairs = input.pairs;
    const int newSlot = input.slots[row];
    const T* source = input.qkv + (long long)row * input.qkvStride;
    const bool writes = holdsNew && firstChunk && newSlot >= 0;
    const long long cacheOffset = (long long)newSlot * kvHeads * HeadDim + (long long)kvHead * HeadDim;
    const int offset = (2 * pairs == HeadDim) ? HeadDim / 2 : pairs;
    // The new key and value: this thread's dims (the key's elements then go through shared memory,
    // where the rotation reads each one's partner).
    const T* keys = source + (long long)(heads + kvHead) * HeadDim;
    T newKeys[kDimsPerThread], newValues[kDimsPerThread];
    if (holdsNew) {  // issued now, consumed after the query heads' loads have gone out
        const T* values = source + (long long)(heads + kvHeads + kvHead) * HeadDim;
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d < HeadDim) {
                newKeys[j] = keys[d];
                newValues[j] = values[d];
            }
        }
    }
    // Element i of a head after RoPE, from the head's (normed) elements `at(j)`.
    auto rotate = [&](auto at, int i) {
        if (input.interleaved) {
            if (i < 2 * pairs) {
                const int pair = i >> 1;
                const float a = at(2 * pair), b = at(2 * pair + 1);
                return (i & 1) ? b * trig[pair] + a * trig[pairs + pair] : a * trig[pair] - b * trig[pairs + pair];
            }
        } else if (i < pairs) {
            return at(i) * trig[i] - at(i + offset) * trig[pairs + i];
        } else if (i >= offset && i < offset + pairs) {
            const int pair = i - offset;
            return at(i) * trig[pair] + at(pair) * trig[pairs + pair];
        }
        return at(i);  // dims past a partial rotary pass through
    };
    auto formQueries = [&] {
        float* head = scratch[warp];
        for (int item = warp; item < headCount; item += kWarps) {
            kiln_load_normed_head(source + (long long)(headBase + item) * HeadDim, head, HeadDim, input.queryNorm, input.epsilon, lane);
            for (int i = lane; i < HeadDim; i += 32) storeQuery(item, i, from_float<T>(rotate([&](int j) { return head[j]; }, i)));
            __syncwarp();
        }
    };
    if constexpr (QueriesFirst) formQueries();
    if (holdsNew) {
        float squares = 0.0f;
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d < HeadDim) {
                keyElements[d] = newKeys[j];
                const float key = to_float(newKeys[j]);
                squares += key * key;
            }
        }
        if (input.keyNorm != nullptr) {
            squares = warp_sum(squares);
            if (lane == 0) keySquares[warp] = squares;
        }
    }
    __syncthreads();  // the key's sum of squares; every element of the key loaded (its RoPE partners are read below)
    if (holdsNew) {
        float inverse = 1.0f;
        if (input.keyNorm != nullptr) {
            float sum = 0.0f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) sum += keySquares[w];
            inverse = 1.0f / sqrtf(sum / (float)HeadDim + input.epsilon);
        }
        // The normed key element j (rounded to T, as attention_input.cu stores it before RoPE).
        auto normedKey = [&](int j) {
            const float key = to_float(keyElements[j]);
            return input.keyNorm != nullptr ? to_float(from_float<T>(key * inverse * input.keyNorm[j])) : key;
        };
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) {
            const int d = threadIdx.x + j * kThreads;
            if (d < HeadDim) {
                const T stored = from_float<T>(rotate(normedKey, d));
                storeKey(d, stored);
                storeValue(d, newValues[j]);
                if (writes) {
                    input.keyCache[cacheOffset + d] = stored;
                    input.valueCache[cacheOffset + d] = newValues[j];
                }
            }
        }
    }
    if constexpr (!QueriesFirst) formQueries();
    __syncthreads();
}

// The cos / sin of each RoPE pair at the row's position into trig (cos [0, pairs), sin [pairs,
// 2 pairs); pairs <= HeadDim / 2), then a barrier. Reads only the step's position and the RoPE
// table, which no kernel of the step writes: the fused-input kernels run it before their
// programmatic-launch wait.
template <typename T>
__device__ __forceinline__ void decode_form_trig(const DecodeInput<T>& input, int position, float* trig) {
    for (int i = threadIdx.x; i < input.pairs; i += kThreads) {
        float sine, cosine;
        sincosf((float)position * input.inverseFrequencies[i], &sine, &cosine);
        trig[i] = cosine;
        trig[input.pairs + i] = sine;
    }
    __syncthreads();
}

// Writes a decode block's result from its warps' running max / sum / output per head
// (warpMax / warpSum [kWarps][GroupTile], warpOut [kWarps][GroupTile][HeadDim], fp32, 16-byte
// aligned; a warp that saw no key has max -inf): the final output when the row's range is one partition (`single`),
// else the partition's partial results for attention_decode_reduce_*.
template <typename T, int HeadDim, int GroupTile>
__device__ __forceinline__ void decode_write_block_result(const float (*warpMax)[GroupTile], const float (*warpSum)[GroupTile],
                                                          const float* warpOut, int headCount, bool single, T* outRow,
                                                          int headBase, int row, int heads, int partition,
                                                          float* __restrict__ partialOut, float* __restrict__ partialMax,
                                                          float* __restrict__ partialSum) {
    // Four consecutive dims a thread and iteration (float4 from shared memory and to partialOut);
    // per dim the same operations in the same order as one dim at a time.
    constexpr int Quads = HeadDim / 4;
    for (int index = threadIdx.x; index < headCount * Quads; index += kThreads) {
        const int g = index / Quads, d = (index % Quads) * 4;
        float maximum = KILN_NEG_INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) maximum = fmaxf(maximum, warpMax[w][g]);
        float sum = 0.0f, value[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            const float factor = exp2f(warpMax[w][g] - maximum);  // 0 for a warp that saw no key
            sum += warpSum[w][g] * factor;
            const float4 x = *reinterpret_cast<const float4*>(warpOut + (w * GroupTile + g) * HeadDim + d);
            value[0] += x.x * factor;
            value[1] += x.y * factor;
            value[2] += x.z * factor;
            value[3] += x.w * factor;
        }
        if (single) {
#pragma unroll
            for (int j = 0; j < 4; ++j) outRow[(headBase + g) * HeadDim + d + j] = from_float<T>(value[j] / sum);
        } else {
            const long long item = ((long long)row * heads + headBase + g) * gridDim.x + partition;
            *reinterpret_cast<float4*>(partialOut + item * HeadDim + d) = make_float4(value[0], value[1], value[2], value[3]);
            if (d == 0) {
                partialMax[item] = maximum;
                partialSum[item] = sum;
            }
        }
    }
}

// FusedInput: q comes from input.qkv (normed and rotated here, not from `query`), and the new
// token's key and value (key index = the row's position) from there too: the block whose
// partition holds that key forms them in shared memory and uses them for it, and the first head
// chunk's block writes them to the cache for later steps. No block reads the new slot from the
// cache, so the write needs no ordering with the reads. Requires decode rows (position = the
// sequence's context length - 1), which CUDABackend checks.
template <typename T, int HeadDim, int GroupTile, bool FusedInput = false>
__device__ __forceinline__ void attention_decode_body(
    const T* __restrict__ query, int queryStride, const T* __restrict__ keyCache, const T* __restrict__ valueCache,
    T* __restrict__ out, int outStride, const int* __restrict__ positions, const int* __restrict__ rowSequence,
    const int* __restrict__ sequenceContextLength, const int* __restrict__ blockTables, int blockTableStride,
    int blockSize, int heads, int kvHeads, float scale, int slidingWindow, float softcap, int partitionSize,
    float* __restrict__ partialOut, float* __restrict__ partialMax, float* __restrict__ partialSum,
    DecodeInput<T> input = DecodeInput<T>{}) {
    KILN_TRACE_SCOPE(FusedInput ? kTraceAttentionDecodeInput : kTraceAttentionDecode);
    static_assert(HeadDim % 64 == 0 && HeadDim <= 256, "head size 64, 128 or 256");
    static_assert(GroupTile == 1 || GroupTile == 2 || GroupTile == 4 || GroupTile == 8, "group tile 1, 2, 4 or 8");
    constexpr int DimsPerLane = HeadDim / 32;
    constexpr int KeysPerStep = 32 / GroupTile;
    // V loads go out with the K loads when a step's V fits in 32 registers (bf16: every
    // instantiation but g1 of head 128 and g1, g2 of head 256).
    constexpr bool PreloadValues = KeysPerStep * RawVector<T, DimsPerLane>::Words <= 32;

    const int group = heads / kvHeads;
    const int chunks = (group + GroupTile - 1) / GroupTile;
    const int row = blockIdx.z, kvHead = blockIdx.y / chunks, chunk = blockIdx.y % chunks;
    const int headBase = kvHead * group + chunk * GroupTile;  // first query head of this block
    const int headCount = min(GroupTile, group - chunk * GroupTile);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

    // Before waiting for the previous kernel (programmatic dependent launch): the step's batch
    // arrays (uploaded before the step), the first step's K/V of earlier tokens (written by
    // earlier steps) and, FusedInput, the RoPE table with the cos / sin computed from it
    // (decode_form_trig) -- nothing in this step's kernel chain writes them -- so this work overlaps
    // the previous kernel's tail. The new key is read later (FusedInput: formed here; else written
    // by attention_input, the previous kernel). Every block waits before it writes or exits, so
    // that this grid's completion still implies its predecessors' (programmatic launch).
    const int sequence = rowSequence[row];
    const int position = positions[row];
    const RowRange range = row_range(position, sequenceContextLength[sequence], slidingWindow, partitionSize);
    const int partition = blockIdx.x;
    T* outRow = out + (long long)row * outStride;
    const bool active = range.partitions > 0 && partition < range.partitions;
    const int start = range.first + partition * partitionSize;
    const int end = min(start + partitionSize - 1, range.last);  // inclusive
    const int* blockTable = blockTables + (long long)sequence * blockTableStride;
    const long long slotStride = (long long)kvHeads * HeadDim;
    const long long kvOffset = (long long)kvHead * HeadDim + lane * DimsPerLane;
    const int steps = active ? (end - start + KeysPerStep) / KeysPerStep : 0;
    // Only with FusedInput (decode rows, one per sequence): then every cached key the block reads
    // was written by an earlier step; the non-fused kernel may serve rows whose earlier keys were
    // written by this step's attention_input, the previous kernel, so it loads after the wait.
    int firstSlot = -1;
    RawVector<T, DimsPerLane> firstKey[KeysPerStep];
    RawVector<T, DimsPerLane> firstValue[PreloadValues ? KeysPerStep : 1];
#ifndef KILN_ATTENTION_NO_PRELOAD
    const bool preloads = FusedInput && warp < steps;
#else
    const bool preloads = false;
#endif
    if (preloads) {
        firstSlot = decode_step_slot<KeysPerStep, FusedInput>(lane, start + warp * KeysPerStep, end, position, blockTable, blockSize);
        decode_step_loads<T, DimsPerLane, KeysPerStep, PreloadValues>(firstSlot, false, keyCache, valueCache, slotStride,
                                                                      kvOffset, nullptr, nullptr, lane, firstKey, firstValue);
    }
    __shared__ float trig[FusedInput ? HeadDim : 1];  // the RoPE cos / sin at the row's position (decode_form_trig)
    if constexpr (FusedInput) {
        if (active) decode_form_trig(input, position, trig);
    }
    kiln_wait_prerequisites();

    // q of this block's heads, this lane's dims, pre-scaled (log2 units when there is no cap).
    const float queryScale = softcap > 0.0f ? scale : scale * kLog2e;
    float q[GroupTile][DimsPerLane];
#pragma unroll
    for (int g = 0; g < GroupTile; ++g) {
        if (FusedInput || !active) break;  // formed from the Q/K/V product below
        if (g < headCount) {
            load_floats<DimsPerLane>(query + (long long)row * queryStride + (headBase + g) * HeadDim + lane * DimsPerLane, q[g]);
#pragma unroll
            for (int d = 0; d < DimsPerLane; ++d) q[g][d] *= queryScale;
        } else {
#pragma unroll
            for (int d = 0; d < DimsPerLane; ++d) q[g][d] = 0.0f;
        }
    }

    if (range.partitions == 0) {  // nothing visible (only for positions outside the context): zeros
        if (partition == 0)
            for (int i = threadIdx.x; i < headCount * HeadDim; i += kThreads) outRow[headBase * HeadDim + i] = from_float<T>(0.0f);
        return;
    }
    if (partition >= range.partitions) return;

    // The fused attention input: q of this block's heads (pre-scaled) and the new key / value.
    __shared__ __align__(16) T newKey[FusedInput ? HeadDim : 1], newValue[FusedInput ? HeadDim : 1];
    if constexpr (FusedInput) {
        __shared__ __align__(16) float qShared[GroupTile][HeadDim];
        decode_form_input<T, HeadDim, true>(
            input, trig, row, position, heads, kvHeads, kvHead, headBase, headCount, position >= start && position <= end, chunk == 0,
            [&](int item, int i, T stored) { qShared[item][i] = to_float(stored) * queryScale; },
            [&](int i, T stored) { newKey[i] = stored; }, [&](int i, T value) { newValue[i] = value; });
#pragma unroll
        for (int g = 0; g < GroupTile; ++g)
#pragma unroll
            for (int d = 0; d < DimsPerLane; ++d) q[g][d] = g < headCount ? qShared[g][lane * DimsPerLane + d] : 0.0f;
    }


    float o[GroupTile][DimsPerLane];
#pragma unroll
    for (int g = 0; g < GroupTile; ++g)
#pragma unroll
        for (int d = 0; d < DimsPerLane; ++d) o[g][d] = 0.0f;
    // Running max (log2 units) and this lane's share of the sum, for head lane % GroupTile.
    float runningMax = KILN_NEG_INFINITY, runningSum = 0.0f;

    for (int step = warp; step < steps; step += kWarps) {
        const int keyBase = start + step * KeysPerStep;
        RawVector<T, DimsPerLane> keyRaw[KeysPerStep];
        RawVector<T, DimsPerLane> valueRaw[PreloadValues ? KeysPerStep : 1];
        int mySlot;
        if (step == warp && preloads) {  // loaded before the wait; only the new key is missing
            mySlot = firstSlot;
#pragma unroll
            for (int k = 0; k < KeysPerStep; ++k) keyRaw[k] = firstKey[k];
#pragma unroll
            for (int k = 0; k < (PreloadValues ? KeysPerStep : 1); ++k) valueRaw[k] = firstValue[k];
            if constexpr (FusedInput) decode_step_new_loads<T, DimsPerLane, KeysPerStep, PreloadValues>(mySlot, newKey, newValue, lane, keyRaw, valueRaw);
        } else {
            mySlot = decode_step_slot<KeysPerStep, FusedInput>(lane, keyBase, end, position, blockTable, blockSize);
            decode_step_loads<T, DimsPerLane, KeysPerStep, PreloadValues>(mySlot, true, keyCache, valueCache, slotStride,
                                                                          kvOffset, newKey, newValue, lane, keyRaw, valueRaw);
        }

        // partial[k * GroupTile + g] = this lane's share of q[g] · K[key k].
        float partial[32];
#pragma unroll
        for (int k = 0; k < KeysPerStep; ++k) {
            float key[DimsPerLane];
            raw_to_floats(keyRaw[k], key);
#pragma unroll
            for (int g = 0; g < GroupTile; ++g) {
                float sum = 0.0f;
#pragma unroll
                for (int d = 0; d < DimsPerLane; ++d) sum = fmaf(q[g][d], key[d], sum);
                partial[k * GroupTile + g] = sum;
            }
        }
        transpose_sum<16>(partial, lane);
        // Lane i: key keyBase + i / GroupTile, head i % GroupTile.
        const bool valid = keyBase + lane / GroupTile <= end && lane % GroupTile < headCount;
        float score = partial[0];
        if (softcap > 0.0f) score = softcap * tanhf(score / softcap) * kLog2e;
        score = valid ? score : KILN_NEG_INFINITY;
        float stepMax = score;
#pragma unroll
        for (int offset = GroupTile; offset < 32; offset <<= 1) stepMax = fmaxf(stepMax, __shfl_xor_sync(0xffffffffu, stepMax, offset));
        const float newMax = fmaxf(runningMax, stepMax);
        const float base = newMax == KILN_NEG_INFINITY ? 0.0f : newMax;
        const float rescale = exp2f(runningMax - base);
        const float probability = exp2f(score - base);
        runningMax = newMax;
        runningSum = runningSum * rescale + probability;

#pragma unroll
        for (int g = 0; g < GroupTile; ++g) {
            const float factor = __shfl_sync(0xffffffffu, rescale, g);
#pragma unroll
            for (int d = 0; d < DimsPerLane; ++d) o[g][d] *= factor;
        }
#pragma unroll
        for (int k = 0; k < KeysPerStep; ++k) {
            float value[DimsPerLane];
            if constexpr (PreloadValues) {
                raw_to_floats(valueRaw[k], value);
            } else {
                const int slot = __shfl_sync(0xffffffffu, mySlot, k);
                if (slot >= 0) {
                    load_floats<DimsPerLane>(valueCache + slot * slotStride + kvOffset, value);
                } else if (FusedInput && slot == -2) {
                    load_floats<DimsPerLane>(newValue + lane * DimsPerLane, value);
                } else {
#pragma unroll
                    for (int d = 0; d < DimsPerLane; ++d) value[d] = 0.0f;
                }
            }
#pragma unroll
            for (int g = 0; g < GroupTile; ++g) {
                const float p = __shfl_sync(0xffffffffu, probability, k * GroupTile + g);
#pragma unroll
                for (int d = 0; d < DimsPerLane; ++d) o[g][d] = fmaf(p, value[d], o[g][d]);
            }
        }
    }

    // Warp totals: lanes with equal lane % GroupTile share a head.
#pragma unroll
    for (int offset = GroupTile; offset < 32; offset <<= 1) runningSum += __shfl_xor_sync(0xffffffffu, runningSum, offset);

    // Combine the warps. [kWarps][GroupTile] maxima and sums, [kWarps][GroupTile][HeadDim] outputs.
    __shared__ float warpMax[kWarps][GroupTile], warpSum[kWarps][GroupTile];
    __shared__ __align__(16) float warpOut[kWarps][GroupTile][HeadDim];
    if (lane < GroupTile) {
        warpMax[warp][lane] = runningMax;
        warpSum[warp][lane] = runningSum;
    }
#pragma unroll
    for (int g = 0; g < GroupTile; ++g)
#pragma unroll
        for (int d = 0; d < DimsPerLane; ++d) warpOut[warp][g][lane * DimsPerLane + d] = o[g][d];
    __syncthreads();

    decode_write_block_result<T, HeadDim, GroupTile>(warpMax, warpSum, &warpOut[0][0][0], headCount, range.partitions == 1, outRow,
                                                     headBase, row, heads, partition, partialOut, partialMax, partialSum);
}

// Combines the partitions of rows whose range needed more than one. One block per (head, row),
// head sizes up to 256 (two dims a thread). Each thread issues all its loads at once -- the
// maxima and sums of its partitions and the first eight partitions' outputs of its dims -- then
// the block reduces the maxima and sums, each partition's weight exp2(max_p - max) goes to
// shared memory, and each thread sums its two dims over the partitions, eight loads in flight.
// (The loop before read one partition after another, a dependent L2 round trip each: 4.8 us a
// layer inside a batch-1 Gemma-2B step on an H100 for 16 partitions, 3.7 us after; session-7
// results, where KILN_REDUCE_SERIAL of commit 60e8dc1 compiled it for the A/B.)
// Exactly kThreads threads; at most kMaxReducePartitions partitions (DecodeSplit.maximumPartitions
// caps them; about two blocks per SM below that, one for the tensor-core kernel at large batches).
constexpr int kMaxReducePartitions = 512;
template <typename T>
__device__ __forceinline__ void attention_decode_reduce_body(
    const float* __restrict__ partialOut, const float* __restrict__ partialMax, const float* __restrict__ partialSum,
    T* __restrict__ out, int outStride, const int* __restrict__ positions, const int* __restrict__ rowSequence,
    const int* __restrict__ sequenceContextLength, int heads, int headDim, int slidingWindow, int partitionSize,
    int maxPartitions) {
    KILN_TRACE_SCOPE(kTraceAttentionReduce);
    const int head = blockIdx.x, row = blockIdx.y;
    // The step's batch arrays: uploaded before the step, read before the wait.
    const RowRange range = row_range(positions[row], sequenceContextLength[rowSequence[row]], slidingWindow, partitionSize);
    kiln_wait_prerequisites();
    if (range.partitions <= 1) return;  // written by the split kernel itself
    const long long base = ((long long)row * heads + head) * maxPartitions;
    const int partitions = min(range.partitions, kMaxReducePartitions);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __shared__ float weights[kMaxReducePartitions];
    __shared__ float warpMaxima[kWarps], warpSums[kWarps];
    // Every load a thread needs goes out at once: its partitions' max and sum (p = thread + j x 128)
    // and the first kEarly partitions' outputs of its two dims (head sizes <= 256: one pair a thread).
    constexpr int PerThread = kMaxReducePartitions / kThreads, kEarly = 8;
    const int d = 2 * threadIdx.x;
    float partMax[PerThread], partSum[PerThread];
    float2 early[kEarly];
#pragma unroll
    for (int j = 0; j < PerThread; ++j) {
        const int p = threadIdx.x + j * kThreads;
        partMax[j] = p < partitions ? partialMax[base + p] : KILN_NEG_INFINITY;
        partSum[j] = p < partitions ? partialSum[base + p] : 0.0f;
    }
#pragma unroll
    for (int p = 0; p < kEarly; ++p)
        early[p] = p < partitions && d < headDim ? *reinterpret_cast<const float2*>(partialOut + (base + p) * headDim + d)
                                                 : make_float2(0.0f, 0.0f);
    float maximum = KILN_NEG_INFINITY;
#pragma unroll
    for (int j = 0; j < PerThread; ++j) maximum = fmaxf(maximum, partMax[j]);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) maximum = fmaxf(maximum, __shfl_xor_sync(0xffffffffu, maximum, offset));
    if (lane == 0) warpMaxima[warp] = maximum;
    __syncthreads();
#pragma unroll
    for (int w = 0; w < kWarps; ++w) maximum = fmaxf(maximum, warpMaxima[w]);
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < PerThread; ++j) {
        const int p = threadIdx.x + j * kThreads;
        if (p >= partitions) break;
        const float weight = exp2f(partMax[j] - maximum);  // 0 for a partition that saw no key
        weights[p] = weight;
        sum += partSum[j] * weight;
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    if (lane == 0) warpSums[warp] = sum;
    __syncthreads();
    sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += warpSums[w];
    if (d >= headDim) return;
    float value0 = 0.0f, value1 = 0.0f;
#pragma unroll
    for (int p = 0; p < kEarly; ++p) {
        if (p >= partitions) break;
        value0 = fmaf(early[p].x, weights[p], value0);
        value1 = fmaf(early[p].y, weights[p], value1);
    }
#pragma unroll 8
    for (int p = kEarly; p < partitions; ++p) {
        const float2 x = *reinterpret_cast<const float2*>(partialOut + (base + p) * headDim + d);
        value0 = fmaf(x.x, weights[p], value0);
        value1 = fmaf(x.y, weights[p], value1);
    }
    T* destination = out + (long long)row * outStride + head * headDim + d;
    destination[0] = from_float<T>(value0 / sum);
    destination[1] = from_float<T>(value1 / sum);
}

}  // namespace
