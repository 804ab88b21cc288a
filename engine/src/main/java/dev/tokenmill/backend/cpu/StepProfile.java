package dev.tokenmill.backend.cpu;

import java.util.Locale;

/**
 * Wall time of a CPU forward pass split by phase, for finding where a workload's time goes: on with
 * {@code -Dtokenmill.profile=true} (for example {@code TOKENMILL_JAVA_OPTS=-Dtokenmill.profile=true ./tokenmill bench ...}),
 * printed when the backend closes. Off, each mark is one branch on a constant. Phases are timed on the engine loop
 * thread, so a parallel phase counts its whole wall time and a serial one shows what the other threads wait for.
 */
final class StepProfile {
    static final boolean ENABLED = Boolean.getBoolean("tokenmill.profile");

    enum Phase {
        EMBED("embedding lookup"), NORM("rms norms"), QUANTIZE("activation quantize"), QKV("q/k/v products"),
        ROPE_KV("bias, q/k norm, rope, kv write"), ATTENTION("attention"), WO("output projection"),
        GATE_UP("ffn gate/up products"), SWIGLU_ADD("swiglu, residual adds"), DOWN("ffn down product"),
        LOGITS("logits product");

        final String label;

        Phase(String label) { this.label = label; }
    }

    private final long[] nanos = new long[Phase.values().length];
    private final long[] calls = new long[Phase.values().length];
    private long steps, tokens;

    /** A timestamp to pass to {@link #add}, or 0 when profiling is off. */
    long mark() {
        return ENABLED ? System.nanoTime() : 0;
    }

    /** Charges the time since {@code since} to {@code phase} and returns a new mark. */
    long add(Phase phase, long since) {
        if (!ENABLED) return 0;
        long now = System.nanoTime();
        nanos[phase.ordinal()] += now - since;
        calls[phase.ordinal()]++;
        return now;
    }

    void step(int nTokens) {
        steps++;
        tokens += nTokens;
    }

    String report() {
        long total = 0;
        for (long n : nanos) total += n;
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "forward profile: %d steps, %d tokens, %.3f s%n",
                steps, tokens, total / 1e9));
        for (Phase p : Phase.values()) {
            long n = nanos[p.ordinal()];
            sb.append(String.format(Locale.ROOT, "  %-32s %9.3f s %6.1f%% %9d calls%n", p.label, n / 1e9,
                    total == 0 ? 0 : 100.0 * n / total, calls[p.ordinal()]));
        }
        return sb.toString();
    }
}
