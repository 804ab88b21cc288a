package dev.tokenmill.sample.constrain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;

/**
 * A {@link Grammar} run as a pushdown automaton over bytes, with the token masks of its states: the compiled form of
 * one constraint for one vocabulary, shared by every sequence that uses it.
 *
 * <p>A stack is a chain of interned nodes (element position, parent node), so equal stacks are equal ints; a state is
 * the interned set of stacks whose next element is a byte class (plus the empty stack when the input so far is a
 * complete sentence). Calls into a rule that are the last element of their alternative do not push a frame (tail
 * calls), so repetitions run in constant stack. States, their byte transitions and their token masks are computed
 * lazily, on first use, and cached: after warm-up a step costs one mask lookup and a few transitions per token.
 * Thread-safe: sequences on several compute threads share one automaton (a lock guards the caches; the common path
 * holds it only for array reads).
 */
final class Automaton {
    static final int DEAD = -1;
    private static final int UNKNOWN = -2;
    private static final int ROOT = 0; // the empty stack
    /** Beyond this many states the automaton refuses to grow (output nested without bound). */
    private static final int MAX_STATES = 50_000;
    /** Bytes of cached masks kept before they are dropped and recomputed on demand. */
    private static final long MASK_CACHE_BYTES = 64L << 20;

    private final Grammar g;
    final TokenIndex index;
    private final int words;

    // stack nodes
    private int[] nodePos = new int[1024];
    private int[] nodeParent = new int[1024];
    private int numNodes = 1;
    private final HashMap<Long, Integer> nodeIds = new HashMap<>();

    // states
    private final List<int[]> stateNodes = new ArrayList<>();
    private final HashMap<StateKey, Integer> stateIds = new HashMap<>();
    private final List<int[]> transitions = new ArrayList<>();
    private final List<long[]> masks = new ArrayList<>();
    private final List<long[]> firstMasks = new ArrayList<>();
    private final int maxCachedMasks;
    private int cachedMasks;
    final int initial;

    private record StateKey(int[] nodes) {
        @Override public boolean equals(Object o) { return o instanceof StateKey k && Arrays.equals(nodes, k.nodes); }
        @Override public int hashCode() { return Arrays.hashCode(nodes); }
    }

    Automaton(Grammar g, TokenIndex index) {
        this.g = g;
        this.index = index;
        this.words = (index.vocabSize + 63) >>> 6;
        this.maxCachedMasks = (int) Math.max(64, MASK_CACHE_BYTES / (8L * words));
        nodePos[0] = -1;
        nodeParent[0] = -1;
        Closure c = new Closure();
        c.expand(0, ROOT);
        this.initial = c.intern();
        if (initial == DEAD) throw new ConstraintException("the constraint matches nothing");
    }

    synchronized boolean isAccepting(int state) {
        int[] nodes = stateNodes.get(state);
        return nodes.length > 0 && nodes[0] == ROOT;
    }

    /** Accepting, and no byte can follow: the output is finished. */
    synchronized boolean isComplete(int state) {
        int[] nodes = stateNodes.get(state);
        return nodes.length == 1 && nodes[0] == ROOT;
    }

    /** The state after {@code b} (0..255), or {@link #DEAD}. */
    synchronized int step(int state, int b) {
        return stepLocked(state, b);
    }

    /** The state after all of {@code bytes}, or {@link #DEAD}. */
    synchronized int advance(int state, byte[] bytes) {
        for (int i = 0; i < bytes.length && state >= 0; i++) state = stepLocked(state, bytes[i] & 0xff);
        return state;
    }

    /**
     * The tokens allowed in {@code state}, bit {@code id} of a {@code long[]} over the vocabulary: those whose bytes
     * keep the automaton alive ({@code first}: as the first generated token, with its first-position bytes). End-of-
     * generation tokens are not in it; the caller allows them in accepting states. Do not modify the array.
     */
    synchronized long[] mask(int state, boolean first) {
        if (first && index.firstBytes != null) {
            long[] m = firstMasks.get(state);
            if (m == null) {
                m = new long[words];
                for (int id = 0; id < index.vocabSize; id++) {
                    byte[] b = index.firstBytes[id];
                    if (b == null) continue;
                    int s = state;
                    for (int i = 0; i < b.length && s >= 0; i++) s = stepLocked(s, b[i] & 0xff);
                    if (s >= 0) m[id >>> 6] |= 1L << id;
                }
                firstMasks.set(state, m);
            }
            return m;
        }
        long[] m = masks.get(state);
        if (m == null) {
            m = computeMask(state);
            if (++cachedMasks > maxCachedMasks) {
                // a constraint that keeps reaching new states (deep nesting, long bounded strings) must not hold the
                // heap: start the cache over (callers keep the arrays they hold)
                java.util.Collections.fill(masks, null);
                cachedMasks = 1;
            }
            masks.set(state, m);
        }
        return m;
    }

    /** Walks the tokens in byte order, reusing the states of the prefix shared with the previous token. */
    private long[] computeMask(int state) {
        long[] m = new long[words];
        int[] sorted = index.sorted, lcp = index.lcp;
        int[] at = new int[index.maxLen + 1];
        at[0] = state;
        for (int k = 0; k < sorted.length; k++) {
            int id = sorted[k];
            byte[] b = index.bytes[id];
            int s = at[lcp[k]];
            for (int i = lcp[k]; i < b.length; i++) {
                if (s >= 0) s = stepLocked(s, b[i] & 0xff);
                at[i + 1] = s;
            }
            if (s >= 0) m[id >>> 6] |= 1L << id;
        }
        return m;
    }

    synchronized int numStates() {
        return stateNodes.size();
    }

    private int stepLocked(int state, int b) {
        int[] row = transitions.get(state);
        int t = row[b];
        if (t != UNKNOWN) return t;
        Closure c = new Closure();
        for (int n : stateNodes.get(state)) {
            if (n == ROOT) continue;
            int pos = nodePos[n];
            if (g.classHas(g.elems[pos], b)) c.expand(pos + 1, nodeParent[n]);
        }
        t = c.intern();
        row[b] = t;
        return t;
    }

    private int node(int pos, int parent) {
        long key = ((long) pos << 32) | (parent & 0xffffffffL);
        Integer id = nodeIds.get(key);
        if (id != null) return id;
        if (numNodes == nodePos.length) {
            nodePos = Arrays.copyOf(nodePos, numNodes * 2);
            nodeParent = Arrays.copyOf(nodeParent, numNodes * 2);
        }
        nodePos[numNodes] = pos;
        nodeParent[numNodes] = parent;
        nodeIds.put(key, numNodes);
        return numNodes++;
    }

    /** The set of stacks reached from some (position, parent) pairs by calls and returns, then interned as a state. */
    private final class Closure {
        private final java.util.HashSet<Long> seen = new java.util.HashSet<>();
        private final Grammar.IntList out = new Grammar.IntList();
        private final Grammar.IntList work = new Grammar.IntList();

        void expand(int pos0, int parent0) {
            work.clear();
            push(pos0, parent0);
            while (work.size() > 0) {
                int parent = pop();
                int pos = pop();
                int e = g.elems[pos];
                if (e == Grammar.END) {
                    if (parent == ROOT) {
                        add(ROOT);
                    } else {
                        push(nodePos[parent], nodeParent[parent]);
                    }
                } else if (e < 0) {
                    int rule = -e - 1;
                    int cont = g.elems[pos + 1] == Grammar.END ? parent : node(pos + 1, parent); // tail call: no frame
                    for (int a : g.alts[rule]) push(a, cont);
                } else {
                    add(node(pos, parent));
                }
            }
        }

        private void push(int pos, int parent) {
            if (!seen.add(((long) pos << 32) | (parent & 0xffffffffL))) return;
            work.add(pos);
            work.add(parent);
        }

        private int pop() {
            return work.removeLast();
        }

        private final java.util.HashSet<Integer> added = new java.util.HashSet<>();

        private void add(int n) {
            if (added.add(n)) out.add(n);
        }

        int intern() {
            if (out.size() == 0) return DEAD;
            int[] nodes = out.toArray();
            Arrays.sort(nodes);
            StateKey key = new StateKey(nodes);
            Integer id = stateIds.get(key);
            if (id != null) return id;
            if (stateNodes.size() >= MAX_STATES) {
                throw new ConstraintException("the constraint's automaton grew past " + MAX_STATES + " states (a grammar nested too deeply)");
            }
            id = stateNodes.size();
            stateNodes.add(nodes);
            int[] row = new int[256];
            Arrays.fill(row, UNKNOWN);
            transitions.add(row);
            masks.add(null);
            firstMasks.add(null);
            stateIds.put(key, id);
            return id;
        }
    }
}
