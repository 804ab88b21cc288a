package dev.tokenmill.cli;

import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.Engine;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tokenmill score}: prints {@code {"ids":[...],"logprobs":[...]}} where {@code logprobs[i] = ln P(ids[i+1] |
 * ids[0..i])}: the text runs through the engine as one request that asks for its prompt logprobs.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = {"Log-probability of every next token of a text under the model.", PromptSource.HELP})
final class ScoreCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF model file")
    Path model;

    @ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = {"--text", "--prompt"}, paramLabel = "TEXT", description = "text to score (tokenized with BOS/special tokens as the model wants); - reads standard input")
        String text;

        @Option(names = {"--text-file", "--prompt-file"}, paramLabel = "FILE", description = "read the text from this file (verbatim)")
        Path textFile;

        @Option(names = "--ids", split = ",", hidden = true, description = "token ids to score instead of text")
        int[] ids;
    }

    @Option(names = "--threads", description = "compute threads (default: available processors)")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        int[] ids;
        int ctx;
        try (Model m = ModelLoader.load(model)) {
            ids = input.ids != null ? input.ids : PromptText.encode(m, PromptSource.read(input.text, input.textFile, System.in));
            ctx = m.config().contextLength();
        }
        if (ids.length == 0) throw new Cli.UserException("nothing to score: the text has no tokens");
        if (ids.length > ctx) throw new Cli.UserException("the text has " + ids.length + " tokens, the model's context is " + ctx);
        double[] lp = new double[ids.length - 1];
        try (Engine engine = PromptText.singleSequenceEngine(model, ids.length, threads)) {
            Result r = engine.submit(Request.tokens("score", ids).greedy(1).ignoreEos(true).promptLogprobs(0).build()).join();
            if (r.isError()) throw new Cli.UserException(model + ": " + r.error());
            for (int i = 0; i < lp.length; i++) lp[i] = r.promptLogprobs().get(i).logprob();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("ids", ids);
        out.put("logprobs", lp);
        Cli.printJson(spec.commandLine().getOut(), out);
        return 0;
    }
}
