package dev.tokenmill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import dev.tokenmill.sample.SamplingParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Structured output through the engine on a random-weight model: whatever the weights, every output that ends with
 * finish reason {@code stop} satisfies its constraint, checked by independent oracles (a JSON Schema validator,
 * Java's regex engine).
 */
class ConstrainedDecodingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SchemaRegistry SCHEMAS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            b -> b.schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));

    @TempDir
    static Path dir;
    static Engine engine;

    @BeforeAll
    static void open() throws IOException {
        engine = Engine.open(JsonVocabModel.write(dir, 7), JsonVocabModel.config());
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    private static final List<String> SCHEMAS_UNDER_TEST = List.of(
            """
            {"type":"object","properties":{
               "name":{"type":"string","minLength":1,"maxLength":8},
               "age":{"type":"integer","minimum":0,"maximum":120},
               "ok":{"type":"boolean"},
               "tags":{"type":"array","items":{"enum":["a","b","cd"]},"minItems":1,"maxItems":3},
               "score":{"type":"number","minimum":-1,"maximum":1}},
             "required":["name","age","tags"],"additionalProperties":false}""",
            """
            {"$defs":{"id":{"type":"string","format":"uuid"}},
             "type":"object","properties":{"id":{"$ref":"#/$defs/id"},"when":{"type":"string","format":"date-time"},
               "day":{"type":"string","format":"date"},"mail":{"type":"string","format":"email"}},
             "required":["id","day"]}""",
            """
            {"anyOf":[{"type":"null"},{"type":"array","items":{"type":"integer","exclusiveMinimum":-50,"exclusiveMaximum":50},"maxItems":4},
                      {"const":{"k":[1,"x"]}}]}""",
            """
            {"type":"object","properties":{"kind":{"oneOf":[{"const":"circle"},{"const":"square"}]},
               "size":{"type":["integer","null"],"minimum":1,"maximum":9999},"label":{"type":"string","maxLength":4},
               "note":{"type":"string","maxLength":3}},
             "required":["kind","size"]}""");

    @Test
    void everyStoppedOutputValidatesAgainstItsSchema() throws Exception {
        int n = 1000;
        List<Request> requests = new ArrayList<>(n);
        Random r = new Random(11);
        for (int i = 0; i < n; i++) {
            String schema = SCHEMAS_UNDER_TEST.get(i % SCHEMAS_UNDER_TEST.size());
            requests.add(Request.tokens("r" + i, prompt(r)).sampling(SamplingParams.builder().temperature(1f).topK(0).topP(1f)
                    .minP(0f).seed(i).maxTokens(160).jsonSchema(schema).build()).build());
        }
        List<Result> results = engine.generate(requests);
        int stopped = 0;
        List<String> invalid = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Result res = results.get(i);
            assertThat(res.error()).as(res.id()).isNull();
            if (res.finishReason() == FinishReason.STOP) {
                stopped++;
                assertThat(res.incomplete()).isFalse();
                Schema schema = SCHEMAS.getSchema(SCHEMAS_UNDER_TEST.get(i % SCHEMAS_UNDER_TEST.size()));
                JsonNode value;
                try {
                    value = JSON.readTree(res.text());
                } catch (IOException e) {
                    invalid.add(res.id() + " does not parse: " + res.text());
                    continue;
                }
                var errors = schema.validate(value);
                if (!errors.isEmpty()) invalid.add(res.id() + " " + res.text() + " -> " + errors);
            } else {
                assertThat(res.finishReason()).isEqualTo(FinishReason.LENGTH);
                assertThat(res.incomplete()).as("a JSON value cut short is incomplete: %s", res.text()).isTrue();
            }
        }
        assertThat(invalid).isEmpty();
        assertThat(stopped).as("outputs that finished").isGreaterThan(n / 2);
    }

    @Test
    void withoutAConstraintTheRandomModelWritesNoJson() {
        Random r = new Random(3);
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            requests.add(Request.tokens("u" + i, prompt(r)).sampling(SamplingParams.builder().temperature(1f).seed(i).maxTokens(40).build()).build());
        }
        long parsed = engine.generate(requests).stream().filter(res -> parsesAsObject(res.text())).count();
        assertThat(parsed).isZero();
    }

    @Test
    void jsonObjectRegexAndGrammarOutputsSatisfyTheirConstraint() {
        String gbnf = """
                root ::= "(" item ("," ws item)* ")"
                item ::= [a-z]+ | [0-9]{1,3} | "\\"" [^"\\\\]{0,4} "\\""
                ws   ::= " "?
                """;
        Pattern grammarOracle = Pattern.compile("\\((?:[a-z]+|[0-9]{1,3}|\"[^\"\\\\]{0,4}\")(?:, ?(?:[a-z]+|[0-9]{1,3}|\"[^\"\\\\]{0,4}\"))*\\)");
        String regex = "(?:[a-z]{2,6}|\\d{1,3})@(example|test)\\.(com|org)";
        int per = 100;
        List<Request> requests = new ArrayList<>();
        Random r = new Random(5);
        for (int i = 0; i < per; i++) {
            SamplingParams.Builder sp = SamplingParams.builder().temperature(1f).topK(0).topP(1f).minP(0f).seed(i).maxTokens(80);
            // any object: a random model nests and rambles, so it gets more room
            requests.add(Request.tokens("o" + i, prompt(r)).sampling(sp.jsonObject().maxTokens(240).build()).build());
            sp.maxTokens(80);
            requests.add(Request.tokens("x" + i, prompt(r)).sampling(sp.regex(regex).build()).build());
            requests.add(Request.tokens("g" + i, prompt(r)).sampling(sp.grammar(gbnf).build()).build());
        }
        int[] stopped = new int[3];
        for (Result res : engine.generate(requests)) {
            assertThat(res.error()).as(res.id()).isNull();
            if (res.finishReason() != FinishReason.STOP) {
                assertThat(res.incomplete()).isTrue();
                continue;
            }
            switch (res.id().charAt(0)) {
                case 'o' -> {
                    assertThat(parsesAsObject(res.text())).as(res.text()).isTrue();
                    stopped[0]++;
                }
                case 'x' -> {
                    assertThat(res.text()).matches(regex);
                    stopped[1]++;
                }
                default -> {
                    assertThat(grammarOracle.matcher(res.text()).matches()).as(res.text()).isTrue();
                    stopped[2]++;
                }
            }
        }
        assertThat(stopped[0]).as("finished json_object outputs").isGreaterThan(per / 5);
        assertThat(stopped[1]).as("finished regex outputs").isGreaterThan(per / 2);
        assertThat(stopped[2]).as("finished grammar outputs").isGreaterThan(per / 2);
    }

    @Test
    void maxTokensCutsAConstrainedOutputShortAsIncomplete() {
        Result res = engine.submit(Request.tokens("short", 1, 300, 301).sampling(SamplingParams.builder().temperature(0).maxTokens(3)
                .jsonSchema("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]}").build()).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(res.incomplete()).isTrue();
        assertThat(res.completionTokens()).isEqualTo(3);
        assertThat(res.text()).startsWith("{");
    }

    @Test
    void aCompleteOutputStopsEvenWhenEndOfSequenceIsIgnored() {
        Result res = engine.submit(Request.tokens("done", 1, 300).ignoreEos(true).sampling(SamplingParams.builder().temperature(0)
                .maxTokens(50).regex("(yes|no)!").build()).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(res.text()).isIn("yes!", "no!");
        assertThat(res.incomplete()).isFalse();
    }

    @Test
    void minTokensGivesWayToACompleteOutputAndStopStringsAreRefused() {
        Result res = engine.submit(Request.tokens("min", 1, 300).minTokens(10).sampling(SamplingParams.builder().temperature(0)
                .maxTokens(50).regex("(yes|no)!").build()).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(res.text()).isIn("yes!", "no!");
        Result stop = engine.submit(Request.tokens("stop", 1, 300).sampling(SamplingParams.builder().maxTokens(8)
                .stopStrings(List.of("}")).jsonObject().buildUnchecked()).build()).join();
        assertThat(stop.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(stop.error()).contains("stop strings cannot be combined with a json_object constraint");
    }

    @Test
    void unsupportedSchemaKeywordsFailTheRequestWithTheirName() {
        Result res = engine.submit(Request.tokens("bad", 1, 300).sampling(SamplingParams.builder().maxTokens(8)
                .jsonSchema("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"pattern\":\"^a+$\"}}}").build()).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(res.error()).contains("bad").contains("unsupported JSON Schema keyword 'pattern' at #/properties/x");
        Result regex = engine.submit(Request.tokens("re", 1, 300).sampling(SamplingParams.builder().maxTokens(8).regex("(?<=a)b").build()).build()).join();
        assertThat(regex.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(regex.error()).contains("look-around");
    }

    @Test
    void choiceProbabilitiesComeFromScoringEachChoice() {
        Random r = new Random(9);
        int[] prompt = prompt(r, 40);
        List<String> choices = List.of("yes", "no", "maybe");
        Result res = engine.submit(Request.tokens("c", prompt).sampling(SamplingParams.builder().maxTokens(4).choice(choices).build()).build()).join();
        assertThat(res.error()).isNull();
        assertThat(res.finishReason()).isEqualTo(FinishReason.STOP);
        Map<String, Double> p = res.choiceProbabilities();
        assertThat(p.keySet()).containsExactlyElementsOf(choices);
        assertThat(p.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-9));
        String best = p.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        assertThat(res.text()).isEqualTo(best);
        // the oracle: each choice's tokens scored through promptLogprobs, normalised by hand
        double[] logp = new double[choices.size()];
        double z = 0;
        for (int c = 0; c < choices.size(); c++) {
            int[] ids = engine.tokenizer().encode(choices.get(c), false, false);
            int[] all = java.util.Arrays.copyOf(prompt, prompt.length + ids.length);
            System.arraycopy(ids, 0, all, prompt.length, ids.length);
            Result scored = engine.submit(Request.tokens("s" + c, all).greedy(1).promptLogprobs(0).build()).join();
            List<Result.TokenLogprobs> lps = scored.promptLogprobs();
            for (int j = lps.size() - ids.length; j < lps.size(); j++) logp[c] += lps.get(j).logprob();
            z += Math.exp(logp[c]);
        }
        for (int c = 0; c < choices.size(); c++) assertThat(p.get(choices.get(c))).isCloseTo(Math.exp(logp[c]) / z, within(1e-4));
        assertThat(engine.stats().cachedPromptTokens()).as("the choices share the prompt's KV").isGreaterThan(0);
    }

    private static boolean parsesAsObject(String text) {
        try {
            return JSON.readTree(text).isObject();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static int[] prompt(Random r) {
        return prompt(r, 4 + r.nextInt(8));
    }

    /** BOS then random ordinary tokens (no control or byte tokens). */
    private static int[] prompt(Random r, int n) {
        int first = 3 + 256;
        int[] ids = new int[n];
        ids[0] = 1;
        for (int i = 1; i < n; i++) ids[i] = first + r.nextInt(JsonVocabModel.pieces().size() - first);
        return ids;
    }
}
