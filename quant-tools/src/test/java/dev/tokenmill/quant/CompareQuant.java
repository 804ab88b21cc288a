package dev.tokenmill.quant;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.GgmlType;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Compares two quantizations of the same F32/F16/BF16 master tensor by tensor: reconstruction RMSE of ours and theirs
 * against the master, their ratio, whether the chosen types agree, and how many bytes are identical.
 * Run by {@code scripts/compare-quant.sh}; exits 1 when a type differs or a ratio exceeds the budget.
 *
 * <pre>CompareQuant MASTER_F32.gguf OURS.gguf THEIRS.gguf [--budget 1.02]</pre>
 */
public final class CompareQuant {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private CompareQuant() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: CompareQuant MASTER_F32.gguf OURS.gguf THEIRS.gguf [--budget 1.02]");
            System.exit(2);
        }
        double budget = args.length >= 5 && args[3].equals("--budget") ? Double.parseDouble(args[4]) : 1.02;
        int failures = 0;
        double worst = 0;
        long same = 0, total = 0;
        try (GgufFile master = GgufFile.open(Path.of(args[0]));
             GgufFile ours = GgufFile.open(Path.of(args[1]));
             GgufFile theirs = GgufFile.open(Path.of(args[2]))) {
            System.out.printf("%s vs %s (master %s)%n", ours.path().getFileName(), theirs.path().getFileName(),
                    master.path().getFileName());
            System.out.printf("%-28s %-6s %-6s %12s %12s %8s %9s%n", "tensor", "ours", "llama", "rmse ours",
                    "rmse llama", "ratio", "same B");
            for (TensorInfo m : master.tensorList()) {
                if (m.type().isQuantized()) throw new IllegalArgumentException(m.name() + " in the master is " + m.type());
                TensorInfo a = ours.tensor(m.name()), b = theirs.tensor(m.name());
                float[] x = m.type() == GgmlType.F32 ? master.tensorData(m).toArray(F32) : ReferenceDequantizer.dequantize(
                        m.type(), master.tensorData(m).toArray(ValueLayout.JAVA_BYTE), 0, Math.toIntExact(m.elementCount()));
                byte[] ab = ours.tensorData(a).toArray(ValueLayout.JAVA_BYTE);
                byte[] bb = theirs.tensorData(b).toArray(ValueLayout.JAVA_BYTE);
                double ra = rmse(x, ReferenceDequantizer.dequantize(a.type(), ab, 0, x.length));
                double rb = rmse(x, ReferenceDequantizer.dequantize(b.type(), bb, 0, x.length));
                double ratio = rb == 0 ? (ra == 0 ? 1 : Double.POSITIVE_INFINITY) : ra / rb;
                long eq = 0;
                if (ab.length == bb.length) for (int i = 0; i < ab.length; i++) if (ab[i] == bb[i]) eq++;
                same += eq;
                total += bb.length;
                boolean typeOk = a.type() == b.type();
                boolean ok = typeOk && ratio <= budget;
                if (!ok) failures++;
                if (a.type().isQuantized()) worst = Math.max(worst, ratio);
                System.out.printf("%-28s %-6s %-6s %12.4e %12.4e %8.4f %8.2f%%%s%n", m.name(), a.type(), b.type(), ra, rb,
                        ratio, 100.0 * eq / bb.length, ok ? "" : typeOk ? "  <-- over budget" : "  <-- type differs");
            }
            System.out.printf("worst ratio %.4f (budget %.2f), identical bytes %.2f%%, %s%n%n", worst, budget,
                    100.0 * same / total, failures == 0 ? "OK" : failures + " FAILED");
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    static double rmse(float[] x, float[] y) {
        if (x.length != y.length) throw new IllegalArgumentException(x.length + " vs " + y.length + " values");
        double s = 0;
        for (int i = 0; i < x.length; i++) s += (x[i] - (double) y[i]) * (x[i] - (double) y[i]);
        return Math.sqrt(s / x.length);
    }

}
