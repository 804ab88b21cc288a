package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Structured output through the connector: every constraint kind, per-row constraint columns, choice probabilities
 * and the parseJson column, on the Transformer, mapPartitions and DataSource paths. The model's weights are random,
 * so its text is nonsense, but a row that finished with {@code stop} must satisfy its constraint.
 */
class StructuredOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Every value bounded, so that generation ends well within maxTokens. */
    static final String PERSON = """
            {"type": "object",
             "properties": {
               "name": {"type": "string", "maxLength": 6},
               "age": {"type": "integer", "minimum": 0, "maximum": 120},
               "status": {"enum": ["open", "closed"]},
               "born": {"type": "string", "format": "date"},
               "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
               "address": {"$ref": "#/$defs/address"}
             },
             "required": ["name", "age", "status", "born", "tags", "address"],
             "$defs": {"address": {"type": "object",
                        "properties": {"zip": {"type": "integer", "minimum": 10000, "maximum": 99999}, "city": {"enum": ["paris", "rome"]}},
                        "required": ["zip", "city"]}}}""";
    static final String REGEX = "[a-z]{1,5}-[0-9]{2}";
    static final String GRAMMAR = "root ::= (\"yes\" | \"no\") \" \" [0-9] [0-9]?";

    private static SparkSession spark;
    private static String model;

    @BeforeAll
    static void start() {
        spark = SparkTestSession.get();
        model = TestModels.tiny().toString();
    }

    static Dataset<Row> prompts(int n) {
        return TokenmillTransformerTest.prompts(TestPrompts.words(n, 21), 2);
    }

    static TokenmillTransformer transformer() {
        return new TokenmillTransformer().setModel(model).setTemperature(0.8).setSeed(3).setMaxTokens(300).setThreads(2);
    }

    static Row result(Row r) {
        return r.getStruct(r.fieldIndex("result"));
    }

    static String text(Row result) {
        return result.getString(result.fieldIndex("text"));
    }

    static String finish(Row result) {
        return result.getString(result.fieldIndex("finish_reason"));
    }

    static String error(Row result) {
        return result.getString(result.fieldIndex("error"));
    }

    @Test
    void regexGrammarAndJsonObjectOutputsSatisfyTheirConstraint() throws Exception {
        Dataset<Row> in = prompts(6);
        List<Row> regex = transformer().setRegex(REGEX).transform(in).collectAsList();
        assertThat(regex).hasSize(6).allSatisfy(r -> {
            assertThat(error(result(r))).isNull();
            assertThat(finish(result(r))).isEqualTo("stop");
            assertThat(text(result(r))).matches(REGEX);
        });
        assertThat(result(regex.getFirst()).schema().fieldNames()).doesNotContain("choice_probabilities");

        List<Row> grammar = transformer().setGrammar(GRAMMAR).transform(in).collectAsList();
        assertThat(grammar).hasSize(6).allSatisfy(r -> {
            assertThat(finish(result(r))).isEqualTo("stop");
            assertThat(text(result(r))).matches("(yes|no) [0-9][0-9]?");
        });

        List<Row> objects = transformer().setJsonObject(true).setMaxTokens(60).transform(in).collectAsList();
        assertThat(objects).hasSize(6).allSatisfy(r -> {
            assertThat(error(result(r))).isNull();
            if (finish(result(r)).equals("stop")) assertThat(JSON.readTree(text(result(r))).isObject()).isTrue();
            else assertThat(finish(result(r))).isEqualTo("length");
        });
    }

    @Test
    void choicesPickTheMostProbableAndReturnEveryChoicesProbability() {
        List<Row> out = transformer().setChoices("red", "green", "blue").transform(prompts(5)).collectAsList();
        assertThat(out).hasSize(5).allSatisfy(r -> {
            Row res = result(r);
            assertThat(error(res)).isNull();
            Map<String, Double> p = res.getJavaMap(res.fieldIndex("choice_probabilities"));
            assertThat(p).containsOnlyKeys("red", "green", "blue");
            assertThat(p.values().stream().mapToDouble(Double::doubleValue).sum()).isCloseTo(1.0, within(1e-6));
            String best = p.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            assertThat(text(res)).isEqualTo(best);
        });
        assertThat(result(out.getFirst()).schema().fieldNames()).endsWith("latency_ms", "choice_probabilities");
    }

    @Test
    void jsonSchemaWithParseJsonAddsATypedColumnEqualToTheGeneratedJson() throws Exception {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType)
                .add("maxTokens", DataTypes.IntegerType);
        List<String> texts = TestPrompts.words(6, 5);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, i == 4 ? null : texts.get(i), i == 5 ? 3 : null));
        Dataset<Row> in = spark.createDataFrame(rows, schema).coalesce(1);

        Dataset<Row> df = transformer().setJsonSchema(PERSON).setParseJson(true).transform(in);
        assertThat(df.schema().fieldNames()).containsExactly("id", "prompt", "maxTokens", "result", "result_json");
        assertThat(df.schema().apply("result_json").dataType()).isEqualTo(JsonSchemaTypes.toSparkType(PERSON));
        List<Row> out = df.orderBy("id").collectAsList();

        for (Row r : out.subList(0, 4)) {
            Row res = result(r);
            assertThat(error(res)).isNull();
            assertThat(finish(res)).as("row %s", r).isEqualTo("stop");
            JsonNode j = JSON.readTree(text(res));
            Row typed = r.getStruct(4);
            assertThat(typed.getString(0)).isEqualTo(j.get("name").asText());
            assertThat(typed.getLong(1)).isEqualTo(j.get("age").asLong()).isBetween(0L, 120L);
            assertThat(typed.getString(2)).isEqualTo(j.get("status").asText()).isIn("open", "closed");
            assertThat(typed.getDate(3).toLocalDate()).isEqualTo(LocalDate.parse(j.get("born").asText()));
            List<String> tags = new ArrayList<>();
            j.get("tags").forEach(t -> tags.add(t.asText()));
            assertThat(typed.<String>getList(4)).isEqualTo(tags);
            Row address = typed.getStruct(5);
            assertThat(address.getLong(0)).isEqualTo(j.get("address").get("zip").asLong());
            assertThat(address.getString(1)).isEqualTo(j.get("address").get("city").asText()).isIn("paris", "rome");
        }
        // a row that failed, and a row cut short by its maxTokens: no typed value
        assertThat(error(result(out.get(4)))).contains("prompt column 'prompt' is null");
        assertThat(out.get(4).isNullAt(4)).isTrue();
        assertThat(finish(result(out.get(5)))).isEqualTo("length");
        assertThat(error(result(out.get(5)))).isNull();
        assertThat(out.get(5).isNullAt(4)).isTrue();

        // the column can be named
        assertThat(transformer().setJsonSchema(PERSON).setParseJson(true).setJsonColumn("person").transformSchema(in.schema())
                .fieldNames()).endsWith("result", "person");
    }

    @Test
    void perRowConstraintColumnsOverrideTheOptionsAndABadOneFailsOnlyItsRow() throws Exception {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("prompt", DataTypes.StringType)
                .add("regex", DataTypes.StringType).add("choices", DataTypes.createArrayType(DataTypes.StringType))
                .add("jsonSchema", DataTypes.StringType).add("grammar", DataTypes.StringType);
        String small = "{\"type\": \"object\", \"properties\": {\"ok\": {\"type\": \"boolean\"}}, \"required\": [\"ok\"]}";
        List<Object[]> v = List.of(
                new Object[] {0, null, null, null, null},                                  // the options' regex
                new Object[] {null, List.of("yes", "no"), null, null, null},
                new Object[] {null, null, small, null, null},
                new Object[] {null, null, null, GRAMMAR, null},
                new Object[] {"x[ab]{2}", null, null, null, null},
                new Object[] {"x[ab]{2}", List.of("yes", "no"), null, null, null},         // two constraints
                new Object[] {"[a-", null, null, null, null},                              // invalid regex
                new Object[] {null, null, "{\"type\": \"string\", \"pattern\": \"a+\"}", null, null}, // unsupported keyword
                new Object[] {null, List.of("yes", "yes"), null, null, null});             // a choice twice
        List<String> texts = TestPrompts.words(v.size(), 8);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            Object[] c = v.get(i);
            rows.add(RowFactory.create(i, texts.get(i), c[0] instanceof Integer ? null : c[0], c[1], c[2], c[3]));
        }
        Dataset<Row> in = spark.createDataFrame(rows, schema).repartition(2);
        List<Row> out = transformer().setRegex("[0-9]{3}").transform(in).orderBy("id").collectAsList();
        Map<Integer, Row> byId = new HashMap<>();
        for (Row r : out) byId.put(r.getInt(0), r.getStruct(6));

        for (int i = 0; i <= 4; i++) {
            assertThat(error(byId.get(i))).as("row %d", i).isNull();
            assertThat(finish(byId.get(i))).as("row %d", i).isEqualTo("stop");
        }
        assertThat(text(byId.get(0))).matches("[0-9]{3}");
        assertThat(text(byId.get(1))).isIn("yes", "no");
        Row choiceRow = byId.get(1);
        assertThat(choiceRow.<String, Double>getJavaMap(choiceRow.fieldIndex("choice_probabilities"))).containsOnlyKeys("yes", "no");
        assertThat(byId.get(0).isNullAt(byId.get(0).fieldIndex("choice_probabilities"))).isTrue();
        assertThat(JSON.readTree(text(byId.get(2))).get("ok").isBoolean()).isTrue();
        assertThat(text(byId.get(3))).matches("(yes|no) [0-9][0-9]?");
        assertThat(text(byId.get(4))).matches("x[ab]{2}");

        for (int i = 5; i <= 8; i++) {
            assertThat(text(byId.get(i))).as("row %d", i).isNull();
            assertThat(finish(byId.get(i))).isEqualTo("error");
        }
        assertThat(error(byId.get(5))).contains("at most one constraint").contains("regex").contains("choices");
        assertThat(error(byId.get(6))).contains("regex /[a-/").contains("unterminated character class");
        assertThat(error(byId.get(7))).contains("'pattern'");
        assertThat(error(byId.get(8))).contains("'choices'").contains("twice");
    }

    @Test
    void mapPartitionsEntryPointTakesTheConstraintOptions() {
        Dataset<Row> in = prompts(4);
        Map<String, String> options = Map.of("model", model, "threads", "2", "maxTokens", "200", "temperature", "0",
                "choices", "[\"alpha\", \"beta\"]", "jsonColumn", "unused");
        StructType outSchema = Tokenmill.outputSchema(in.schema(), options);
        List<Row> out = in.mapPartitions(Tokenmill.partitionFunction(in.schema(), options), Encoders.row(outSchema)).collectAsList();
        assertThat(out).hasSize(4).allSatisfy(r -> {
            assertThat(text(result(r))).isIn("alpha", "beta");
            assertThat(result(r).<String, Double>getJavaMap(result(r).fieldIndex("choice_probabilities"))).containsOnlyKeys("alpha", "beta");
        });
    }

    @Test
    void badConstraintOptionsFailOnTheDriverNamingTheOption() {
        Dataset<Row> in = prompts(2);
        assertThatThrownBy(() -> transformer().setRegex("a+").setGrammar("root ::= \"a\"").transform(in))
                .hasMessageContaining("'regex'").hasMessageContaining("'grammar'").hasMessageContaining("at most one constraint");
        assertThatThrownBy(() -> transformer().setRegex("a+").setParseJson(true).transform(in))
                .hasMessageContaining("'parseJson'").hasMessageContaining("'jsonSchema'");
        assertThatThrownBy(() -> transformer().setJsonSchema("{\"type\": \"string\", \"pattern\": \"a\"}").setParseJson(true).transform(in))
                .hasMessageContaining("'jsonSchema'").hasMessageContaining("'pattern'");
        assertThatThrownBy(() -> transformer().setJsonSchema("{\"type\": ").transform(in))
                .hasMessageContaining("'jsonSchema'").hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> transformer().setRegex("(a|b").transform(in))
                .hasMessageContaining("tokenmill option 'regex': regex /(a|b/");
        assertThatThrownBy(() -> transformer().setGrammar("root ::= missing").transform(in))
                .hasMessageContaining("tokenmill option 'grammar'");
        assertThatThrownBy(() -> transformer().setJsonSchema("{\"type\": \"string\", \"pattern\": \"a\"}").transform(in))
                .hasMessageContaining("tokenmill option 'jsonSchema'").hasMessageContaining("'pattern'");
        assertThatThrownBy(() -> transformer().setChoices("a", "a").transform(in))
                .hasMessageContaining("'choices'").hasMessageContaining("twice");
        assertThatThrownBy(() -> transformer().setRegex("a+").setStop("\n").transform(in))
                .hasMessageContaining("stop strings cannot be combined with a regex constraint");
        assertThatThrownBy(() -> Tokenmill.outputSchema(in.schema(), Map.of("model", model, "choices", "[\"a\", 1")))
                .hasMessageContaining("'choices'");
        assertThatThrownBy(() -> Tokenmill.outputSchema(in.schema(), Map.of("model", model, "jsonObject", "yes")))
                .hasMessageContaining("'jsonObject'");
        Dataset<Row> badColumn = in.withColumn("regex", org.apache.spark.sql.functions.lit(3));
        assertThatThrownBy(() -> transformer().transform(badColumn)).hasMessageContaining("column 'regex' must be string");
    }

    @Test
    void dataSourceReadAddsTheTypedJsonColumn(@TempDir Path tmp) throws Exception {
        Path json = tmp.resolve("in.json");
        Files.writeString(json, "{\"id\":1,\"prompt\":\"the cat sat\"}\n{\"id\":2,\"prompt\":\"rain fell\"}\n", StandardCharsets.UTF_8);
        Dataset<Row> df = spark.read().format("tokenmill").option("model", model).option("threads", "2").option("maxTokens", "300")
                .option("seed", "4").option("inputFormat", "json").option("jsonSchema", PERSON).option("parseJson", "true")
                .option("jsonColumn", "person").load(json.toString());
        assertThat(df.schema().fieldNames()).containsExactly("id", "prompt", "result", "person");
        List<Row> rows = df.orderBy("id").collectAsList();
        assertThat(rows).hasSize(2).allSatisfy(r -> {
            assertThat(finish(r.getStruct(2))).isEqualTo("stop");
            JsonNode j = JSON.readTree(text(r.getStruct(2)));
            assertThat(r.getStruct(3).getString(0)).isEqualTo(j.get("name").asText());
            assertThat(r.getStruct(3).getDate(3).toLocalDate()).isEqualTo(LocalDate.parse(j.get("born").asText()));
        });
    }

    @Test
    void dataSourceWriteStoresConstrainedResultsChoiceProbabilitiesAndTheJsonColumn(@TempDir Path tmp) {
        Dataset<Row> in = prompts(6).withColumn("choices",
                org.apache.spark.sql.functions.when(org.apache.spark.sql.functions.col("id").lt(3),
                        org.apache.spark.sql.functions.lit("[\"up\", \"down\"]")));
        Path out = tmp.resolve("out");
        in.write().format("tokenmill").option("model", model).option("threads", "2").option("maxTokens", "200")
                .option("regex", REGEX).option("outputFormat", "parquet").save(out.toString());
        List<Row> rows = spark.read().parquet(out.toString()).orderBy("id").collectAsList();
        assertThat(rows).hasSize(6).allSatisfy(r -> {
            Row res = result(r);
            assertThat(error(res)).isNull();
            assertThat(finish(res)).isEqualTo("stop");
            if (r.getInt(0) < 3) {
                assertThat(text(res)).isIn("up", "down");
                assertThat(res.<String, Double>getJavaMap(res.fieldIndex("choice_probabilities"))).containsOnlyKeys("up", "down");
            } else {
                assertThat(text(res)).matches(REGEX);
                assertThat(res.isNullAt(res.fieldIndex("choice_probabilities"))).isTrue();
            }
        });

        Path typed = tmp.resolve("typed");
        prompts(3).write().format("tokenmill").option("model", model).option("threads", "2").option("maxTokens", "300")
                .option("jsonSchema", PERSON).option("parseJson", "true").option("outputFormat", "parquet").save(typed.toString());
        Dataset<Row> back = spark.read().parquet(typed.toString());
        assertThat(back.schema().apply("result_json").dataType().sameType(JsonSchemaTypes.toSparkType(PERSON))).isTrue();
        assertThat(back.collectAsList()).hasSize(3).allSatisfy(r -> {
            assertThat(finish(result(r))).isEqualTo("stop");
            assertThat(r.getStruct(r.fieldIndex("result_json")).getStruct(5).getString(1)).isIn("paris", "rome");
        });
    }
}
