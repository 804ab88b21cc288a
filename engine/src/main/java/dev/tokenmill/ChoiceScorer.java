package dev.tokenmill;

import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.constrain.Constraint;
import dev.tokenmill.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link Constraint.Choice} request answered by scoring instead of sampling: one request per choice whose prompt is
 * the request's prompt followed by the choice's tokens, with a {@link dev.tokenmill.sample.PromptLogitsSink} on the
 * choice's positions (so the shared prompt can come from the prefix cache: the requests differ only after it). A
 * choice's log-probability is the sum of its tokens' conditional log-probabilities; the probabilities are normalised
 * over the choices, and the result's text is the most probable choice (the first among equals).
 */
final class ChoiceScorer {
    private final Request request;
    private final List<String> choices;
    private final int promptLength;
    private final int[][] choiceIds;
    private final double[][] logprobs; // [choice][token], written by the sinks on compute threads
    private final List<Request> requests = new ArrayList<>();

    ChoiceScorer(Request request, int[] prompt, Tokenizer tokenizer) {
        this.request = request;
        this.choices = ((Constraint.Choice) request.sampling().constraint()).choices();
        this.promptLength = prompt.length;
        this.choiceIds = new int[choices.size()][];
        this.logprobs = new double[choices.size()][];
        for (int c = 0; c < choices.size(); c++) {
            int[] ids = tokenizer.encode(choices.get(c), false, false);
            if (ids.length == 0) throw new RequestException("request " + request.id() + ": choice '" + choices.get(c) + "' encodes to no tokens");
            choiceIds[c] = ids;
            double[] lp = new double[ids.length];
            logprobs[c] = lp;
            int[] all = Arrays.copyOf(prompt, prompt.length + ids.length);
            System.arraycopy(ids, 0, all, prompt.length, ids.length);
            requests.add(Request.tokens(request.id(), all).sampling(SamplingParams.greedy(1)).ignoreEos(true)
                    .timeout(request.timeout())
                    .promptLogits((pos, logits, off, vocab) -> {
                        int j = pos - (promptLength - 1); // row pos predicts token pos + 1
                        if (j >= 0 && j < ids.length) lp[j] = logprob(logits, off, vocab, ids[j]);
                    }, prompt.length - 1)
                    .build());
        }
    }

    List<Request> requests() {
        return requests;
    }

    /** The one result of the request, from the results of its scoring requests (in choice order). */
    Result combine(List<Result> parts) {
        for (Result p : parts) {
            if (p.finishReason() != FinishReason.STOP && p.finishReason() != FinishReason.LENGTH) {
                return new Result(request.id(), "", new int[0], p.finishReason(), p.promptTokens(), 0, p.cachedPromptTokens(),
                        null, null, p.timings(), p.error(), true, null);
            }
        }
        double[] total = new double[choices.size()];
        double max = Double.NEGATIVE_INFINITY;
        int best = 0;
        for (int c = 0; c < total.length; c++) {
            for (double x : logprobs[c]) total[c] += x;
            if (total[c] > max) {
                max = total[c];
                best = c;
            }
        }
        double sum = 0;
        for (double t : total) sum += Math.exp(t - max);
        Map<String, Double> probabilities = new LinkedHashMap<>();
        for (int c = 0; c < total.length; c++) probabilities.put(choices.get(c), Math.exp(total[c] - max) / sum);
        Result b = parts.get(best);
        return new Result(request.id(), choices.get(best), choiceIds[best], FinishReason.STOP, promptLength, choiceIds[best].length,
                Math.min(promptLength, b.cachedPromptTokens()), null, null, b.timings(), null, false, probabilities);
    }

    /** ln softmax(row)[token], in double. */
    private static double logprob(float[] logits, int off, int vocab, int token) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - max);
        return logits[off + token] - max - Math.log(sum);
    }
}
