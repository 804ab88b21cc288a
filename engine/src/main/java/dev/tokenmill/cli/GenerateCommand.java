package dev.tokenmill.cli;

import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.Engine;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import java.util.Arrays;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.constrain.Constraint;
import dev.tokenmill.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tokenmill generate}: continues one prompt and prints
 * {@code {"prompt_ids":[...],"token_ids":[...],"text":"...","finish_reason":"length|stop"}}; with a constraint
 * ({@code --json-schema}, {@code --json-object}, {@code --regex}, {@code --choice}, {@code --grammar}) also
 * {@code "incomplete"}, and for choices {@code "choice_probabilities"}.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prompt with the model.", PromptSource.HELP,
                "Defaults sample (temperature 0.8, random seed); --temperature 0 is greedy and repeatable."})
final class GenerateCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF model file")
    Path model;

    @ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", paramLabel = "TEXT", description = "prompt text (tokenized with BOS/special tokens as the model wants); - reads standard input")
        String prompt;

        @Option(names = "--prompt-file", paramLabel = "FILE", description = "read the prompt from this file (verbatim)")
        Path promptFile;

        @Option(names = "--ids", split = ",", hidden = true, description = "prompt token ids instead of text")
        int[] ids;
    }

    @Option(names = "--max-tokens", defaultValue = "256", description = "most tokens to generate (default ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", description = "0 = greedy (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--seed", defaultValue = "-1", description = "sampling seed; -1 = random (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--top-k", defaultValue = "40", description = "0 = off (default ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "1 = off (default ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", defaultValue = "0.05", description = "0 = off (default ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", defaultValue = "1.0", description = "1 = off (default ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0", description = "0 = off (default ${DEFAULT-VALUE})")
    float presencePenalty;

    @Option(names = "--frequency-penalty", defaultValue = "0", description = "0 = off (default ${DEFAULT-VALUE})")
    float frequencyPenalty;

    @Option(names = "--repeat-last-n", defaultValue = "64", description = "tokens the penalties look back over (default ${DEFAULT-VALUE})")
    int repeatLastN;

    @Option(names = "--stop", description = "stop string (repeatable); the text ends before it")
    List<String> stop = new ArrayList<>();

    @Option(names = "--logits-out", description = "write the logits at the last prompt position here (little-endian float32)")
    Path logitsOut;

    @Option(names = "--threads", description = "compute threads (default: available processors)")
    Integer threads;

    @picocli.CommandLine.Mixin
    ConstraintOptions constraintOptions = new ConstraintOptions();

    @Override
    public Integer call() throws Exception {
        SamplingParams params = SamplingParams.builder().temperature(temperature).seed(seed).topK(topK).topP(topP).minP(minP)
                .repetitionPenalty(repeatPenalty).presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty)
                .penaltyLastN(repeatLastN).maxTokens(maxTokens).stopStrings(stop)
                .constraint(constraintOptions.constraint()).build();
        int[] ids;
        int ctx;
        int longestChoice = 0; // a choice is scored as a continuation of the prompt
        try (Model m = ModelLoader.load(model)) {
            ids = input.ids != null ? input.ids : PromptText.encode(m, PromptSource.read(input.prompt, input.promptFile, System.in));
            ctx = m.config().contextLength();
            if (params.constraint() instanceof Constraint.Choice c) {
                Tokenizer t = Tokenizer.fromGguf(m.gguf());
                for (String choice : c.choices()) longestChoice = Math.max(longestChoice, t.encode(choice, false, false).length);
            }
        }
        if (ids.length == 0) throw new Cli.UserException("the prompt has no tokens");
        if (ids.length >= ctx) {
            throw new Cli.UserException("the prompt has " + ids.length + " tokens, the model's context is " + ctx);
        }
        int maxSeqLen = (int) Math.min(ctx, (long) ids.length + Math.max(maxTokens, longestChoice + 1));
        float[][] lastLogits = new float[1][];
        Request.Builder rb = Request.tokens("generate", ids).sampling(params);
        if (logitsOut != null) {
            rb.promptLogits((pos, logits, off, vocab) -> lastLogits[0] = Arrays.copyOfRange(logits, off, off + vocab), ids.length - 1);
        }
        Result r;
        try (Engine engine = PromptText.singleSequenceEngine(model, maxSeqLen, threads)) {
            r = engine.submit(rb.build()).join();
        }
        if (r.isError()) throw new Cli.UserException(model + ": " + r.error());
        if (logitsOut != null) writeLogits(logitsOut, lastLogits[0]);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("prompt_ids", ids);
        out.put("token_ids", r.tokenIds());
        out.put("text", r.text());
        out.put("finish_reason", r.finishReason().wireName());
        if (params.constraint() != null) out.put("incomplete", r.incomplete());
        if (r.choiceProbabilities() != null) out.put("choice_probabilities", r.choiceProbabilities());
        Cli.printJson(spec.commandLine().getOut(), out);
        return 0;
    }

    private static void writeLogits(Path path, float[] logits) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate(logits.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.asFloatBuffer().put(logits);
        try (OutputStream os = Files.newOutputStream(path)) {
            os.write(bb.array());
        }
    }
}
