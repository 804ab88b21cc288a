// After the fused q|k|v product: bias add, per-head q/k RMSNorm (qwen3), RoPE (normal: adjacent pairs; NEOX: pairs
// half the rope width apart; dimensions past the rope width untouched), then q back in place and k, v written as
// f16 into their paged KV slots (slot = block * blockSize + offset, from the block table on the host).
// A warp per head (q heads, then k heads, then v heads), eight heads a block; head sizes up to 256.
#include "common.cuh"

#define HEADS_PER_BLOCK 8
#define MAX_HD 256

// grid: (T, ceil((nHeads + 2 * nKv) / 8)), block: 256
extern "C" __global__ void qkv_rope_kv(float* __restrict__ qkv, int stride,
                                       const float* __restrict__ bq, const float* __restrict__ bk, const float* __restrict__ bv,
                                       const float* __restrict__ qNorm, const float* __restrict__ kNorm,
                                       const float* __restrict__ cosT, const float* __restrict__ sinT, int halfRope, int neox,
                                       const int* __restrict__ positions, const int* __restrict__ slots,
                                       __half* __restrict__ kc, __half* __restrict__ vc,
                                       int nHeads, int nKv, int hd, float eps) {
    __shared__ float vsh[HEADS_PER_BLOCK][MAX_HD];
    int t = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int h = blockIdx.y * HEADS_PER_BLOCK + warp;
    if (h >= nHeads + 2 * nKv) return; // a whole warp: no block-wide barrier below
    float* v = vsh[warp];
    int kind = h < nHeads ? 0 : h < nHeads + nKv ? 1 : 2; // q, k, v
    int head = kind == 0 ? h : kind == 1 ? h - nHeads : h - nHeads - nKv;
    int qd = nHeads * hd, kvd = nKv * hd;
    long long base = (long long)t * stride + (kind == 0 ? 0 : kind == 1 ? qd : qd + kvd) + head * hd;
    const float* bias = kind == 0 ? bq : kind == 1 ? bk : bv;
    float ss = 0.f;
    for (int e = lane; e < hd; e += 32) {
        float x = qkv[base + e] + (bias ? bias[head * hd + e] : 0.f);
        v[e] = x;
        ss += x * x;
    }
    const float* nw = kind == 0 ? qNorm : kind == 1 ? kNorm : nullptr;
    if (nw) {
        float scale = 1.0f / sqrtf(warp_sum(ss) / hd + eps);
        for (int e = lane; e < hd; e += 32) v[e] = v[e] * scale * nw[e];
    }
    __syncwarp();
    if (kind < 2) {
        long long pos = positions[t];
        for (int i = lane; i < halfRope; i += 32) {
            float c = cosT[pos * halfRope + i], s = sinT[pos * halfRope + i];
            int a = neox ? i : 2 * i;
            int b = neox ? i + halfRope : a + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
    __syncwarp();
    if (kind == 0) {
        for (int e = lane; e < hd; e += 32) qkv[base + e] = v[e];
    } else {
        __half* cache = kind == 1 ? kc : vc;
        long long dst = (long long)slots[t] * kvd + head * hd;
        for (int e = lane; e < hd; e += 32) cache[dst + e] = __float2half_rn(v[e]);
    }
}
