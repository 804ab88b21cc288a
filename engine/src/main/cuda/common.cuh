// Shared helpers of Tokenmill's CUDA kernels (included by every .cu; its hash is recorded in every PTX too).
// Activations that feed a matrix product are stored in the model's compute type, passed at run time:
// 0 = f32, 1 = f16, 2 = bf16 (the branch is uniform over a launch, so it costs nothing measurable).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define ACT_F32 0
#define ACT_F16 1
#define ACT_BF16 2

__device__ __forceinline__ float load_act(const void* p, long long i, int t) {
    if (t == ACT_BF16) return __bfloat162float(((const __nv_bfloat16*)p)[i]);
    if (t == ACT_F16) return __half2float(((const __half*)p)[i]);
    return ((const float*)p)[i];
}

__device__ __forceinline__ void store_act(void* p, long long i, int t, float v) {
    if (t == ACT_BF16) ((__nv_bfloat16*)p)[i] = __float2bfloat16_rn(v);
    else if (t == ACT_F16) ((__half*)p)[i] = __float2half_rn(v);
    else ((float*)p)[i] = v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. sh: 32 floats of shared memory. Any blockDim up to 1024.
__device__ __forceinline__ float block_sum(float v, float* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = lane < nw ? sh[lane] : 0.f;
    return warp_sum(t);
}
