package dev.tokenmill.tokenizer.chat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.time.LocalDateTime;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Jinja semantics as transformers renders chat templates. Every expected string here was produced by jinja2 3.1.6
 * in transformers' chat-template environment (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
 * loopcontrols, transformers' tojson/raise_exception/strftime_now with the date fixed to 2026-01-15) with the
 * variables in {@link #VARS}.
 */
class JinjaTemplateTest {
    private static final String VARS_JSON = """
            {"xs": [1, 2, 3], "d": {"a": 1, "b": "x"}, "tools": null,
             "msgs": [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"},
                      {"role": "assistant", "content": "a"}, {"role": "user", "content": "u2"}],
             "jd": {"b": [1, 2.5, null, true], "a": {"x": "y\\n\\"q\\"</tag>"}, "c": [], "e": {}},
             "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": false, "messages": [],
             "documents": null}
            """;
    private static final Map<String, Object> VARS = parse(VARS_JSON);

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String json) {
        try {
            return new ObjectMapper().readValue(json, Map.class);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String render(String template) {
        return JinjaTemplate.compile(template).render(VARS, () -> LocalDateTime.of(2026, 1, 15, 0, 0));
    }

    @Test
    void trimBlocksAndLstripBlocksRemoveTagLinesLikeTransformers() {
        assertThat(render("{% for x in xs %}\n  {% if x != 2 %}\n    {{ x }}\n  {% endif %}\n{% endfor %}\ndone"))
                .isEqualTo("    1\n    3\ndone");
    }

    @Test
    void dashMarkersStripWhitespaceOnTheirSide() {
        assertThat(render("a  {%- if true -%}  b  {%- endif -%}  c {{- ' d ' -}} e"))
                .isEqualTo("abc d e");
    }

    @Test
    void commentsAreRemovedWithTheirLine() {
        assertThat(render("line1\n  {# comment #}\nline2 {#- x -#} line3"))
                .isEqualTo("line1\nline2line3");
    }

    @Test
    void oneTrailingNewlineOfTheSourceIsDropped() {
        assertThat(render("x\n\n"))
                .isEqualTo("x\n");
    }

    @Test
    void setInsideLoopDoesNotLeakButNamespaceDoes() {
        assertThat(render("{% set x = 1 %}{% set ns = namespace(n=0) %}{% for i in xs %}{% set x = i %}{% set ns.n = ns.n + i %}{% endfor %}{{ x }} {{ ns.n }}"))
                .isEqualTo("1 6");
    }

    @Test
    void loopVariablesIncludingPrevAndNextItem() {
        assertThat(render("{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.revindex }};{% endfor %}"))
                .isEqualTo("01TrueFalseb3;12FalseFalseac2;23FalseTrueb1;");
    }

    @Test
    void slicingFollowsPythonIncludingStepsAndCodePoints() {
        assertThat(render("{{ xs[1:] }}{{ xs[::-1] }}{{ xs[-1] }}{{ xs[:-1] }}{{ 'hello'[1:-1] }}{{ 'h\u00e9llo\ud83d\ude80'[::-1] }}{{ xs[5] is defined }}"))
                .isEqualTo("[2, 3][3, 2, 1]3[1, 2]ell\ud83d\ude80oll\u00e9hFalse");
    }

    @Test
    void valuesPrintWithPythonStrAndRepr() {
        assertThat(render("{{ none }} {{ true }} {{ {'a': [1, 'b', none, 1.5, false]} }} {{ (1,) }} {{ [\"it's\"] }} {{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1e-5 }}"))
                .isEqualTo("None True {'a': [1, 'b', None, 1.5, False]} (1,) [\"it's\"] 1.0 1e+20 0.30000000000000004 1e-05");
    }

    @Test
    void arithmeticFollowsPython() {
        assertThat(render("{{ 7/2 }} {{ 7//2 }} {{ -7//2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2**10 }} {{ 1 + 2.5 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ -xs[0] }}"))
                .isEqualTo("3.5 3 -4 1 2 1024 3.5 ababab [1, 2] -1");
    }

    @Test
    void stringMethodsFollowPython() {
        assertThat(render("{{ '  a  b \\n'.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b,c'.split(',', 1) }}{{ 'xxhixx'.strip('x') }}{{ 'hello wORLD'.title() }}{{ 'abc'.startswith(('x','a')) }}{{ 'abc'.endswith('bc') }}{{ 'a-b-c'.replace('-', '+') }}{{ 'ABC'.lower() }}{{ 'abc'.upper() }}{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'a b c'.rsplit(' ', 1) }}{{ ' x '.strip() }}{{ 'a\\nb'.splitlines() }}{{ ', '.join(['a', 'b']) }}{{ 'abcb'.find('b') }}{{ 'abcb'.count('b') }}"))
                .isEqualTo("['a', 'b']['a', 'b', '', 'c']['a', 'b,c']hiHello WorldTrueTruea+b+cabcABCx\n|['a b', 'c']x['a', 'b']a, b12");
    }

    @Test
    void dictMethodsAndMissingKeys() {
        assertThat(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.get('a') }}{{ d.get('zz', 'dflt') }}{{ d.get('zz') }}{{ d.zz is defined }}{{ d['zz'] is defined }}{{ d.keys()|list }}{{ d|length }}"))
                .isEqualTo("a=1;b=x;1dfltNoneFalseFalse['a', 'b']2");
    }

    @Test
    void noneIsDefinedButUndefinedIsNot() {
        assertThat(render("{{ tools is defined }}{{ tools is none }}{{ missing is defined }}{{ missing is none }}[{{ missing }}]{{ missing|length }}{{ missing is iterable }}{% for x in missing %}never{% endfor %}"))
                .isEqualTo("TrueTrueFalseFalse[]0True");
    }

    @Test
    void tojsonUsesPythonJsonDumpsDefaults() {
        assertThat(render("{{ jd|tojson }}|{{ jd|tojson(indent=2) }}|{{ jd|tojson(separators=(',', ':')) }}|{{ jd|tojson(sort_keys=true) }}|{{ '\u00e9<&>\\t'|tojson }}|{{ '\u00e9\ud83d\ude80'|tojson(ensure_ascii=true) }}|{{ 1.0|tojson }}"))
                .isEqualTo("{\"b\": [1, 2.5, null, true], \"a\": {\"x\": \"y\\n\\\"q\\\"</tag>\"}, \"c\": [], \"e\": {}}|{\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"a\": {\n    \"x\": \"y\\n\\\"q\\\"</tag>\"\n  },\n  \"c\": [],\n  \"e\": {}\n}|{\"b\":[1,2.5,null,true],\"a\":{\"x\":\"y\\n\\\"q\\\"</tag>\"},\"c\":[],\"e\":{}}|{\"a\": {\"x\": \"y\\n\\\"q\\\"</tag>\"}, \"b\": [1, 2.5, null, true], \"c\": [], \"e\": {}}|\"\u00e9<&>\\t\"|\"\\u00e9\\ud83d\\ude80\"|1.0");
    }

    @Test
    void markupConcatenationEscapesThePlainSide() {
        assertThat(render("{{ '<b>'|safe + '<i>\"&\\'' }}|{{ '<i>' + '<b>'|safe }}|{{ ('<b>'|safe) ~ '<i>' }}|{{ '<b>'|safe }}"))
                .isEqualTo("<b>&lt;i&gt;&#34;&amp;&#39;|&lt;i&gt;<b>|<b><i>|<b>");
    }

    @Test
    void listFiltersBehaveLikeJinja() {
        assertThat(render("{{ [3,1,2]|sort }}{{ ['b','A','a']|unique|list }}{{ msgs|selectattr('role','equalto','user')|map(attribute='content')|join(',') }}{{ msgs|rejectattr('role','equalto','user')|list|length }}{{ msgs|map(attribute='role')|first }}{{ [1,2]|last }}{{ ['b','C','a']|sort(reverse=true) }}{{ d|dictsort }}{{ [1,2,3]|select('odd')|list }}{{ ['x','y']|map('upper')|list }}"))
                .isEqualTo("[1, 2, 3]['b', 'A']u1,u22system2['C', 'b', 'a'][('a', 1), ('b', 'x')][1, 3]['X', 'Y']");
    }

    @Test
    void stringAndDefaultFilters() {
        assertThat(render("[{{ ' x '|trim }}][{{ 'a\\nb\\n\\nc'|indent(2) }}][{{ 'a\\nb'|indent(2, true) }}]{{ '42'|int + 1 }}{{ '4.7'|int }}{{ none|default('n') }}{{ missing|default('m') }}{{ ''|default('e', true) }}{{ 'ab'|upper }}{{ 'hello world'|title }}{{ 'aXb'|replace('X', '-') }}{{ 5|string + '!' }}{{ [1, 2]|string }}{{ 'ab'|capitalize }}"))
                .isEqualTo("[x][a\n  b\n\n  c][  a\n  b]434NonemeABHello Worlda-b5![1, 2]Ab");
    }

    @Test
    void macrosTakePositionalKeywordAndDefaultArguments() {
        assertThat(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }} [{{ greet() }}]"))
                .isEqualTo("Hi A! Hi B? Hi C! [Hi !]");
    }

    @Test
    void setBlocksAndFilterBlocks() {
        assertThat(render("{% set x %}  body  {% endset %}[{{ x }}]{% filter upper %}abc{% endfilter %}{% set y | trim %}  z  {% endset %}[{{ y }}]"))
                .isEqualTo("[  body  ]ABC[z]");
    }

    @Test
    void breakAndContinue() {
        assertThat(render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}"))
                .isEqualTo("0134");
    }

    @Test
    void forElseAndFilteredLoops() {
        assertThat(render("{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"))
                .isEqualTo("empty|2242");
    }

    @Test
    void generationTagRendersItsBody() {
        assertThat(render("a{% generation %}gen {{ 1 }}{% endgeneration %}b"))
                .isEqualTo("agen 1b");
    }

    @Test
    void strftimeNowUsesTheSuppliedClock() {
        assertThat(render("{{ strftime_now('%Y-%m-%d') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%B %d, %Y') }} {{ strftime_now('%A %H:%M') }}"))
                .isEqualTo("2026-01-15 15 Jan 2026 January 15, 2026 Thursday 00:00");
    }

    @Test
    void inlineIfWithoutElseGivesUndefined() {
        assertThat(render("[{{ 'a' if false }}]{{ 'y' if true else 'n' }}"))
                .isEqualTo("[]y");
    }

    @Test
    void membershipAndCodePointLength() {
        assertThat(render("{{ 'ell' in 'hello' }}{{ 'x' not in ['a'] }}{{ 'a' in {'a': 1} }}{{ '\ud83d\ude80\u00e9'|length }}"))
                .isEqualTo("TrueTrueTrue2");
    }

    @Test
    void testsAndChainedComparisons() {
        assertThat(render("{{ 1 < 2 < 3 }}{{ 3 < 2 < 4 }}{{ 3 is divisibleby 3 }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 1 is number }}{{ true is boolean }}{{ 'abc' is sequence }}{{ 1 is integer }}{{ 1.5 is float }}{{ none is not none }}{{ false is false }}{{ 1 == 1.0 }}{{ 'a' != 'b' }}"))
                .isEqualTo("TrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueFalseTrueTrueTrue");
    }

    @Test
    void loopCycleAndRangeWithStep() {
        assertThat(render("{% for i in range(1, 10, 3) %}{{ loop.cycle('a','b') }}{{ i }}{% endfor %}"))
                .isEqualTo("a1b4a7");
    }

    @Test
    void stringFormatting() {
        assertThat(render("{{ '{} and {name}'.format(1, name='x') }}|{{ '%s-%d'|format('a', 3) }}|{{ 'Hi %s' % 'x' }}"))
                .isEqualTo("1 and x|a-3|Hi x");
    }

    @Test
    void tupleUnpackingAndDictLiterals() {
        assertThat(render("{% set a, b = [1, 2] %}{{ a }}{{ b }}{% set dd = {'k': 'v', 'n': none} %}{{ dd }}{{ dd.k }}{{ dd['n'] }}"))
                .isEqualTo("12{'k': 'v', 'n': None}vNone");
    }

    @Test
    void stringLiteralEscapes() {
        assertThat(render("{{ 'tab\\there\\nnl \\u00e9 \\'q\\' \"dq\"' }}{{ \"a\" 'b' }}"))
                .isEqualTo("tab\there\nnl \u00e9 'q' \"dq\"ab");
    }

    @Test
    void undefinedPlusStringRaises() {
        assertThatThrownBy(() -> render("{{ missing + 'x' }}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("UndefinedError");
                    assertThat(e.detail()).isEqualTo("'missing' is undefined");
                });
    }

    @Test
    void attributeOfUndefinedRaises() {
        assertThatThrownBy(() -> render("{{ missing.attr }}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("UndefinedError");
                    assertThat(e.detail()).isEqualTo("'missing' is undefined");
                });
    }

    @Test
    void iteratingNoneRaisesTypeError() {
        assertThatThrownBy(() -> render("{% for t in tools %}{% endfor %}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("TypeError");
                    assertThat(e.detail()).isEqualTo("'NoneType' object is not iterable");
                });
    }

    @Test
    void mutatingAListRaisesSecurityError() {
        assertThatThrownBy(() -> render("{% set l = [1] %}{{ l.append(2) }}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("SecurityError");
                    assertThat(e.detail()).isEqualTo("access to attribute 'append' of 'list' object is unsafe.");
                });
    }

    @Test
    void unknownFiltersFailOnlyWhenReached() {
        assertThat(render("{% if false %}{{ x|from_json }}{% endif %}ok"))
                .isEqualTo("ok");
    }

    @Test
    void unknownFilterReachedRaises() {
        assertThatThrownBy(() -> render("{{ 'x'|from_json }}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("TemplateAssertionError");
                    assertThat(e.detail()).isEqualTo("No filter named 'from_json'.");
                });
    }

    @Test
    void raiseExceptionStopsRendering() {
        assertThatThrownBy(() -> render("before{{ raise_exception('bad input: ' ~ xs[0]) }}after"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("TemplateError");
                    assertThat(e.detail()).isEqualTo("bad input: 1");
                });
    }

    @Test
    void syntaxErrorsNameTheLine() {
        assertThatThrownBy(() -> JinjaTemplate.compile("ok\n{% if x %}\n{% endfor %}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> {
                    assertThat(e.kind()).isEqualTo("TemplateSyntaxError");
                    assertThat(e.line()).isEqualTo(3);
                });
    }

    @Test
    void runtimeErrorsNameTheFailingLine() {
        assertThatThrownBy(() -> render("a\n{% set x = 1 %}\n{{ missing.attr }}"))
                .isInstanceOfSatisfying(JinjaException.class, e -> assertThat(e.line()).isEqualTo(3));
    }
}
