package dev.tokenmill.notebook;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Executes every notebook of {@code notebooks/} headless with Jupyter's nbconvert and the Tokenmill Java kernel, into
 * {@code target/executed/}; any cell error fails it (nbconvert exits non-zero and the output holds an {@code error}).
 * Without Jupyter it is skipped, unless {@code -Dtokenmill.notebooks=required} (set by {@code .ci/run}).
 */
@Tag("slow")
class NotebooksTest {
    private static final Path NBCONVERT = Path.of("/usr/bin/jupyter-nbconvert");

    @TestFactory
    Stream<DynamicTest> everyNotebookExecutesWithoutACellError() throws IOException {
        Path base = Path.of(System.getProperty("tokenmill.basedir", ".")).toAbsolutePath();
        if (!Files.isExecutable(NBCONVERT)) {
            String why = NBCONVERT + " not found (apt-get install jupyter-nbconvert python3-nbclient jupyter-client)";
            if ("required".equals(System.getProperty("tokenmill.notebooks"))) throw new AssertionError("notebooks required but " + why);
            Assumptions.abort(why);
        }
        List<Path> notebooks;
        try (var files = Files.list(base)) {
            notebooks = files.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList();
        }
        assertThat(notebooks).hasSizeGreaterThanOrEqualTo(3);
        Path out = Files.createDirectories(base.resolve("target/executed"));
        return notebooks.stream().map(nb -> DynamicTest.dynamicTest(nb.getFileName().toString(), () -> execute(base, nb, out)));
    }

    /** The committed notebooks' cells are what make-notebooks.py writes (their outputs are then fresh up to that run). */
    @org.junit.jupiter.api.Test
    void committedNotebooksHoldTheCellsOfMakeNotebooks() throws Exception {
        Path base = Path.of(System.getProperty("tokenmill.basedir", ".")).toAbsolutePath();
        Path python = Path.of("/usr/bin/python3");
        Assumptions.assumeTrue(Files.isExecutable(NBCONVERT), "Jupyter (nbformat) not installed");
        Path fresh = Files.createDirectories(base.resolve("target/fresh-cells"));
        Process p = new ProcessBuilder(python.toString(), base.resolve("make-notebooks.py").toString()).directory(fresh.toFile())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(log).isZero();
        String compare = "import json,sys\n"
                + "src=lambda f:[(c['cell_type'],''.join(c['source'])) for c in json.load(open(f))['cells']]\n"
                + "sys.exit(0 if src(sys.argv[1])==src(sys.argv[2]) else 1)";
        try (var files = Files.list(fresh)) {
            for (Path made : files.filter(f -> f.toString().endsWith(".ipynb")).toList()) {
                Path committed = base.resolve(made.getFileName());
                Process c = new ProcessBuilder(python.toString(), "-c", compare, made.toString(), committed.toString()).inheritIO().start();
                assertThat(c.waitFor()).as("%s differs from what make-notebooks.py writes: rerun it and notebooks/run-notebooks.sh", committed).isZero();
            }
        }
    }

    private static void execute(Path base, Path notebook, Path out) throws Exception {
        Path log = out.resolve(notebook.getFileName() + ".log");
        ProcessBuilder pb = new ProcessBuilder(NBCONVERT.toString(), "--to", "notebook", "--execute",
                "--ExecutePreprocessor.timeout=900", "--output-dir", out.toString(), notebook.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JUPYTER_PATH", base.resolve("kernel").toString());
        Process p = pb.start();
        if (!p.waitFor(20, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(notebook + ": still running after 20 minutes; see " + log);
        }
        String logText = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as("%s: nbconvert exit status; its log:%n%s", notebook, logText).isZero();
        String executed = Files.readString(out.resolve(notebook.getFileName()), StandardCharsets.UTF_8);
        assertThat(executed).as(notebook + " holds an error output").doesNotContain("\"output_type\": \"error\"");
        assertThat(executed).as(notebook + " executed its cells").contains("\"execution_count\": 1");
    }
}
