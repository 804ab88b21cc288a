package dev.tokenmill.jobs;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The nightly job's configuration, read from YAML or JSON (JSON is YAML too). Every key is documented in the README
 * ("Nightly scoring job"); unknown keys are an error so that a typo never silently changes a night's run.
 *
 * @param model           GGUF file, local or any Hadoop URI (required)
 * @param input           where the rows come from (required)
 * @param key             the column that identifies a row across runs (required)
 * @param task            {@code generate}, {@code classify} or {@code score} (required)
 * @param template        prompt text with {@code {column}} placeholders; or {@code promptColumn}
 * @param promptColumn    the prompt column when there is no template (default {@code prompt})
 * @param systemPrompt    text before every prompt
 * @param labels          classify: the fixed label set, each scored as a continuation of the prompt
 * @param candidatesColumn score: an {@code array<string>} column of candidate answers, each scored as a continuation;
 *                        without it, the log-likelihood of the prompt text itself
 * @param output          the output table's directory: Parquet, partitioned by {@code dt} (required)
 * @param incremental     compute only rows whose (key, prompt, model, parameters) hash changed since the previous run
 * @param options         connector options (maxTokens, temperature, threads, maxSeqs, ...)
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record NightlyConfig(String model, Input input, String key, String task, String template, String promptColumn,
                            String systemPrompt, List<String> labels, String candidatesColumn, String output,
                            boolean incremental, Map<String, String> options) {

    /** @param path a path read by Spark's file sources, or {@code table}; {@code format} parquet, json, csv or text */
    public record Input(String path, String format, String table, Map<String, String> options) {
        public Input {
            options = options == null ? Map.of() : Map.copyOf(options);
        }
    }

    public NightlyConfig {
        options = options == null ? Map.of() : Map.copyOf(options);
        labels = labels == null ? List.of() : List.copyOf(labels);
        require(model, "model");
        require(input, "input");
        require(key, "key");
        require(task, "task");
        require(output, "output");
        if (!List.of("generate", "classify", "score").contains(task)) {
            throw new JobException("config key 'task': expected generate, classify or score, found '" + task + "'");
        }
        if (task.equals("classify") && labels.size() < 2) throw new JobException("config key 'labels': classify needs at least two labels");
        if (template != null && promptColumn != null) throw new JobException("config: give 'template' or 'promptColumn', not both");
    }

    private static void require(Object v, String key) {
        if (v == null) throw new JobException("config key '" + key + "' is required");
    }

    static NightlyConfig read(String path, Configuration hadoopConf) {
        Path p = new Path(path);
        try (InputStream in = p.getFileSystem(hadoopConf).open(p)) {
            ObjectMapper mapper = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
            JsonNode tree = mapper.readTree(in);
            if (tree == null || !tree.isObject()) throw new JobException("expected a map of config keys");
            // unknown keys first: a record is built before Jackson would complain about them
            var known = java.util.Arrays.stream(NightlyConfig.class.getRecordComponents()).map(c -> c.getName()).toList();
            tree.fieldNames().forEachRemaining(k -> {
                if (!known.contains(k)) throw new JobException("unknown config key '" + k + "' (known: " + String.join(", ", known) + ")");
            });
            return mapper.treeToValue(tree, NightlyConfig.class);
        } catch (JobException e) {
            throw new JobException(path + ": " + e.getMessage());
        } catch (ValueInstantiationException e) {
            throw new JobException(path + ": " + (e.getCause() instanceof JobException j ? j.getMessage() : e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new JobException(path + ": " + e.getMessage().lines().findFirst().orElse("unreadable"), e);
        }
    }

    /** The connector options: the config's {@code options} plus the prompt keys and the model. */
    Map<String, String> connectorOptions() {
        Map<String, String> o = new LinkedHashMap<>(options);
        o.put("model", model);
        if (template != null) o.put("template", template);
        if (promptColumn != null) o.put("promptColumn", promptColumn);
        if (systemPrompt != null) o.put("systemPrompt", systemPrompt);
        return o;
    }
}
