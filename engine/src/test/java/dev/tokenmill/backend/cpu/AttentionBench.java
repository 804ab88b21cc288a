package dev.tokenmill.backend.cpu;

import java.util.Random;

/**
 * Times the pieces of one attention work item (decode: one token, a KV head's group of query heads over a context)
 * on one thread: block scores, softmax and the weighted V sum. Not a test; run by hand, for example
 * {@code java --add-modules jdk.incubator.vector -cp engine/target/classes:engine/target/test-classes
 * dev.tokenmill.backend.cpu.AttentionBench [ctx] [group]}.
 */
public final class AttentionBench {
    public static void main(String[] args) {
        int ctx = args.length > 0 ? Integer.parseInt(args[0]) : 96;
        int group = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        int hd = 64, bs = 16, nBlocks = (ctx + bs - 1) / bs, stride = nBlocks * bs;
        Random r = new Random(1);
        float[] q = new float[group * hd], kb = new float[hd * bs], vb = new float[hd * bs];
        float[] s = new float[group * stride], att = new float[group * hd];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        for (int i = 0; i < kb.length; i++) kb[i] = (float) r.nextGaussian();
        for (int i = 0; i < vb.length; i++) vb[i] = (float) r.nextGaussian();
        int iters = 200_000;
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            for (int it = 0; it < iters; it++) {
                for (int b = 0; b < nBlocks; b++) {
                    for (int j = 0; j < group; j += 4) { // as CpuBackend: a last group of fewer repeats its last query
                        int j1 = Math.min(j + 1, group - 1), j2 = Math.min(j + 2, group - 1), j3 = Math.min(j + 3, group - 1);
                        PagedAttention.blockScores4(q, j * hd, j1 * hd, j2 * hd, j3 * hd, kb, bs, hd, s,
                                j * stride + b * bs, j1 * stride + b * bs, j2 * stride + b * bs, j3 * stride + b * bs);
                    }
                }
            }
            long t1 = System.nanoTime();
            for (int it = 0; it < iters; it++) {
                for (int j = 0; j < group; j++) CpuOps.scaledSoftmax(s, j * stride, ctx, 0.125f);
            }
            long t2 = System.nanoTime();
            for (int it = 0; it < iters; it++) {
                for (int b = 0; b < nBlocks; b++) {
                    for (int j = 0; j < group; j += 4) {
                        int j1 = Math.min(j + 1, group - 1), j2 = Math.min(j + 2, group - 1), j3 = Math.min(j + 3, group - 1);
                        PagedAttention.addWeightedRows4(s, j * stride + b * bs, j1 * stride + b * bs, j2 * stride + b * bs,
                                j3 * stride + b * bs, bs, vb, hd, att, j * hd, j1 * hd, j2 * hd, j3 * hd);
                    }
                }
            }
            long t3 = System.nanoTime();
            double macs = (double) group * nBlocks * bs * hd;
            System.out.printf("per item: scores %.0f ns (%.1f GMAC/s), softmax %.0f ns, weighted V %.0f ns (%.1f GMAC/s)%n",
                    (t1 - t0) / (double) iters, macs * iters / (t1 - t0), (t2 - t1) / (double) iters,
                    (t3 - t2) / (double) iters, macs * iters / (t3 - t2));
        }
    }
}
