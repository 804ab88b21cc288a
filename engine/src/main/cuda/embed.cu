// Embedding gather: x[t, :] = table[tokens[t], :] widened to f32 (the residual stream).
#include "common.cuh"

// grid: (T), block: 256
extern "C" __global__ void embed_gather(float* __restrict__ x, const void* __restrict__ table, int tableType,
                                        const int* __restrict__ tokens, int d) {
    long long row = tokens[blockIdx.x];
    float* out = x + (long long)blockIdx.x * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) out[i] = load_act(table, row * d + i, tableType);
}
