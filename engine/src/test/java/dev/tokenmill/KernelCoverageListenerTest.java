package dev.tokenmill;

import org.junit.jupiter.api.Test;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.UniqueId;
import org.junit.platform.engine.support.descriptor.AbstractTestDescriptor;
import org.junit.platform.launcher.TestIdentifier;
import org.opentest4j.TestAbortedException;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

class KernelCoverageListenerTest {
    private static int next;

    private static TestIdentifier test(String className) {
        UniqueId id = UniqueId.forEngine("junit-jupiter").append("class", "dev.tokenmill.tensor.nativ." + className)
                .append("test-template-invocation", "#" + next++);
        return TestIdentifier.from(new AbstractTestDescriptor(id, "case") {
            @Override public Type getType() { return Type.TEST; }
        });
    }

    private static String summary(KernelCoverageListener l) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream before = System.out;
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            l.testPlanExecutionFinished(null);
        } finally {
            System.setOut(before);
        }
        return bytes.toString(StandardCharsets.UTF_8).trim();
    }

    @Test
    void aCpuWithoutAvx512ShowsTheSkippedLevelAndItsTestCount() {
        KernelCoverageListener l = new KernelCoverageListener();
        for (int i = 0; i < 3; i++) l.executionFinished(test("NativeKernelsTest"), TestExecutionResult.successful());
        for (int i = 0; i < 2; i++) {
            l.executionFinished(test("NativeKernelsTest"),
                    TestExecutionResult.aborted(new TestAbortedException("Assumption failed: CPU lacks ISA level 2")));
        }
        assertThat(summary(l)).isEqualTo("Native kernel ISA levels tested: AVX2; skipped: AVX-512 VNNI (CPU lacks it: 2 tests)");
    }

    @Test
    void everyLevelRunningAndNoNativeTestsAreToldApart() {
        KernelCoverageListener all = new KernelCoverageListener();
        all.executionFinished(test("NativeKernelsTest"), TestExecutionResult.successful());
        assertThat(summary(all)).isEqualTo("Native kernel ISA levels tested: AVX-512 VNNI, AVX2; skipped: none");

        KernelCoverageListener none = new KernelCoverageListener();
        none.executionFinished(test("SomeOtherTest"), TestExecutionResult.successful());
        assertThat(summary(none)).isEmpty();

        KernelCoverageListener unavailable = new KernelCoverageListener();
        unavailable.executionFinished(test("NativeKernelsTest"),
                TestExecutionResult.aborted(new TestAbortedException("Assumption failed: native kernels not available here")));
        assertThat(summary(unavailable)).contains("tested: none").contains("native kernels not available here: 1 tests");
    }
}
