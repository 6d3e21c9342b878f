// Token embedding: out[t, :] = table[tokens[t], :] * scale (Gemma scales by sqrt(hidden)).
// CPU twin: CPUBackend.embed.
#include "kiln_common.cuh"

// grid.x = tokens, block = threads over columns.
// tokens: [count] int32; table: [vocabulary, columns] of Table; out: [count, columns] of Out.
// A token outside the table writes NaN (the host validates ids; NaN makes a slip visible).
template <typename Table, typename Out>
__device__ __forceinline__ void embed_body(const int* __restrict__ tokens, const Table* __restrict__ table,
                                           Out* __restrict__ out, int columns, int vocabulary, float scale) {
    KILN_TRACE_SCOPE(kTraceEmbed);
    kiln_wait_prerequisites();
    const long long row = blockIdx.x;
    const int token = tokens[row];
    Out* destination = out + row * columns;
    if (token < 0 || token >= vocabulary) {
        for (int i = threadIdx.x; i < columns; i += blockDim.x) destination[i] = from_float<Out>(KILN_NAN);
        return;
    }
    const Table* source = table + (long long)token * columns;
    for (int i = threadIdx.x; i < columns; i += blockDim.x) destination[i] = from_float<Out>(to_float(source[i]) * scale);
}

#define KILN_EMBED(TABLE, OUT, SUFFIX)                                                                     \
    extern "C" __global__ void embed_##SUFFIX(const int* tokens, const TABLE* table, OUT* out, int columns, \
                                              int vocabulary, float scale) {                               \
        embed_body<TABLE, OUT>(tokens, table, out, columns, vocabulary, scale);                            \
    }

KILN_EMBED(float, float, f32_f32)
KILN_EMBED(bf16, float, bf16_f32)
KILN_EMBED(float, bf16, f32_bf16)
KILN_EMBED(bf16, bf16, bf16_bf16)
