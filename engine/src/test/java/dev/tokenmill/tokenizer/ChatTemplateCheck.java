package dev.tokenmill.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Renders every template x conversation of a chat-template test-vector folder (shared/chat-templates: templates/,
 * conversations.json, expected/) and compares with what transformers rendered, exactly. Not a unit test: CI has no
 * shared/. Run by scripts/check-chat-templates.sh. Prints "NAME n/N" per template and a total; exits 1 on any
 * mismatch. Arguments: DIR [--verbose] [--only SUBSTRING] [--core] (conversations 1-5 only) [--show-errors].
 */
public final class ChatTemplateCheck {
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : "../shared/chat-templates");
        boolean verbose = List.of(args).contains("--verbose");
        boolean core = List.of(args).contains("--core");
        boolean showErrors = List.of(args).contains("--show-errors");
        String only = null;
        for (int i = 0; i < args.length - 1; i++) if (args[i].equals("--only")) only = args[i + 1];
        ObjectMapper json = new ObjectMapper();
        Map<Integer, Map<String, Object>> convs = new HashMap<>();
        for (Object c : json.readValue(dir.resolve("conversations.json").toFile(), List.class)) {
            @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) c;
            convs.put((Integer) m.get("id"), m);
        }
        Clock fixed = Clock.fixed(LocalDateTime.of(2026, 1, 15, 0, 0).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        List<Path> templates;
        try (Stream<Path> s = Files.list(dir.resolve("templates"))) {
            templates = s.filter(p -> p.toString().endsWith(".jinja")).sorted().toList();
        }
        int total = 0;
        int passed = 0;
        int perfect = 0;
        int shown = 0;
        for (Path tp : templates) {
            String name = tp.getFileName().toString().replaceFirst("\\.jinja$", "");
            if (only != null && !name.contains(only)) continue;
            @SuppressWarnings("unchecked") Map<String, Object> exp =
                    json.readValue(dir.resolve("expected").resolve(name + ".json").toFile(), Map.class);
            String source = Files.readString(tp);
            int n = 0;
            int ok = 0;
            StringBuilder problems = new StringBuilder();
            ChatTemplate tpl = null;
            String compileError = null;
            try {
                tpl = ChatTemplate.of(name, source, (String) exp.get("bos_token"), (String) exp.get("eos_token"))
                        .withClock(fixed);
            } catch (ChatTemplateException e) {
                compileError = e.getMessage();
            }
            @SuppressWarnings("unchecked") List<Map<String, Object>> cases = (List<Map<String, Object>>) exp.get("cases");
            for (Map<String, Object> c : cases) {
                int id = (Integer) c.get("conversation");
                if (core && id > 5) continue;
                n++;
                Map<String, Object> conv = convs.get(id);
                String got = null;
                ChatTemplateException err = null;
                if (tpl == null) {
                    problems.append("  conv ").append(id).append(": compile error: ").append(compileError).append('\n');
                    continue;
                }
                try {
                    Map<String, Object> extra = new HashMap<>();
                    extra.put("tools", conv.get("tools"));
                    @SuppressWarnings("unchecked") List<Map<String, Object>> msgs = (List<Map<String, Object>>) conv.get("messages");
                    got = tpl.renderMaps(msgs, (Boolean) c.get("add_generation_prompt"), extra);
                } catch (ChatTemplateException e) {
                    err = e;
                }
                String wantText = (String) c.get("text");
                if (wantText != null) {
                    if (wantText.equals(got)) ok++;
                    else if (err != null) problems.append("  conv ").append(id).append(": unexpected error: ").append(err.getMessage()).append('\n');
                    else problems.append("  conv ").append(id).append(": text differs").append(diff(wantText, got)).append('\n');
                } else {
                    String wantType = (String) c.get("error_type");
                    String wantMsg = (String) c.get("error");
                    boolean templateError = wantType.endsWith("TemplateError");
                    if (showErrors) {
                        System.out.printf("  %s conv %d: want %s: %s | got %s%n", name, id, wantType, wantMsg,
                                err == null ? "no error" : err.errorKind() + ": " + err.detail());
                    }
                    if (err != null && (!templateError || (err.raisedByTemplate() && err.detail().equals(wantMsg)))) ok++;
                    else if (err != null) problems.append("  conv ").append(id).append(": wrong error: ").append(err.getMessage())
                            .append(" (want ").append(wantType).append(": ").append(wantMsg).append(")\n");
                    else problems.append("  conv ").append(id).append(": rendered, but want ").append(wantType).append(": ").append(wantMsg).append('\n');
                }
            }
            total += n;
            passed += ok;
            if (ok == n) perfect++;
            System.out.printf("%-55s %d/%d%n", name, ok, n);
            if (ok != n && (verbose || shown < 20)) {
                System.out.print(problems);
                shown++;
            }
        }
        System.out.printf("TOTAL %d/%d cases, %d/%d templates fully passing%n", passed, total, perfect,
                templates.size());
        System.exit(passed == total ? 0 : 1);
    }

    private static String diff(String want, String got) {
        int i = 0;
        while (i < want.length() && i < got.length() && want.charAt(i) == got.charAt(i)) i++;
        int from = Math.max(0, i - 40);
        return " at char " + i + ":\n    want: " + esc(want.substring(from, Math.min(want.length(), i + 60)))
                + "\n    got:  " + esc(got.substring(from, Math.min(got.length(), i + 60)));
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t");
    }
}
