// After the fused q|k|v product: bias add, per-head q/k RMSNorm (qwen3), RoPE (normal: adjacent pairs; NEOX: pairs
// half the rope width apart; dimensions past the rope width untouched), then q back in place and k, v written as
// f16 into their paged KV slots (slot = block * blockSize + offset, from the block table on the host).
#include "common.cuh"

// grid: (T, nHeads + 2 * nKv), block: hd / 2 (rounded up to 32). Shared: hd floats.
extern "C" __global__ void qkv_rope_kv(float* __restrict__ qkv, int stride,
                                       const float* __restrict__ bq, const float* __restrict__ bk, const float* __restrict__ bv,
                                       const float* __restrict__ qNorm, const float* __restrict__ kNorm,
                                       const float* __restrict__ cosT, const float* __restrict__ sinT, int halfRope, int neox,
                                       const int* __restrict__ positions, const int* __restrict__ slots,
                                       __half* __restrict__ kc, __half* __restrict__ vc,
                                       int nHeads, int nKv, int hd, float eps) {
    __shared__ float sh[32];
    __shared__ float v[1024];
    int t = blockIdx.x, h = blockIdx.y, tid = threadIdx.x;
    int kind = h < nHeads ? 0 : h < nHeads + nKv ? 1 : 2; // q, k, v
    int head = kind == 0 ? h : kind == 1 ? h - nHeads : h - nHeads - nKv;
    int qd = nHeads * hd, kvd = nKv * hd;
    long long base = (long long)t * stride + (kind == 0 ? 0 : kind == 1 ? qd : qd + kvd) + head * hd;
    const float* bias = kind == 0 ? bq : kind == 1 ? bk : bv;
    for (int e = tid; e < hd; e += blockDim.x) v[e] = qkv[base + e] + (bias ? bias[head * hd + e] : 0.f);
    const float* nw = kind == 0 ? qNorm : kind == 1 ? kNorm : nullptr;
    if (nw) { // uniform over the block
        float ss = 0.f;
        for (int e = tid; e < hd; e += blockDim.x) ss += v[e] * v[e];
        ss = block_sum(ss, sh);
        float scale = 1.0f / sqrtf(ss / hd + eps);
        for (int e = tid; e < hd; e += blockDim.x) v[e] = v[e] * scale * nw[e];
    }
    __syncthreads();
    int pos = positions[t];
    if (kind < 2) {
        for (int i = tid; i < halfRope; i += blockDim.x) {
            float c = cosT[(long long)pos * halfRope + i], s = sinT[(long long)pos * halfRope + i];
            int a = neox ? i : 2 * i;
            int b = neox ? i + halfRope : a + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
    __syncthreads();
    if (kind == 0) {
        for (int e = tid; e < hd; e += blockDim.x) qkv[base + e] = v[e];
    } else {
        __half* cache = kind == 1 ? kc : vc;
        long long dst = (long long)slots[t] * kvd + head * hd;
        for (int e = tid; e < hd; e += blockDim.x) cache[dst + e] = __float2half_rn(v[e]);
    }
}
