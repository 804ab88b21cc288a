package dev.tokenmill.sample.constrain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A context-free grammar over bytes, flattened for the matcher (llama.cpp's grammar layout): each rule is a list of
 * alternatives, each alternative a run of elements in {@link #elems} ended by {@link #END}. An element {@code >= 0}
 * is a byte class (4 longs in {@link #classes}), a negative one other than {@code END} refers to rule
 * {@code -e - 1}. Position 0 holds {@code [ref root, END]}, where matching starts. Immutable.
 */
final class Grammar {
    static final int END = Integer.MIN_VALUE;

    final int[] elems;
    final long[] classes;   // [class][4]
    final int[][] alts;     // rule -> start positions of its alternatives
    final String[] ruleNames;

    private Grammar(int[] elems, long[] classes, int[][] alts, String[] ruleNames) {
        this.elems = elems;
        this.classes = classes;
        this.alts = alts;
        this.ruleNames = ruleNames;
    }

    boolean classHas(int cls, int b) {
        return (classes[cls * 4 + (b >>> 6)] & (1L << (b & 63))) != 0;
    }

    /** Named rules of {@link Expr}s, lowered to a {@link Grammar} by {@link #build}. */
    static final class Builder {
        private final Map<String, Expr> defined = new LinkedHashMap<>();
        // lowering state
        private final Map<String, Integer> ids = new HashMap<>();
        private final List<String> names = new ArrayList<>();
        private final List<List<int[]>> rules = new ArrayList<>();
        private final Map<String, Integer> classIds = new HashMap<>();
        private final List<long[]> classList = new ArrayList<>();
        private final Map<Expr, int[]> lowered = new java.util.IdentityHashMap<>();

        void define(String name, Expr e) {
            if (defined.putIfAbsent(name, e) != null) throw new ConstraintException("rule '" + name + "' is defined twice");
        }

        boolean has(String name) {
            return defined.containsKey(name);
        }

        Grammar build(String root) {
            if (!defined.containsKey(root)) throw new ConstraintException("the grammar has no rule '" + root + "'");
            for (String n : defined.keySet()) newRule(n);
            for (var e : defined.entrySet()) {
                int id = ids.get(e.getKey());
                // a rule defined as an alternation keeps its alternatives instead of one more level
                List<Expr> options = e.getValue() instanceof Expr.Alt a && unionOfBytes(a.options()) == null
                        ? a.options() : List.of(e.getValue());
                for (Expr o : options) {
                    IntList items = new IntList();
                    lower(o, items);
                    rules.get(id).add(items.toArray());
                }
            }
            checkNoLeftRecursion();
            IntList elems = new IntList();
            elems.add(-(ids.get(root) + 1));
            elems.add(END);
            int[][] alts = new int[rules.size()][];
            for (int r = 0; r < rules.size(); r++) {
                List<int[]> list = rules.get(r);
                alts[r] = new int[list.size()];
                for (int a = 0; a < list.size(); a++) {
                    alts[r][a] = elems.size();
                    for (int x : list.get(a)) elems.add(x);
                    elems.add(END);
                }
            }
            long[] classes = new long[classList.size() * 4];
            for (int i = 0; i < classList.size(); i++) System.arraycopy(classList.get(i), 0, classes, i * 4, 4);
            return new Grammar(elems.toArray(), classes, alts, names.toArray(String[]::new));
        }

        private int newRule(String name) {
            int id = rules.size();
            rules.add(new ArrayList<>());
            names.add(name);
            ids.putIfAbsent(name, id);
            return id;
        }

        private int classId(long[] bits) {
            String key = Arrays.toString(bits);
            Integer id = classIds.get(key);
            if (id == null) {
                id = classList.size();
                classList.add(bits.clone());
                classIds.put(key, id);
            }
            return id;
        }

        private void lower(Expr e, IntList out) {
            int[] done = lowered.get(e);
            if (done != null) {
                out.addAll(done);
                return;
            }
            int from = out.size();
            switch (e) {
                case Expr.Bytes b -> out.add(classId(b.bits()));
                case Expr.Seq s -> {
                    for (Expr x : s.items()) lower(x, out);
                }
                case Expr.Alt a -> {
                    long[] union = unionOfBytes(a.options());
                    if (union != null) {
                        out.add(classId(union));
                    } else {
                        int aux = newRule("alt-" + rules.size());
                        for (Expr o : a.options()) {
                            IntList items = new IntList();
                            lower(o, items);
                            rules.get(aux).add(items.toArray());
                        }
                        out.add(-(aux + 1));
                    }
                }
                case Expr.Ref r -> {
                    Integer id = ids.get(r.name());
                    if (id == null || !defined.containsKey(r.name())) throw new ConstraintException("undefined rule '" + r.name() + "'");
                    out.add(-(id + 1));
                }
                case Expr.Repeat rep -> lowerRepeat(rep, out);
            }
            // only composite expressions are shared: the same Expr object used twice lowers once
            if (!(e instanceof Expr.Bytes)) lowered.put(e, out.slice(from));
        }

        private void lowerRepeat(Expr.Repeat rep, IntList out) {
            int min = rep.min(), max = rep.max();
            if (min < 0 || (max >= 0 && max < min)) throw new ConstraintException("bad repetition {" + min + "," + max + "}");
            if (max > 10_000 || min > 10_000) throw new ConstraintException("repetition {" + min + "," + max + "} is too large (at most 10000)");
            IntList x = new IntList();
            lower(rep.item(), x);
            int[] xs = x.toArray();
            for (int i = 0; i < min; i++) out.addAll(xs);
            if (max == -1) {
                int r = newRule("star-" + rules.size());
                int[] loop = Arrays.copyOf(xs, xs.length + 1);
                loop[xs.length] = -(r + 1);
                rules.get(r).add(loop);
                rules.get(r).add(new int[0]);
                out.add(-(r + 1));
            } else if (max > min) {
                int prev = -1;
                for (int k = 0; k < max - min; k++) {
                    int r = newRule("rep-" + rules.size());
                    int[] body = prev < 0 ? xs : Arrays.copyOf(xs, xs.length + 1);
                    if (prev >= 0) body[xs.length] = -(prev + 1);
                    rules.get(r).add(body);
                    rules.get(r).add(new int[0]);
                    prev = r;
                }
                out.add(-(prev + 1));
            }
        }

        private static long[] unionOfBytes(List<Expr> options) {
            long[] u = new long[4];
            for (Expr o : options) {
                if (!(o instanceof Expr.Bytes b)) return null;
                for (int i = 0; i < 4; i++) u[i] |= b.bits()[i];
            }
            return u;
        }

        /** A rule that can reach itself without consuming a byte would make the matcher loop: refuse it. */
        private void checkNoLeftRecursion() {
            int n = rules.size();
            boolean[] nullable = new boolean[n];
            for (boolean changed = true; changed; ) {
                changed = false;
                for (int r = 0; r < n; r++) {
                    if (nullable[r]) continue;
                    for (int[] alt : rules.get(r)) {
                        boolean all = true;
                        for (int x : alt) if (x >= 0 || !nullable[-x - 1]) { all = false; break; }
                        if (all) { nullable[r] = true; changed = true; break; }
                    }
                }
            }
            List<List<Integer>> left = new ArrayList<>(n);
            for (int r = 0; r < n; r++) {
                List<Integer> l = new ArrayList<>();
                for (int[] alt : rules.get(r)) {
                    for (int x : alt) {
                        if (x >= 0) break;
                        l.add(-x - 1);
                        if (!nullable[-x - 1]) break;
                    }
                }
                left.add(l);
            }
            int[] color = new int[n];
            for (int r = 0; r < n; r++) if (color[r] == 0) dfs(r, left, color);
        }

        private void dfs(int r, List<List<Integer>> left, int[] color) {
            color[r] = 1;
            for (int s : left.get(r)) {
                if (color[s] == 1) {
                    throw new ConstraintException("rule '" + names.get(s) + "' can reach itself without consuming input "
                            + "(left recursion, or a repetition of something that can be empty)");
                }
                if (color[s] == 0) dfs(s, left, color);
            }
            color[r] = 2;
        }
    }

    /** A growable int array. */
    static final class IntList {
        private int[] a = new int[8];
        private int n;

        void add(int v) {
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        void addAll(int[] vs) {
            for (int v : vs) add(v);
        }

        int size() { return n; }

        int get(int i) { return a[i]; }

        int removeLast() { return a[--n]; }

        void clear() { n = 0; }

        int[] toArray() { return Arrays.copyOf(a, n); }

        int[] slice(int from) { return Arrays.copyOfRange(a, from, n); }
    }
}
