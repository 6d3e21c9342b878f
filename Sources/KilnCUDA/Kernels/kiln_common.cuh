// Kiln's CUDA prelude, included by every kernel file. NVRTC compiles these without the CUDA
// toolkit's headers or a C++ standard library: element types, conversions and reductions are
// defined here.
//
// Element types. Activations and tables are stored as `float` or `bf16`; every kernel loads
// them into fp32 registers, computes in fp32 and rounds once on store (round to nearest even).
// Kernels are templates over the stored type, instantiated under C names with a suffix:
// `rms_norm_f32`, `rms_norm_bf16`. The first CUDA backend keeps activations in fp32 (parity with
// the fp32 CPU reference); the bf16 instantiations are checked too, for the bf16 path to come.
#pragma once

/// bfloat16: the top 16 bits of an IEEE binary32.
struct bf16 {
    unsigned short bits;
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(((unsigned int)x.bits) << 16); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_float<bf16>(float x) {
    // Round to nearest even; NaN stays NaN (quiet bit set), as Kiln's host conversion does.
    unsigned int u = __float_as_uint(x);
    bf16 result;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        result.bits = (unsigned short)((u >> 16) | 0x40u);
    } else {
        result.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return result;
}

/// Eight bf16 (one 16-byte load, element 0 in the low half of .x) as floats.
__device__ __forceinline__ void kiln_unpack_bf16x8(const uint4 packed, float (&value)[8]) {
    const unsigned words[4] = {packed.x, packed.y, packed.z, packed.w};
    #pragma unroll
    for (int j = 0; j < 4; ++j) {
        value[2 * j] = __uint_as_float(words[j] << 16);
        value[2 * j + 1] = __uint_as_float(words[j] & 0xffff0000u);
    }
}

/// 16 bytes streamed once (weights): not kept in L1, with a 256-byte L2 prefetch of the segment.
__device__ __forceinline__ uint4 kiln_load_stream_16(const uint4* pointer) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(pointer));
    return v;
}

/// 16 read-only bytes through the non-coherent path, kept in L1 (inputs every block reads).
__device__ __forceinline__ uint4 kiln_load_readonly_16(const uint4* pointer) {
    uint4 v;
    asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(pointer));
    return v;
}

/// The gated MLPs' activation of the gate: Mode 1 SiLU, g * sigmoid(g) (SwiGLU); Mode 2 GELU with
/// the tanh approximation (GeGLU). CPU twin: CPUBackend.gatedActivation.
template <int Mode>
__device__ __forceinline__ float kiln_gated_activation(float g) {
    if (Mode == 1) return g / (1.0f + expf(-g));
    const float inner = 0.7978845608028654f * (g + 0.044715f * g * g * g);
    return 0.5f * g * (1.0f + tanhf(inner));
}

/// Stores an fp32 result as the output's element type (bf16: rounded once, to nearest even).
__device__ __forceinline__ void kiln_store(float* y, float value) { *y = value; }
__device__ __forceinline__ void kiln_store(bf16* y, float value) { *y = from_float<bf16>(value); }

#define KILN_NEG_INFINITY __int_as_float(0xff800000)
#define KILN_NAN __int_as_float(0x7fffffff)

/// Sum over the 32 lanes of a warp; every lane gets the total.
__device__ __forceinline__ float warp_sum(float value) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

// One head vector into this warp's `head` (fp32, headDim), with its QK-norm when `norm` is given
// (rounded to T, as head_rms_norm stores it); ends with __syncwarp. attention_input.cu and the
// fused decode prologue.
template <typename T>
__device__ __forceinline__ void kiln_load_normed_head(const T* input, float* head, int headDim, const float* norm,
                                                      float epsilon, int lane) {
    float sum = 0.0f;
    for (int i = lane; i < headDim; i += 32) {
        const float value = to_float(input[i]);
        head[i] = value;
        sum += value * value;
    }
    if (norm != nullptr) {
        sum = warp_sum(sum);
        const float inverse = 1.0f / sqrtf(sum / (float)headDim + epsilon);
        for (int i = lane; i < headDim; i += 32) head[i] = to_float(from_float<T>(head[i] * inverse * norm[i]));
    }
    __syncwarp();
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
/// `scratch` is 32 floats of shared memory, free to reuse once this returns.
__device__ __forceinline__ float block_sum(float value, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    value = warp_sum(value);
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    value = lane < warps ? scratch[lane] : 0.0f;
    value = warp_sum(value);
    __syncthreads();
    return value;
}

/// Keeps (value, index) when (otherValue, otherIndex) is not better: the larger value wins, equal
/// values go to the lower index. NaN compares false, so it never replaces anything.
__device__ __forceinline__ void argmax_merge(float& value, int& index, float otherValue, int otherIndex) {
    if (otherValue > value || (otherValue == value && otherIndex < index)) {
        value = otherValue;
        index = otherIndex;
    }
}

/// The block's best (value, index) under argmax_merge's rule; every thread gets it. The rule is a
/// total order, so the result does not depend on how the threads' candidates are combined.
/// scratchValues/scratchIndices: 32 entries of shared memory each, free again once this returns.
__device__ __forceinline__ void block_argmax(float& value, int& index, float* scratchValues, int* scratchIndices) {
    #pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float otherValue = __shfl_xor_sync(0xffffffffu, value, offset);
        const int otherIndex = __shfl_xor_sync(0xffffffffu, index, offset);
        argmax_merge(value, index, otherValue, otherIndex);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        scratchValues[warp] = value;
        scratchIndices[warp] = index;
    }
    __syncthreads();
    value = KILN_NEG_INFINITY;
    index = 0x7fffffff;
    for (int w = 0; w < warps; ++w) argmax_merge(value, index, scratchValues[w], scratchIndices[w]);
    __syncthreads();
}

/// Kernel timeline tracing (`KILN_TRACE=FILE`, which compiles every kernel with -DKILN_TRACE; see
/// KernelTrace.swift): thread 0 of every block of a traced kernel appends one record of four
/// 64-bit words to its module's buffer: (site << 48 | SM << 32 | linear block index), then
/// %globaltimer nanoseconds at entry, after the programmatic-launch wait (entry when there is none)
/// and at exit. The host sets kiln_trace_records / kiln_trace_capacity of each module and zeroes
/// kiln_trace_count; records past the capacity are dropped. Without the define nothing is traced.
/// Sites (KernelTrace.Site mirrors the values):
// Tensor-core and shared-memory primitives shared by the kernels that use them (gemv.cu,
// attention_prefill.cu, attention_decode_mma.cu, skinny_gemm.cu).
// c += A * B for one m16n8k16 bf16 mma, fp32 accumulate. a0 / a2: row g, k 2t.. / 2t + 8..;
// a1 / a3: row g + 8; b0, b1: k 2t.., 2t + 8.. of column g; c: rows g, g + 8 x columns 2t, 2t + 1
// (lane = 4g + t).
__device__ __forceinline__ void kiln_mma_bf16_16816(float (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3,
                                                    unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// The 32-bit shared-state-space address of a generic pointer into shared memory.
__device__ __forceinline__ unsigned kiln_shared_address(const void* pointer) {
    return (unsigned)__cvta_generic_to_shared(pointer);
}
// cp.async and ldmatrix (attention_prefill.cu, attention_decode_mma.cu).
// 16-byte global -> shared copy; with `valid` false it writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void kiln_copy_async_16(void* destination, const void* source, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(kiln_shared_address(destination)), "l"(source),
                 "r"(valid ? 16 : 0)
                 : "memory");
}
__device__ __forceinline__ void kiln_copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void kiln_copy_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

__device__ __forceinline__ void kiln_load_matrix_x4(unsigned (&r)[4], const void* pointer) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(kiln_shared_address(pointer))
                 : "memory");
}
__device__ __forceinline__ void kiln_load_matrix_x4_transposed(unsigned (&r)[4], const void* pointer) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(kiln_shared_address(pointer))
                 : "memory");
}

// Two floats -> two bf16 (round to nearest even), `low` in the low half.
__device__ __forceinline__ unsigned kiln_pack_bf16x2(float low, float high) {
    unsigned result;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(result) : "f"(high), "f"(low));
    return result;
}
// Waits until at most N of this thread's committed copy groups are still in flight.
template <int N>
__device__ __forceinline__ void kiln_copy_async_wait_group() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void kiln_load_matrix_x2(unsigned (&r)[2], const void* pointer) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(kiln_shared_address(pointer))
                 : "memory");
}

enum KilnTraceSite {
    kTraceEmbed = 1,
    kTraceRMSNorm = 2,
    kTraceAddRMSNorm = 3,
    kTraceGEMV = 4,
    kTraceGEMVGateUp = 5,
    kTraceGEMVLogits = 6,
    kTraceAttentionInput = 7,
    kTraceAttentionDecode = 8,
    kTraceAttentionDecodeInput = 9,
    kTraceAttentionReduce = 10,
    kTraceArgmax = 11,
    kTraceArgmaxMerge = 12,
    kTraceGatherRows = 13,
    kTraceGated = 14,
    kTraceSkinnyGEMM = 15,
};
#ifdef KILN_TRACE
__device__ unsigned long long* kiln_trace_records;
__device__ unsigned kiln_trace_capacity;
__device__ unsigned kiln_trace_count;
__device__ __forceinline__ unsigned long long kiln_trace_now() {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}
/// The block's time after its programmatic-launch wait (written and read by thread 0 only).
__device__ __forceinline__ unsigned long long& kiln_trace_waited() {
    __shared__ unsigned long long waited;
    return waited;
}
/// Declared first in a kernel: records the block when it goes out of scope (every return path).
struct KilnTraceScope {
    unsigned long long start;
    int site;
    __device__ __forceinline__ explicit KilnTraceScope(int traceSite) : site(traceSite) {
        start = kiln_trace_now();
        if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) kiln_trace_waited() = start;
    }
    __device__ __forceinline__ ~KilnTraceScope() {
        if (threadIdx.x != 0 || threadIdx.y != 0 || threadIdx.z != 0 || kiln_trace_records == nullptr) return;
        const unsigned long long end = kiln_trace_now();
        const unsigned index = atomicAdd(&kiln_trace_count, 1u);
        if (index >= kiln_trace_capacity) return;
        unsigned sm;
        asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
        const unsigned long long block = blockIdx.x + (unsigned long long)gridDim.x * (blockIdx.y + (unsigned long long)gridDim.y * blockIdx.z);
        unsigned long long* record = kiln_trace_records + 4ull * index;
        record[0] = ((unsigned long long)site << 48) | ((unsigned long long)(sm & 0xffffu) << 32) | (block & 0xffffffffull);
        record[1] = start;
        record[2] = kiln_trace_waited();
        record[3] = end;
    }
};
#define KILN_TRACE_SCOPE(SITE) KilnTraceScope kiln_trace_scope(SITE)
#define KILN_TRACE_WAITED() \
    do { if (threadIdx.x == 0 && threadIdx.y == 0 && threadIdx.z == 0) kiln_trace_waited() = kiln_trace_now(); } while (0)
#else
#define KILN_TRACE_SCOPE(SITE) do {} while (0)
#define KILN_TRACE_WAITED() do {} while (0)
#endif

/// Programmatic dependent launch (sm_90+; nothing before): lets the next kernel of the stream start
/// launching (its blocks take free SM slots and issue what they may load early: weights, K/V of
/// earlier steps), then waits until the kernels this one depends on have finished and their writes
/// are visible. Every block of a kernel runs it before it writes or exits, so a grid's completion
/// implies its predecessors'. First statement of every kernel that CUDABackend may launch with the
/// programmatic-serialization attribute (KernelLibrary.waitsForPrerequisites), or preceded only by
/// loads of what no kernel of the step writes (weights, norm weights, the step's batch arrays, K/V
/// of earlier steps); launched without it, both instructions return at once.
/// Since every kernel triggers at entry, the chain may run several kernels ahead of the one that
/// is working: a read before the wait must not touch anything that *any* kernel still in flight
/// writes, not only the previous one. The reads above qualify: weights are never written, the
/// batch arrays are uploaded by a copy queued before the step, and each step ends with a stream
/// synchronisation or a separate graph launch before the next one writes K/V.
/// -DKILN_LATE_TRIGGER (KILN_KERNEL_DEFINES) restores the earlier order: wait, then trigger.
__device__ __forceinline__ void kiln_wait_prerequisites() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#ifdef KILN_LATE_TRIGGER
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#else
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
#endif
    KILN_TRACE_WAITED();
}
