package dev.tokenmill.sample.constrain;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.sample.Sampler;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Not a test: what a JSON-schema constraint costs on the sampling side for a real vocabulary, without the forward pass
 * (run by hand: scripts/constraint-bench.sh MODEL.gguf SCHEMA.json). Prints the one-off costs (token index, first
 * masks) and the steady per-row cost of a greedy pick with and without the constraint, on random logits rows.
 */
public final class ConstraintBench {
    public static void main(String[] args) throws Exception {
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(Path.of(args[0]))) {
            tok = Tokenizer.fromGguf(f);
        }
        String schema = Files.readString(Path.of(args[1]));
        int vocab = tok.vocabSize();
        long t0 = System.nanoTime();
        TokenIndex index = new TokenIndex(tok, vocab);
        long t1 = System.nanoTime();
        Automaton a = new Automaton(ConstraintCache.grammarOf(new Constraint.JsonSchema(schema)), index);
        long t2 = System.nanoTime();
        a.mask(a.initial, true);
        long t3 = System.nanoTime();
        int inString = a.advance(a.initial, "{\"id\": 12, \"name\": \"ab".getBytes(StandardCharsets.UTF_8));
        a.mask(inString, false);
        long t4 = System.nanoTime();
        System.out.printf("vocabulary %d tokens: token index %.1f ms, compile %.1f ms, first mask (initial) %.1f ms, first mask (in a string) %.1f ms%n",
                vocab, ms(t1 - t0), ms(t2 - t1), ms(t3 - t2), ms(t4 - t3));

        float[] rows = new float[vocab * 64];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < rows.length; i++) rows[i] = (float) r.nextGaussian() * 3;
        SamplingParams greedy = SamplingParams.greedy(64);
        CompiledConstraint c = new CompiledConstraint(new Constraint.JsonSchema(schema), a);
        for (int round = 0; round < 5; round++) {
            long plain = 0, constrained = 0;
            int n = 2000;
            Sampler p = new Sampler(greedy, vocab);
            long s0 = System.nanoTime();
            for (int i = 0; i < n; i++) p.sample(rows, (i & 63) * vocab);
            plain += System.nanoTime() - s0;
            // a sequence inside a JSON key: each row masked with the state's cached mask (the state does not move)
            ConstraintProcessor proc = c.newProcessor(new int[] {tok.eos()});
            proc.accept(firstToken(tok, "{\""));
            Sampler q = new Sampler(greedy, vocab, List.of(proc));
            long s1 = System.nanoTime();
            for (int i = 0; i < n; i++) q.sample(rows, (i & 63) * vocab, NO_HISTORY);
            constrained += System.nanoTime() - s1;
            System.out.printf("round %d: greedy pick per row %.1f us plain, %.1f us with the constraint (%d states)%n", round,
                    plain / 1e3 / n, constrained / 1e3 / n, c.numStates());
        }
    }

    private static final dev.tokenmill.sample.TokenHistory NO_HISTORY = new dev.tokenmill.sample.TokenHistory() {
        @Override public int size() { return 1; }
        @Override public int get(int i) { return 0; }
    };

    private static int firstToken(Tokenizer tok, String text) {
        for (int id = 0; id < tok.vocabSize(); id++) {
            if (!tok.isControl(id) && new String(tok.tokenBytes(id), StandardCharsets.UTF_8).equals(text)) return id;
        }
        return tok.encode(text, false, false)[0];
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
