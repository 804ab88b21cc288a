package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.call_function;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.map;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The SQL functions from SQL text, in a session started with the extension and in one where they were registered late. */
class TokenmillSqlTest {
    private static SparkSession shared;
    private static SparkSession sql;   // built with TokenmillExtensions, spark.tokenmill.model set
    private static String model;
    private static List<String> texts;

    @BeforeAll
    static void start() {
        shared = SparkTestSession.get();
        model = TestModels.tiny().toString();
        sql = SparkSession.builder().withExtensions(new TokenmillExtensions()).create();
        sql.conf().set("spark.tokenmill.model", model);
        sql.conf().set("spark.tokenmill.threads", "2");
        sql.conf().set("spark.tokenmill.temperature", "0");
        // create() made the new session the default; the other test classes use the shared one
        SparkSession.setDefaultSession(shared);
        SparkSession.setActiveSession(shared);
        texts = TestPrompts.words(12, 5);
        prompts(sql, texts).createOrReplaceTempView("t");
    }

    @AfterAll
    static void restore() {
        SparkSession.setDefaultSession(shared);
        SparkSession.setActiveSession(shared);
    }

    /** (id, prompt, n) in 2 partitions, n = 1 + id % 4. */
    static Dataset<Row> prompts(SparkSession s, List<String> texts) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i), 1 + i % 4));
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType)
                .add("n", DataTypes.IntegerType);
        return s.createDataFrame(rows, schema).repartition(2);
    }

    private static Map<Integer, Row> byId(List<Row> rows) {
        Map<Integer, Row> out = new HashMap<>();
        for (Row r : rows) out.put(r.getInt(0), r);
        return out;
    }

    @Test
    void generateFromSqlEqualsTheDataFrameOperatorOnTheSameRows() {
        List<Row> fromSql = sql.sql("SELECT id, tokenmill_generate(prompt, map('maxTokens', '6')) AS r FROM t").collectAsList();
        Map<String, String> o = Map.of("model", model, "threads", "2", "temperature", "0", "maxTokens", "6");
        Map<Integer, Row> fromFrame = byId(Tokenmill.generate(sql.table("t").select("id", "prompt"), o).collectAsList());

        assertThat(fromSql).hasSize(texts.size());
        for (Row r : fromSql) {
            Row res = r.getStruct(1);
            Row expected = fromFrame.get(r.getInt(0)).getStruct(2);
            assertThat(res.schema()).isEqualTo(expected.schema());
            assertThat(res.isNullAt(res.fieldIndex("error"))).as("row %s", r).isTrue();
            assertThat(res.getString(res.fieldIndex("text"))).isEqualTo(expected.getString(expected.fieldIndex("text")));
            assertThat(res.getInt(res.fieldIndex("completion_tokens"))).isEqualTo(6);
        }
    }

    @Test
    void thePlanRunsTheCallsInTheBatchedOperatorAndNowhereElse() {
        Dataset<Row> df = sql.sql("SELECT id, tokenmill_generate(prompt).text AS text, tokenmill_generate(prompt).finish_reason AS f "
                + "FROM t WHERE tokenmill_classify(prompt, array('yes', 'no')).label = 'yes'");
        String optimized = df.queryExecution().optimizedPlan().toString();
        SparkPlan executed = df.queryExecution().sparkPlan(); // as planned, before adaptive execution wraps it
        assertThat(optimized).contains("TokenmillEval");
        List<SparkPlan> evals = new ArrayList<>();
        List<String> others = new ArrayList<>();
        executed.foreach(p -> {
            if (p instanceof TokenmillEvalExec) evals.add(p);
            else if (p.expressions().exists(ExtractTokenmillCalls::hasCall)) others.add(p.simpleString(100));
            return null;
        });
        // the WHERE's classify runs first; the two field reads share one generate call, run once, above the filter
        assertThat(evals).hasSize(2);
        assertThat(others).isEmpty();
        assertThat(executed.toString()).contains("TokenmillEval");
        String explain = sql.sql("EXPLAIN SELECT id, tokenmill_generate(prompt).text FROM t").first().getString(0);
        assertThat(explain).contains("TokenmillEval [tokenmill_generate(prompt#");
        long expected = sql.sql("SELECT tokenmill_classify(prompt, array('yes', 'no')).label AS l FROM t").where("l = 'yes'").count();
        assertThat(df.count()).isEqualTo(expected);
    }

    @Test
    void classifyReturnsOneOfTheLabelsWithProbabilitiesSummingToOne() {
        List<Row> rows = sql.sql("SELECT id, tokenmill_classify(prompt, array('positive', 'negative', 'neutral')) AS c FROM t")
                .collectAsList();
        assertThat(rows).hasSize(texts.size());
        for (Row r : rows) {
            Row c = r.getStruct(1);
            assertThat(c.isNullAt(2)).as("error of %s", r).isTrue();
            Map<String, Double> p = c.getJavaMap(1);
            assertThat(p).containsOnlyKeys("positive", "negative", "neutral");
            assertThat(p.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-6));
            String best = p.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            assertThat(c.getString(0)).isEqualTo(best);
        }
    }

    @Test
    void optionsBuiltFromColumnsApplyPerRow() {
        List<Row> rows = sql.sql("SELECT id, n, tokenmill_generate(prompt, map('maxTokens', cast(n AS string))) AS r FROM t")
                .collectAsList();
        Map<String, String> o = Map.of("model", model, "threads", "2", "temperature", "0");
        Map<Integer, Row> fromFrame = byId(Tokenmill.generate(sql.table("t").withColumnRenamed("n", "maxTokens"), o).collectAsList());
        assertThat(rows).hasSize(texts.size());
        for (Row r : rows) {
            Row res = r.getStruct(2);
            Row expected = fromFrame.get(r.getInt(0)).getStruct(3);
            assertThat(res.getInt(res.fieldIndex("completion_tokens"))).as("row %s", r).isEqualTo(r.getInt(1));
            assertThat(res.getString(res.fieldIndex("text"))).isEqualTo(expected.getString(expected.fieldIndex("text")));
        }
    }

    @Test
    void badRowsGetANullResultWithAnErrorAndTheOtherRowsAnswer() {
        sql.sql("SELECT * FROM VALUES (0, 'the cat', array('a', 'b'), '4'), (1, CAST(NULL AS STRING), array('a', 'b'), '4'), "
                + "(2, 'the mat', array('a', 'a'), '4'), (3, 'rain fell', array(), 'four'), (4, 'quiet hills', CAST(NULL AS ARRAY<STRING>), '4') "
                + "AS v(id, prompt, labels, max)").repartition(2).createOrReplaceTempView("bad");
        Map<Integer, Row> gen = byId(sql.sql("SELECT id, tokenmill_generate(prompt, map('maxTokens', max)) AS r FROM bad").collectAsList());
        assertThat(gen.get(0).getStruct(1).isNullAt(5)).isTrue();
        assertThat(gen.get(0).getStruct(1).getInt(3)).isEqualTo(4);
        assertThat(gen.get(1).getStruct(1).isNullAt(0)).isTrue();
        assertThat(gen.get(1).getStruct(1).getString(5)).contains("prompt column 'prompt' is null");
        assertThat(gen.get(3).getStruct(1).getString(5)).contains("maxTokens");

        Map<Integer, Row> cls = byId(sql.sql("SELECT id, tokenmill_classify(prompt, labels) AS c FROM bad").collectAsList());
        assertThat(cls.get(0).getStruct(1).getString(0)).isIn("a", "b");
        assertThat(cls.get(0).getStruct(1).isNullAt(2)).isTrue();
        for (int bad : new int[] {1, 2, 3, 4}) {
            Row c = cls.get(bad).getStruct(1);
            assertThat(c.isNullAt(0)).as("label of row %d", bad).isTrue();
            assertThat(c.isNullAt(1)).isTrue();
            assertThat(c.getString(2)).as("error of row %d", bad).isNotBlank();
        }
        assertThat(cls.get(2).getStruct(1).getString(2)).contains("distinct");
        assertThat(cls.get(4).getStruct(1).getString(2)).contains("labels are null");
    }

    /** Every value bounded, so that the JSON ends well within maxTokens. */
    static final String PERSON = """
            {"type": "object",
             "properties": {"name": {"type": "string", "maxLength": 6}, "age": {"type": "integer", "minimum": 0, "maximum": 120},
                            "born": {"type": "string", "format": "date"}, "tags": {"type": "array", "items": {"enum": ["x", "y"]}, "maxItems": 2}},
             "required": ["name", "age", "born", "tags"], "additionalProperties": false}""";

    @Test
    void extractReturnsTheSchemasTypedStructEqualToTheGeneratedJson() throws Exception {
        sql.conf().set("spark.tokenmill.maxTokens", "200");
        try {
            Dataset<Row> df = sql.sql("SELECT id, r.name, r.age, r.born, r.tags, g.text AS json, g.finish_reason AS f FROM (SELECT id, "
                    + "tokenmill_extract(prompt, '" + PERSON + "') AS r, tokenmill_generate(prompt, map('jsonSchema', '" + PERSON + "')) AS g FROM t)");
            assertThat(df.schema().simpleString())
                    .isEqualTo("struct<id:int,name:string,age:bigint,born:date,tags:array<string>,json:string,f:string>");
            List<Row> rows = df.collectAsList();
            assertThat(rows).hasSize(texts.size());
            int typed = 0;
            for (Row r : rows) {
                if (r.isNullAt(1)) { // the JSON was cut short by maxTokens (the random model pads it with whitespace)
                    assertThat(r.getString(6)).as("row %s", r).isEqualTo("length");
                    continue;
                }
                typed++;
                // the same greedy request as generate's: the typed fields are the generated JSON's
                JsonNode json = new ObjectMapper().readTree(r.getString(5));
                assertThat(r.getString(1)).isEqualTo(json.get("name").asText());
                assertThat(r.getLong(2)).isEqualTo(json.get("age").asLong());
                assertThat(r.getDate(3).toLocalDate().toString()).isEqualTo(json.get("born").asText());
                List<String> tags = new ArrayList<>();
                json.get("tags").forEach(t -> tags.add(t.asText()));
                assertThat(r.<String>getList(4)).isEqualTo(tags);
            }
            assertThat(typed).as("rows with a typed value").isGreaterThan(texts.size() / 2);
        } finally {
            sql.conf().unset("spark.tokenmill.maxTokens");
        }
    }

    @Test
    void anInvalidSchemaIsAnAnalysisErrorForExtractAndARowErrorPerRow() {
        assertThatThrownBy(() -> sql.sql("SELECT tokenmill_extract(prompt, '{\"type\": \"object\", \"patternProperties\": {}}') FROM t"))
                .isInstanceOf(AnalysisException.class).hasMessageContaining("JSON schema");
        assertThatThrownBy(() -> sql.sql("SELECT tokenmill_extract(prompt, prompt) FROM t"))
                .isInstanceOf(AnalysisException.class).hasMessageContaining("constant string");
        // per row, through generate's jsonSchema option: the bad schema fails its row only
        Map<Integer, Row> rows = byId(sql.sql("SELECT id, tokenmill_generate(prompt, map('maxTokens', '200', 'jsonSchema', "
                + "CASE WHEN id = 1 THEN '{\"type\": \"nope\"}' ELSE '{\"enum\": [\"a\", \"b\"]}' END)) AS r FROM t").collectAsList());
        assertThat(rows.get(1).getStruct(1).isNullAt(0)).isTrue();
        assertThat(rows.get(1).getStruct(1).getString(5)).isNotBlank();
        for (int id = 0; id < texts.size(); id++) {
            if (id == 1) continue;
            Row res = rows.get(id).getStruct(1);
            assertThat(res.isNullAt(5)).as("error of row %d: %s", id, res).isTrue();
            assertThat(res.getString(0)).isIn("\"a\"", "\"b\"");
        }
        // extract's own failed rows: null, the others typed
        Map<Integer, Row> extracted = byId(sql.sql("SELECT id, tokenmill_extract(CASE WHEN id = 2 THEN NULL ELSE prompt END, '"
                + PERSON + "', map('maxTokens', '200')) AS r FROM t").collectAsList());
        assertThat(extracted.get(2).isNullAt(1)).isTrue();
        assertThat(extracted.get(0).isNullAt(1)).isFalse();
    }

    @Test
    void aMissingModelIsAnAnalysisErrorNamingTheSetting() {
        SparkSession bare = sql.newSession();
        bare.sql("SELECT 'the cat' AS prompt").createOrReplaceTempView("one");
        assertThatThrownBy(() -> bare.sql("SELECT tokenmill_generate(prompt) FROM one"))
                .isInstanceOf(AnalysisException.class).hasMessageContaining("spark.tokenmill.model");
        assertThatThrownBy(() -> bare.sql("SELECT tokenmill_generate(prompt, map('model', '" + model + "', 'model_size', '1', 'maxTokens', 'x')) FROM one"))
                .isInstanceOf(AnalysisException.class).hasMessageContaining("maxTokens");
        assertThatThrownBy(() -> bare.sql("SELECT tokenmill_generate(prompt, map('model', prompt)) FROM one"))
                .isInstanceOf(AnalysisException.class).hasMessageContaining("'model' must be a constant");
    }

    @Test
    void registerFunctionsEnablesThemInARunningSession() {
        SparkSession late = shared.newSession();
        assertThatThrownBy(() -> late.sql("SELECT tokenmill_generate('the cat')")).isInstanceOf(AnalysisException.class);
        Tokenmill.registerFunctions(late);
        Tokenmill.registerFunctions(late); // twice: no second rule or strategy
        late.conf().set("spark.tokenmill.model", model);
        late.conf().set("spark.tokenmill.threads", "2");
        prompts(late, texts).createOrReplaceTempView("t");
        Dataset<Row> df = late.sql("SELECT id, tokenmill_generate(prompt, map('maxTokens', '3', 'temperature', '0')) AS r FROM t");
        assertThat(df.queryExecution().sparkPlan().toString()).contains("TokenmillEval");
        List<Row> rows = df.collectAsList();
        assertThat(rows).hasSize(texts.size()).allSatisfy(r -> assertThat(r.getStruct(1).getInt(3)).isEqualTo(3));
        assertThat(late.experimental().extraOptimizations().size()).isEqualTo(1);
        assertThat(late.experimental().extraStrategies().size()).isEqualTo(1);
    }

    @Test
    void aGroupByOverTheCallsResultsGoesThroughAShuffleAndAdaptivePlanning() {
        String classify = "tokenmill_classify(prompt, array('yes', 'no', 'maybe')).label";
        Map<String, Long> perRow = new HashMap<>();
        for (Row r : sql.sql("SELECT " + classify + " AS label FROM t").collectAsList()) perRow.merge(r.getString(0), 1L, Long::sum);
        Map<String, Long> grouped = new HashMap<>();
        for (Row r : sql.sql("SELECT " + classify + " AS label, count(*) AS n FROM t GROUP BY 1").collectAsList()) {
            grouped.put(r.getString(0), r.getLong(1));
        }
        assertThat(grouped).isEqualTo(perRow);
    }

    @Test
    void aJoinTakesACallOverOneSideAndRefusesOneOverBoth() {
        long n = sql.sql("SELECT a.id FROM t a JOIN t b ON a.id = b.id AND tokenmill_classify(a.prompt, array('x', 'y')).label = 'x'").count();
        long expected = sql.sql("SELECT tokenmill_classify(prompt, array('x', 'y')).label AS l FROM t").where("l = 'x'").count();
        assertThat(n).isEqualTo(expected);
        assertThatThrownBy(() -> sql.sql("SELECT a.id FROM t a JOIN t b ON tokenmill_generate(concat(a.prompt, b.prompt)).text = b.prompt").count())
                .hasStackTraceContaining("tokenmill functions can only read one input");
    }

    @Test
    void theDataFrameApiCallsTheFunctionsByName() {
        Dataset<Row> df = sql.table("t").select(col("id"), call_function("tokenmill_classify", col("prompt"), array(lit("a"), lit("b")),
                map(lit("maxTokens"), col("n").cast("string"))).as("c"));
        assertThat(df.queryExecution().sparkPlan().toString()).contains("TokenmillEval");
        assertThat(df.collectAsList()).hasSize(texts.size()).allSatisfy(r -> assertThat(r.getStruct(1).getString(0)).isIn("a", "b"));
    }

    @Test
    void aCallOverAnotherCallRunsBothInOrder() {
        List<Row> rows = sql.sql("SELECT id, tokenmill_generate(tokenmill_generate(prompt, map('maxTokens', '3')).text, map('maxTokens', '2')) AS r FROM t")
                .collectAsList();
        assertThat(rows).hasSize(texts.size()).allSatisfy(r -> {
            assertThat(r.getStruct(1).isNullAt(5)).as("row %s", r).isTrue();
            assertThat(r.getStruct(1).getInt(3)).isEqualTo(2);
        });
    }
}
