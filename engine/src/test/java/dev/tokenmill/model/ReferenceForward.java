package dev.tokenmill.model;

/**
 * The oracle for the CPU backend: a naive float64 forward pass over one sequence, written from the model
 * definition (RMSNorm, rope, causal GQA softmax attention, SwiGLU) without sharing code with the engine.
 */
public final class ReferenceForward {
    private ReferenceForward() {}

    /** Logits [position][vocab] of every position of {@code ids} (positions 0..n-1). */
    public static double[][] logits(TinyModel m, int[] ids) {
        int n = ids.length, d = m.nEmbd, hd = m.headDim, qd = m.nHeads * hd, kvd = m.nKvHeads * hd;
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = row(m.get("token_embd.weight"), ids[t], d);
        for (int l = 0; l < m.nLayers; l++) {
            String b = "blk." + l + ".";
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] h = norm(x[t], m.get(b + "attn_norm.weight"), m.eps);
                q[t] = matvec(m.get(b + "attn_q.weight"), h, qd);
                k[t] = matvec(m.get(b + "attn_k.weight"), h, kvd);
                v[t] = matvec(m.get(b + "attn_v.weight"), h, kvd);
                if (m.arch.qkvBias()) {
                    addTo(q[t], m.get(b + "attn_q.bias"));
                    addTo(k[t], m.get(b + "attn_k.bias"));
                    addTo(v[t], m.get(b + "attn_v.bias"));
                }
                for (int h2 = 0; h2 < m.nHeads; h2++) headOps(m, q[t], h2 * hd, m.get(b + "attn_q_norm.weight"), t);
                for (int h2 = 0; h2 < m.nKvHeads; h2++) headOps(m, k[t], h2 * hd, m.get(b + "attn_k_norm.weight"), t);
            }
            for (int t = 0; t < n; t++) {
                double[] att = new double[qd];
                for (int h = 0; h < m.nHeads; h++) {
                    int kvh = h / (m.nHeads / m.nKvHeads);
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int p = 0; p <= t; p++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][h * hd + i] * k[p][kvh * hd + i];
                        s[p] = dot / Math.sqrt(hd);
                        max = Math.max(max, s[p]);
                    }
                    double sum = 0;
                    for (int p = 0; p <= t; p++) sum += s[p] = Math.exp(s[p] - max);
                    for (int p = 0; p <= t; p++) {
                        for (int i = 0; i < hd; i++) att[h * hd + i] += s[p] / sum * v[p][kvh * hd + i];
                    }
                }
                addTo(x[t], matvec(m.get(b + "attn_output.weight"), att, d));
                double[] h = norm(x[t], m.get(b + "ffn_norm.weight"), m.eps);
                double[] g = matvec(m.get(b + "ffn_gate.weight"), h, m.ffn);
                double[] u = matvec(m.get(b + "ffn_up.weight"), h, m.ffn);
                for (int i = 0; i < m.ffn; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                addTo(x[t], matvec(m.get(b + "ffn_down.weight"), g, d));
            }
        }
        float[] out = m.tied ? m.get("token_embd.weight") : m.get("output.weight");
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) logits[t] = matvec(out, norm(x[t], m.get("output_norm.weight"), m.eps), m.vocab);
        return logits;
    }

    /** Optional per-head RMSNorm, then rope for position {@code pos}. */
    private static void headOps(TinyModel m, double[] x, int off, float[] normW, int pos) {
        if (normW != null) {
            double[] h = new double[m.headDim];
            System.arraycopy(x, off, h, 0, m.headDim);
            System.arraycopy(norm(h, normW, m.eps), 0, x, off, m.headDim);
        }
        int half = m.ropeDim / 2;
        for (int i = 0; i < half; i++) {
            double theta = pos * Math.pow(m.ropeBase, -2.0 * i / m.ropeDim);
            int a = m.arch.neoxRope() ? off + i : off + 2 * i;
            int b = m.arch.neoxRope() ? off + i + half : a + 1;
            double x0 = x[a], x1 = x[b];
            x[a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
            x[b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
        }
    }

    private static double[] row(float[] w, int r, int cols) {
        double[] v = new double[cols];
        for (int i = 0; i < cols; i++) v[i] = w[r * cols + i];
        return v;
    }

    private static double[] norm(double[] x, float[] w, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double scale = 1 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * scale * w[i];
        return out;
    }

    private static double[] matvec(float[] w, double[] x, int rows) {
        int cols = x.length;
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
            out[r] = s;
        }
        return out;
    }

    private static void addTo(double[] x, float[] b) {
        for (int i = 0; i < x.length; i++) x[i] += b[i];
    }

    private static void addTo(double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }
}
