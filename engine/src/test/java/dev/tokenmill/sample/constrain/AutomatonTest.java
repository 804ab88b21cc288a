package dev.tokenmill.sample.constrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AutomatonTest {
    private static final TokenIndex BYTES = new TokenIndex(new ByteTokenizer(List.of("a")), 2);

    private static boolean matches(Grammar g, String s) {
        Automaton a = new Automaton(g, BYTES);
        int st = a.advance(a.initial, s.getBytes(StandardCharsets.UTF_8));
        return st >= 0 && a.isAccepting(st);
    }

    private static boolean regex(String re, String s) {
        return matches(RegexParser.grammar(re), s);
    }

    private static boolean schema(String schema, String s) {
        return matches(JsonSchemaGrammar.fromSchema(schema), s);
    }

    @Test
    void regexMatchesWhatJavaRegexMatches() {
        String[] patterns = {"[a-z]+@[a-z]+\\.com", "\\d{3}-\\d{4}", "(cat|dog)s?", "a{2,3}b*", "[^0-9]x", "\\w+\\s\\w+", "é+ü?", "(?:ab)+|c", ".{2}"};
        String[] inputs = {"ab@cd.com", "ab@cd.co", "123-4567", "12-4567", "cats", "dog", "dogss", "aab", "aaaabbb", "aaa", "ax", "1x", "éx",
                "hello world", "hello  world", "ééü", "ü", "abab", "c", "abc", "zz", "z\n", "😀z"};
        for (String p : patterns) {
            for (String in : inputs) {
                assertThat(regex(p, in)).as("/%s/ on '%s'", p, in).isEqualTo(in.matches(p));
            }
        }
    }

    @Test
    void regexFeaturesThatCannotBeHonouredAreRefused() {
        assertThatThrownBy(() -> RegexParser.grammar("(?=a)b")).isInstanceOf(ConstraintException.class).hasMessageContaining("look-around");
        assertThatThrownBy(() -> RegexParser.grammar("(a)\\1")).isInstanceOf(ConstraintException.class).hasMessageContaining("\\1");
        assertThatThrownBy(() -> RegexParser.grammar("\\bword")).isInstanceOf(ConstraintException.class).hasMessageContaining("\\b");
        assertThatThrownBy(() -> RegexParser.grammar("(a*)*")).isInstanceOf(ConstraintException.class).hasMessageContaining("without consuming");
    }

    @Test
    void integerRangesAreExact() {
        long[][] ranges = {{0, 9}, {-150, 150}, {7, 1234}, {-1000, -17}, {95, 105}, {0, 0}, {-5, -5}};
        for (long[] r : ranges) {
            Grammar.Builder b = new Grammar.Builder();
            b.define("root", JsonSchemaGrammar.intRange(r[0], r[1]));
            Grammar g = b.build("root");
            for (long v = -1200; v <= 1300; v++) {
                assertThat(matches(g, Long.toString(v))).as("%d in [%d, %d]", v, r[0], r[1]).isEqualTo(v >= r[0] && v <= r[1]);
            }
            assertThat(matches(g, "-0")).isFalse();
            assertThat(matches(g, "00")).isFalse();
        }
    }

    @Test
    void schemaGrammarAcceptsValidAndRefusesInvalidJson() {
        String s = """
                {"type":"object","properties":{"name":{"type":"string","maxLength":5},"age":{"type":"integer","minimum":0,"maximum":120},
                 "tags":{"type":"array","items":{"enum":["a","b"]},"minItems":1,"maxItems":2},"nick":{"type":["string","null"]}},
                 "required":["name","age"]}""";
        assertThat(schema(s, "{\"name\":\"bob\",\"age\":42}")).isTrue();
        assertThat(schema(s, "{ \"name\": \"bob\", \"age\": 42, \"tags\": [\"a\", \"b\"], \"nick\": null }")).isTrue();
        assertThat(schema(s, "{\"name\":\"bob\",\"age\":42,\"nick\":\"x\\n\\u00e9\"}")).isTrue();
        assertThat(schema(s, "{\"name\":\"bobbie\",\"age\":42}")).isFalse();  // too long
        assertThat(schema(s, "{\"name\":\"bob\",\"age\":121}")).isFalse();   // too old
        assertThat(schema(s, "{\"name\":\"bob\"}")).isFalse();                // age required
        assertThat(schema(s, "{\"name\":\"bob\",\"age\":1,\"tags\":[]}")).isFalse();
        assertThat(schema(s, "{\"name\":\"bob\",\"age\":1,\"tags\":[\"c\"]}")).isFalse();
        assertThat(schema(s, "{\"age\":1,\"name\":\"bob\"}")).isFalse();      // declared order
        assertThat(schema(s, "{\"name\":\"b\\ud800\",\"age\":1}")).isFalse(); // no lone surrogates
    }

    @Test
    void formatsRefsAndNumbers() {
        assertThat(schema("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-28\"")).isTrue();
        assertThat(schema("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-30\"")).isFalse();
        assertThat(schema("{\"type\":\"string\",\"format\":\"date-time\"}", "\"2024-12-04T17:30:00.123Z\"")).isTrue();
        assertThat(schema("{\"type\":\"string\",\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\"")).isTrue();
        assertThat(schema("{\"type\":\"string\",\"format\":\"email\"}", "\"ann.lee@example.com\"")).isTrue();
        assertThat(schema("{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.5}", "2.25")).isFalse(); // 2.x may pass 2.5: not offered
        assertThat(schema("{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.5}", "1.75")).isTrue();
        assertThat(schema("{\"type\":\"number\",\"minimum\":-1.5,\"maximum\":2.5}", "-1")).isTrue();
        assertThat(schema("{\"type\":\"number\"}", "-12.5e3")).isTrue();
        String tree = """
                {"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
                 "$ref":"#/$defs/node"}""";
        assertThat(schema(tree, "{\"v\":1,\"kids\":[{\"v\":2},{\"v\":3,\"kids\":[{\"v\":4}]}]}")).isTrue();
        assertThat(schema(tree, "{\"v\":1,\"kids\":[{\"w\":2}]}")).isFalse();
        assertThat(schema("{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"null\"}]}", "null")).isTrue();
        assertThat(matches(JsonSchemaGrammar.anyObject(), "{\"a\": [1, {\"b\": null}, \"x\"], \"c\": -0.5}")).isTrue();
        assertThat(matches(JsonSchemaGrammar.anyObject(), "[1]")).isFalse();
    }

    @Test
    void unsupportedSchemaKeywordsAreNamed() {
        assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"pattern\":\"a+\"}}}"))
                .isInstanceOf(ConstraintException.class).hasMessage("unsupported JSON Schema keyword 'pattern' at #/properties/x");
        assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema("{\"type\":\"string\",\"format\":\"ipv4\"}"))
                .isInstanceOf(ConstraintException.class).hasMessageContaining("unsupported string format 'ipv4'");
        assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema("{\"type\":\"number\",\"multipleOf\":3}"))
                .isInstanceOf(ConstraintException.class).hasMessageContaining("'multipleOf'");
        assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema("{\"$ref\":\"#/$defs/missing\"}"))
                .isInstanceOf(ConstraintException.class).hasMessageContaining("points to nothing");
        assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema("{nope"))
                .isInstanceOf(ConstraintException.class).hasMessageContaining("not valid JSON");
    }

    @Test
    void gbnfAsLlamaCppWritesIt() {
        String arithmetic = """
                root  ::= (expr "=" ws term "\\n")+
                expr  ::= term ([-+*/] term)*
                term  ::= ident | num | "(" ws expr ")" ws
                ident ::= [a-z] [a-z0-9_]* ws
                num   ::= [0-9]+ ws
                ws    ::= [ \\t\\n]*   # spaces
                """;
        Grammar g = GbnfParser.parse(arithmetic);
        assertThat(matches(g, "1+2=3\n")).isTrue();
        assertThat(matches(g, "(a*b)=x \nc=1\n")).isTrue();
        assertThat(matches(g, "1+=3\n")).isFalse();
        Grammar yesNo = GbnfParser.parse("root ::= answer\nanswer ::= (\"yes\" | \"no\") \".\"{0,3}\n");
        assertThat(matches(yesNo, "yes..")).isTrue();
        assertThat(matches(yesNo, "no....")).isFalse();
        assertThatThrownBy(() -> GbnfParser.parse("root ::= root \"a\" | \"b\"")).isInstanceOf(ConstraintException.class)
                .hasMessageContaining("without consuming");
        assertThatThrownBy(() -> GbnfParser.parse("root ::= missing")).hasMessageContaining("undefined rule 'missing'");
        assertThatThrownBy(() -> GbnfParser.parse("expr ::= \"a\"")).hasMessageContaining("no 'root'");
    }

    @Test
    void masksAllowExactlyTheTokensThatKeepTheOutputAlive() {
        ByteTokenizer tok = new ByteTokenizer(List.of("{", "}", "\"", "\"a", "a", "ab", "{\"", "\":", ":", "1", "12", " ", "x"));
        TokenIndex index = new TokenIndex(tok, tok.vocabSize());
        Automaton a = new Automaton(JsonSchemaGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"ab\":{\"type\":\"integer\"}},\"required\":[\"ab\"]}"), index);
        int s = a.initial;
        assertThat(allowed(a, s, tok)).containsExactlyInAnyOrder("{", "{\"");
        s = a.advance(s, "{\"".getBytes(StandardCharsets.UTF_8));
        assertThat(allowed(a, s, tok)).containsExactlyInAnyOrder("a", "ab");
        s = a.advance(s, "ab\":".getBytes(StandardCharsets.UTF_8));
        assertThat(allowed(a, s, tok)).containsExactlyInAnyOrder("1", "12", " ");
        s = a.advance(s, "12".getBytes(StandardCharsets.UTF_8));
        assertThat(a.isAccepting(s)).isFalse();
        s = a.advance(s, "}".getBytes(StandardCharsets.UTF_8));
        assertThat(a.isComplete(s)).isTrue();
        assertThat(allowed(a, s, tok)).isEmpty();
    }

    private static List<String> allowed(Automaton a, int state, ByteTokenizer tok) {
        long[] m = a.mask(state, false);
        List<String> out = new java.util.ArrayList<>();
        for (int id = 0; id < tok.vocabSize(); id++) if ((m[id >>> 6] & (1L << id)) != 0) out.add(tok.tokenText(id));
        return out;
    }

    @Test
    void jsonLiteralsOfEnumsAreWrittenAsJackson() throws Exception {
        String s = "{\"enum\":[\"é\\\"q\",3,null,{\"k\":[1]}]}";
        for (String v : List.of("\"é\\\"q\"", "3", "null", "{\"k\":[1]}")) {
            new ObjectMapper().readTree(v);
            assertThat(schema(s, v)).as(v).isTrue();
        }
    }
}
