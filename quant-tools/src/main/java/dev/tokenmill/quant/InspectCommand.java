package dev.tokenmill.quant;

import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.tensor.quant.FileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * {@code tokenmill inspect FILE [--json]}: a GGUF file's metadata (long arrays abbreviated), its tensor table and a
 * summary of the model and tokenizer. Text for people by default; {@code --json} prints one JSON object.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a GGUF file's metadata, tensors and a summary of model and tokenizer.")
public final class InspectCommand implements Callable<Integer> {
    static final int ARRAY_HEAD = 8;

    /** Registers the command with {@code tokenmill}'s CLI. */
    public static final class Provider implements Main.CommandProvider {
        @Override public Object command() { return new InspectCommand(); }
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "a .gguf file: a path or a Hadoop URI")
    String file;

    @Option(names = "--json", description = "print one JSON object instead of text")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (ModelPaths.Input input = ModelPaths.input(file); GgufFile f = GgufFile.open(input.path())) {
            Map<String, Object> report = describe(f);
            report.put("file", file); // the name the user gave, not a fetched temporary copy
            if (json) Cli.printJson(out, report);
            else printText(out, f, report);
        }
        return 0;
    }

    /** The whole description as plain maps and lists (what --json prints). */
    static Map<String, Object> describe(GgufFile f) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("file", f.path().toString());
        r.put("version", f.version());
        r.put("file_bytes", f.fileSize());
        r.put("summary", summary(f));
        Map<String, Object> md = new LinkedHashMap<>();
        for (var e : f.metadata().entrySet()) md.put(e.getKey(), describeValue(e.getValue()));
        r.put("metadata", md);
        List<Map<String, Object>> tensors = new ArrayList<>();
        for (TensorInfo t : f.tensorList()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", t.name());
            m.put("type", t.type().name());
            m.put("shape", t.shape());
            m.put("bytes", t.byteSize());
            tensors.add(m);
        }
        r.put("tensors", tensors);
        return r;
    }

    static Map<String, Object> summary(GgufFile f) {
        Map<String, Object> s = new LinkedHashMap<>();
        String arch = f.getString("general.architecture", "?");
        s.put("architecture", arch);
        if (f.has("general.name")) s.put("name", f.getString("general.name"));
        if (f.has("general.file_type")) {
            long id = f.getLong("general.file_type");
            FileType ft = FileType.byId(id);
            s.put("file_type", ft != null ? ft.name() : "id " + id);
        }
        long params = 0, bytes = 0;
        Map<String, Integer> types = new TreeMap<>();
        for (TensorInfo t : f.tensorList()) {
            params += t.elementCount();
            bytes += t.byteSize();
            types.merge(t.type().name(), 1, Integer::sum);
        }
        s.put("parameters", params);
        s.put("tensor_bytes", bytes);
        s.put("bits_per_weight", params == 0 ? 0 : Math.round(bytes * 8.0 / params * 100) / 100.0);
        s.put("tensor_types", types);
        for (String k : new String[] {"context_length", "embedding_length", "block_count", "feed_forward_length",
                "attention.head_count", "attention.head_count_kv", "rope.freq_base", "rope.dimension_count",
                "attention.layer_norm_rms_epsilon"}) {
            if (f.has(arch + "." + k)) s.put(k, f.value(arch + "." + k).value());
        }
        s.put("tied_embeddings", f.hasTensor("token_embd.weight") && !f.hasTensor("output.weight"));
        Map<String, Object> tok = new LinkedHashMap<>();
        if (f.has("tokenizer.ggml.model")) tok.put("model", f.getString("tokenizer.ggml.model"));
        if (f.has("tokenizer.ggml.pre")) tok.put("pre", f.getString("tokenizer.ggml.pre"));
        if (f.has("tokenizer.ggml.tokens")) tok.put("vocab_size", f.value("tokenizer.ggml.tokens").length());
        if (f.has("tokenizer.ggml.merges")) tok.put("merges", f.value("tokenizer.ggml.merges").length());
        String[] tokens = f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens") : new String[0];
        for (String k : new String[] {"bos", "eos", "unknown", "padding"}) {
            String key = "tokenizer.ggml." + k + "_token_id";
            if (f.has(key)) {
                long id = f.getLong(key); // UINT32 4294967295 means "none" in llama.cpp's files
                tok.put(k, id >= 0 && id < tokens.length ? id + " " + tokens[(int) id] : String.valueOf(id));
            }
        }
        if (f.has("tokenizer.ggml.add_bos_token")) tok.put("add_bos", f.getBool("tokenizer.ggml.add_bos_token", false));
        tok.put("chat_template", f.has("tokenizer.chat_template"));
        s.put("tokenizer", tok);
        return s;
    }

    /** A value for JSON: scalars as they are, arrays as type, length and the first few elements. */
    static Object describeValue(GgufValue v) {
        if (!v.isArray()) return v.value();
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("type", "array<" + v.elementType() + ">");
        a.put("length", v.length());
        List<Object> head = new ArrayList<>();
        Object arr = v.value();
        for (int i = 0; i < Math.min(ARRAY_HEAD, v.length()); i++) {
            Object e = Array.get(arr, i);
            head.add(e instanceof GgufValue g ? describeValue(g) : e);
        }
        a.put("head", head);
        return a;
    }

    private static void printText(PrintWriter out, GgufFile f, Map<String, Object> r) {
        out.printf("%s: GGUF v%d, %,d bytes, %d metadata keys, %d tensors%n", r.get("file"), f.version(), f.fileSize(),
                f.metadata().size(), f.tensors().size());
        out.println();
        out.println("summary:");
        @SuppressWarnings("unchecked")
        Map<String, Object> s = (Map<String, Object>) r.get("summary");
        for (var e : s.entrySet()) out.printf("  %-34s %s%n", e.getKey(), e.getValue());
        out.println();
        out.println("metadata:");
        for (var e : f.metadata().entrySet()) {
            GgufValue v = e.getValue();
            String type = v.isArray() ? "array<" + v.elementType() + ">[" + v.length() + "]" : v.type().name();
            out.printf("  %-44s %-22s %s%n", e.getKey(), type, abbreviate(v));
        }
        out.println();
        out.printf("tensors:%n  %-40s %-6s %-22s %14s%n", "name", "type", "shape", "bytes");
        for (TensorInfo t : f.tensorList()) {
            out.printf("  %-40s %-6s %-22s %,14d%n", t.name(), t.type(), Arrays.toString(t.shape()), t.byteSize());
        }
        out.flush();
    }

    private static String abbreviate(GgufValue v) {
        if (!v.isArray()) {
            String s = String.valueOf(v.value());
            s = s.replace("\n", "\\n");
            return s.length() > 80 ? s.substring(0, 77) + "..." : s;
        }
        StringBuilder b = new StringBuilder("[");
        int n = v.length();
        for (int i = 0; i < Math.min(ARRAY_HEAD, n); i++) {
            if (i > 0) b.append(", ");
            Object e = Array.get(v.value(), i);
            b.append(e instanceof String str ? "'" + str.replace("\n", "\\n") + "'" : String.valueOf(e));
        }
        if (n > ARRAY_HEAD) b.append(", ... (").append(n - ARRAY_HEAD).append(" more)");
        return b.append("]").toString();
    }
}
