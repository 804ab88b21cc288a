package dev.tokenmill;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Prints one line after the tests naming the native kernel ISA levels that were tested and those skipped, with
 * the reason: on a CPU without AVX-512 the AVX-512 kernel tests end as skipped assumptions, which the build
 * summary does not tell apart from tests that ran. Registered through META-INF/services; silent when no native
 * kernel test ran (a single other test class).
 */
public final class KernelCoverageListener implements TestExecutionListener {
    /** The ISA levels of {@code NativeKernels}, highest first. */
    private static final Map<Integer, String> LEVELS = Map.of(2, "AVX-512 VNNI", 1, "AVX2");
    private static final Pattern LACKS = Pattern.compile("CPU lacks ISA level (\\d+)");
    private static final String NATIVE_TEST = "NativeKernelsTest";

    private int nativeRan;
    private int nativeUnavailable;
    private final Map<Integer, Integer> skippedByLevel = new TreeMap<>();

    @Override
    public synchronized void executionFinished(TestIdentifier test, TestExecutionResult result) {
        if (!test.isTest() || !test.getUniqueId().contains(NATIVE_TEST)) return;
        String reason = result.getThrowable().map(Throwable::getMessage).orElse("");
        if (result.getStatus() == TestExecutionResult.Status.ABORTED) {
            Matcher m = LACKS.matcher(reason);
            if (m.find()) skippedByLevel.merge(Integer.parseInt(m.group(1)), 1, Integer::sum);
            else nativeUnavailable++;
        } else {
            nativeRan++;
        }
    }

    @Override
    public synchronized void testPlanExecutionFinished(TestPlan plan) {
        if (nativeRan + nativeUnavailable + skippedByLevel.values().stream().mapToInt(Integer::intValue).sum() == 0) return;
        StringBuilder tested = new StringBuilder(), skipped = new StringBuilder();
        for (int level : new int[] {2, 1}) {
            Integer n = skippedByLevel.get(level);
            if (nativeUnavailable > 0 && nativeRan == 0) append(skipped, LEVELS.get(level));
            else if (n != null) append(skipped, LEVELS.get(level) + " (CPU lacks it: " + n + " tests)");
            else append(tested, LEVELS.get(level));
        }
        if (nativeUnavailable > 0) skipped.append(" (native kernels not available here: ").append(nativeUnavailable).append(" tests)");
        System.out.println("Native kernel ISA levels tested: " + (tested.isEmpty() ? "none" : tested)
                + "; skipped: " + (skipped.isEmpty() ? "none" : skipped));
    }

    private static void append(StringBuilder sb, String s) {
        if (!sb.isEmpty()) sb.append(", ");
        sb.append(s);
    }
}
