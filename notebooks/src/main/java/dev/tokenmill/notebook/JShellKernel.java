package dev.tokenmill.notebook;

import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.UnresolvedReferenceException;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.BaseKernelBuilder;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.common.Image;
import org.dflib.jjava.jupyter.kernel.magic.MagicParser;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A thin Java kernel: JJava's Jupyter protocol library ({@code org.dflib.jjava:jjava-jupyter}) around the JDK's JShell,
 * executing in this JVM ({@code executionEngine("local")}), so a notebook's SparkSession, engines and caches live in
 * the kernel process. Cells are plain Java; {@code display(obj)} shows images (XChart's {@code BitmapEncoder} output,
 * any {@code RenderedImage}) as in JJava. Started by {@code kernel/start-kernel.sh} with the kernelspec beside it.
 */
public final class JShellKernel extends BaseKernel {
    private static final List<String> IMPORTS = List.of(
            "import java.util.*;", "import java.util.stream.*;", "import java.nio.file.*;",
            "import static org.dflib.jjava.jupyter.kernel.BaseNotebookStatics.*;");

    private final JShell shell;

    private JShellKernel(String name, String version, org.dflib.jjava.jupyter.kernel.history.HistoryManager history,
                         org.dflib.jjava.jupyter.kernel.JupyterIO io, org.dflib.jjava.jupyter.kernel.comm.CommManager comms,
                         org.dflib.jjava.jupyter.kernel.display.Renderer renderer, MagicParser magics,
                         org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry registry, org.dflib.jjava.jupyter.kernel.util.StringStyler errors) {
        super(name, version, new LanguageInfo.Builder("Java").version(Runtime.version().toString()).mimetype("text/x-java-source")
                        .fileExtension(".jshell").pygments("java").codemirror("java").build(),
                List.of(), history, io, comms, renderer, magics, registry, false, errors);
        Image.registerAll(getRenderer());
        shell = JShell.builder().executionEngine("local").out(System.out).err(System.err).build();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) shell.addToClasspath(entry);
        for (String imp : IMPORTS) evalRaw(imp);
        installNotebookKernel();
    }

    static final class Builder extends BaseKernelBuilder<Builder, JShellKernel> {
        @Override
        public JShellKernel build() {
            name("tokenmill-java");
            version("0.1");
            // no magics: cells are plain Java
            return new JShellKernel(buildName(), buildVersion(), buildHistoryManager(), buildJupyterIO(buildJupyterIOEncoding()),
                    buildCommManager(), buildRenderer(), new MagicParser("(?!)", "(?!)", buildMagicTranspiler()),
                    buildMagicsRegistry(), buildErrorStyler());
        }
    }

    @Override
    public Object evalRaw(String code) {
        SourceCodeAnalysis sca = shell.sourceCodeAnalysis();
        String rest = code;
        String last = null;
        while (!rest.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = sca.analyzeCompletion(rest);
            String source = info.completeness().isComplete() ? info.source() : rest;
            rest = info.completeness().isComplete() ? info.remaining() : "";
            for (SnippetEvent e : shell.eval(source)) {
                if (e.status() == Snippet.Status.REJECTED) {
                    StringBuilder msg = new StringBuilder("compile error in:\n" + e.snippet().source().strip());
                    shell.diagnostics(e.snippet()).forEach(d -> msg.append("\n  ").append(d.getMessage(Locale.ROOT)));
                    throw new IllegalArgumentException(msg.toString());
                }
                if (e.exception() != null) throw new CellException(e.exception());
                if (e.status() == Snippet.Status.RECOVERABLE_DEFINED || e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED) {
                    String unresolved = String.join(", ", shell.unresolvedDependencies((jdk.jshell.DeclarationSnippet) e.snippet()).toList());
                    throw new IllegalArgumentException("unresolved: " + unresolved);
                }
                if (e.causeSnippet() != null) continue;
                Snippet.SubKind sub = e.snippet().subKind();
                // a bare expression: a plain one, or one JShell keeps as a temporary variable ($1)
                last = sub == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND || e.snippet().kind() == Snippet.Kind.EXPRESSION ? e.value() : null;
            }
        }
        return last;
    }

    /** A cell's exception, shown with JShell's message and the snippet's stack. */
    static final class CellException extends RuntimeException {
        CellException(jdk.jshell.JShellException e) {
            super(e instanceof EvalException ee ? ee.getExceptionClassName() + ": " + ee.getMessage()
                    : e instanceof UnresolvedReferenceException u ? "unresolved reference: " + u.getSnippet().source() : e.toString(), e);
            setStackTrace(e.getStackTrace());
        }
    }

    @Override
    public DisplayData eval(String code) {
        Object v = evalRaw(code);
        return v == null ? null : new DisplayData(v.toString());
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        return null;
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        int[] anchor = new int[1];
        List<String> options = new ArrayList<>();
        shell.sourceCodeAnalysis().completionSuggestions(code, at, anchor).forEach(s -> options.add(s.continuation()));
        return options.isEmpty() ? null : new ReplacementOptions(options, anchor[0], at);
    }

    @Override
    public String isComplete(String code) {
        return switch (shell.sourceCodeAnalysis().analyzeCompletion(code).completeness()) {
            case COMPLETE, COMPLETE_WITH_SEMI, EMPTY -> IS_COMPLETE_YES;
            case DEFINITELY_INCOMPLETE, CONSIDERED_INCOMPLETE -> IS_COMPLETE_MAYBE;
            case UNKNOWN -> IS_COMPLETE_BAD;
        };
    }

    @Override
    public List<String> formatError(Throwable e) {
        List<String> lines = new ArrayList<>();
        lines.add(e.getMessage() == null ? e.toString() : e.getMessage());
        if (e instanceof CellException) for (StackTraceElement s : e.getStackTrace()) lines.add("    at " + s);
        return lines;
    }

    @Override
    public void onShutdown(boolean restart) {
        shell.close();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) throw new IllegalArgumentException("usage: JShellKernel CONNECTION_FILE");
        var props = KernelConnectionProperties.parse(Files.readString(Path.of(args[0]), StandardCharsets.UTF_8));
        var connection = new JupyterConnection(props);
        JShellKernel kernel = new Builder().build();
        kernel.becomeHandlerForConnection(connection);
        connection.connect();
        connection.waitUntilClose();
        System.exit(0);
    }
}
