package dev.tokenmill.notebook;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The kernel's evaluation without Jupyter: cells split into snippets, values, compile and runtime errors. */
class JShellKernelTest {
    private static JShellKernel kernel;

    @BeforeAll
    static void start() {
        kernel = new JShellKernel.Builder().build();
    }

    @AfterAll
    static void stop() {
        kernel.onShutdown(false);
    }

    @Test
    void aCellOfSeveralSnippetsReturnsTheLastExpressionsValue() {
        assertThat(kernel.evalRaw("int a = 2;\nint twice(int x) { return 2 * x; }\ntwice(a) * 10 + 2")).isEqualTo("42");
        assertThat(kernel.evalRaw("String s = \"x\";")).isNull();
        assertThat(kernel.evalRaw("a")).isEqualTo("2");   // state carries across cells
    }

    @Test
    void theTokenmillClassesAreOnTheCellsClassPath() {
        assertThat(kernel.evalRaw("dev.tokenmill.jobs.NightlyScoringJob.class.getSimpleName()")).isEqualTo("\"NightlyScoringJob\"");
    }

    @Test
    void compileAndRuntimeErrorsAreReportedNotSwallowed() {
        assertThatThrownBy(() -> kernel.evalRaw("int b = undefinedThing + 1;")).hasMessageContaining("cannot find symbol");
        assertThatThrownBy(() -> kernel.evalRaw("Integer.parseInt(\"nope\")"))
                .isInstanceOf(JShellKernel.CellException.class).hasMessageContaining("NumberFormatException");
    }
}
