package dev.tokenmill.backend.cpu;

/**
 * cos/sin of the rope angles for positions {@code [0, maxPos)}, computed once. Pair i of position p turns by
 * {@code p * base^(-2i/ropeDim)}; as ggml_rope_cache_init the per-pair angle is a running float product
 * ({@code theta *= theta_scale}), which is what makes long positions agree bit for bit.
 */
final class RopeTable {
    private final int half;
    private final boolean neox;
    private final float[] cos;
    private final float[] sin;

    RopeTable(int maxPos, int ropeDim, float freqBase, boolean neox) {
        this.half = ropeDim / 2;
        this.neox = neox;
        this.cos = new float[maxPos * half];
        this.sin = new float[maxPos * half];
        float thetaScale = (float) Math.pow(freqBase, -2.0f / ropeDim);
        for (int p = 0; p < maxPos; p++) {
            float theta = p;
            for (int i = 0; i < half; i++) {
                cos[p * half + i] = (float) Math.cos(theta);
                sin[p * half + i] = (float) Math.sin(theta);
                theta *= thetaScale;
            }
        }
    }

    /**
     * Rotates one head {@code x[off..off+headDim)} for position {@code pos}: adjacent pairs (llama's normal rope)
     * or pairs half a rope width apart (NEOX); dimensions past the rope width are left as they are.
     */
    void apply(float[] x, int off, int pos) {
        int base = pos * half;
        for (int i = 0; i < half; i++) {
            float c = cos[base + i], s = sin[base + i];
            int a = neox ? off + i : off + 2 * i;
            int b = neox ? off + i + half : a + 1;
            float x0 = x[a], x1 = x[b];
            x[a] = x0 * c - x1 * s;
            x[b] = x0 * s + x1 * c;
        }
    }
}
