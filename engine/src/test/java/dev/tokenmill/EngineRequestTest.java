package dev.tokenmill;

import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.tokenizer.ChatMessage;
import dev.tokenmill.sample.SamplingParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** What one request asks for: logprobs, stops, limits, and the errors of requests that cannot be served. */
class EngineRequestTest {
    @TempDir static Path dir;
    static Path modelPath;
    static Engine engine;

    @BeforeAll
    static void open() throws Exception {
        modelPath = TinyEngineModel.write(dir, 21);
        engine = Engine.open(modelPath, TinyEngineModel.exactConfig(128, 4).maxModelLen(96).build());
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    @Test
    void promptLogprobsEqualThoseOfTheRequestAlone() throws Exception {
        int[] prompt = TinyEngineModel.randomPrompt(new Random(1), 90);
        // 90 prompt rows: more than the 64 logit rows of one forward call, so the step runs in two slices
        Request q = Request.tokens("score", prompt).greedy(1).promptLogprobs(2).build();
        Result res = engine.submit(q).join();
        // the reference: the same prompt alone on a one-sequence engine
        double[] expected = new double[prompt.length - 1];
        try (Engine solo = TinyEngineModel.soloEngine(modelPath)) {
            Result alone = solo.submit(q).join();
            for (int i = 0; i < expected.length; i++) expected[i] = alone.promptLogprobs().get(i).logprob();
        }
        assertThat(res.promptLogprobs()).hasSize(prompt.length - 1);
        for (int i = 0; i < expected.length; i++) {
            Result.TokenLogprobs lp = res.promptLogprobs().get(i);
            assertThat(lp.token()).isEqualTo(prompt[i + 1]);
            assertThat(lp.logprob()).as("prompt token %d", i + 1).isEqualTo(expected[i]);
            assertThat(lp.top()).hasSize(2);
            assertThat(lp.top().get(0).logprob()).isGreaterThanOrEqualTo(lp.top().get(1).logprob())
                    .isGreaterThanOrEqualTo(lp.logprob() - 1e-6);
        }
        assertThat(res.cachedPromptTokens()).isZero();
    }

    @Test
    void chatMessagesAreRenderedWithTheModelsTemplate() throws Exception {
        GgufWriter w = TinyModel.llama(21).writer(null);
        TinyEngineModel.putVocabulary(w, TinyEngineModel.VOCAB);
        w.putString("tokenizer.chat_template",
                "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] | trim }}\n{% endfor %}"
                        + "{% if add_generation_prompt %}assistant:{% endif %}");
        Path chatModel = dir.resolve("chat.gguf");
        w.write(chatModel);
        try (Engine chat = Engine.open(chatModel, TinyEngineModel.exactConfig(128, 4).build())) {
            Result viaChat = chat.submit(Request.chat("c", List.of(ChatMessage.system("be brief"), ChatMessage.user(" hi ")))
                    .greedy(4).ignoreEos(true).build()).join();
            int[] expectedIds = chat.tokenizer().encode("<s>system: be brief\nuser: hi\nassistant:", false, true);
            Result viaIds = chat.submit(Request.tokens("t", expectedIds).greedy(4).ignoreEos(true).build()).join();
            assertThat(expectedIds[0]).isEqualTo(1); // the template's bos_token, parsed as the control token
            assertThat(viaChat.promptTokens()).isEqualTo(expectedIds.length);
            assertThat(viaChat.tokenIds()).containsExactly(viaIds.tokenIds());
            Result bad = chat.submit(Request.chat("bad", List.of(new ChatMessage("user", null))).build()).join();
            assertThat(bad.finishReason()).isEqualTo(FinishReason.ERROR);
            assertThat(bad.error()).contains("request bad").contains("content");
        }
    }

    @Test
    void promptLogprobsSurviveChunkedPrefill() throws Exception {
        int[] prompt = TinyEngineModel.randomPrompt(new Random(2), 40);
        Result chunked;
        try (Engine small = Engine.open(modelPath, TinyEngineModel.exactConfig(8, 2).build())) {
            chunked = small.submit(Request.tokens("c", prompt).greedy(3).promptLogprobs(0).build()).join();
        }
        Result whole = engine.submit(Request.tokens("w", prompt).greedy(3).promptLogprobs(0).build()).join();
        assertThat(chunked.promptLogprobs()).isEqualTo(whole.promptLogprobs());
        assertThat(chunked.tokenIds()).containsExactly(whole.tokenIds());
    }

    @Test
    void logprobsGiveTheChosenTokenAndTheBestAlternatives() {
        int[] prompt = TinyEngineModel.randomPrompt(new Random(3), 10);
        Result res = engine.submit(Request.tokens("lp", prompt).greedy(6).ignoreEos(true).logprobs(3).build()).join();
        assertThat(res.logprobs()).hasSize(6);
        for (int i = 0; i < 6; i++) {
            Result.TokenLogprobs lp = res.logprobs().get(i);
            assertThat(lp.token()).isEqualTo(res.tokenIds()[i]);
            assertThat(lp.top()).hasSize(3);
            // greedy: the chosen token is the most likely one
            assertThat(lp.top().get(0).token()).isEqualTo(lp.token());
            assertThat(lp.top().get(0).logprob()).isCloseTo(lp.logprob(), within(1e-9));
            assertThat(lp.logprob()).isNegative();
            assertThat(lp.top().get(1).logprob()).isLessThanOrEqualTo(lp.top().get(0).logprob());
            assertThat(lp.top().get(2).logprob()).isLessThanOrEqualTo(lp.top().get(1).logprob());
        }
        assertThat(res.promptLogprobs()).isNull();
    }

    @Test
    void stopTokenEndsWithStopAndIsKeptInIdsButNotText() {
        int[] prompt = TinyEngineModel.randomPrompt(new Random(4), 8);
        int[] free = engine.submit(Request.tokens("free", prompt).greedy(10).ignoreEos(true).build()).join().tokenIds();
        int stop = free[3];
        int first = 0;
        while (free[first] != stop) first++;
        SamplingParams params = SamplingParams.greedy(10).toBuilder().stopTokenIds(List.of(stop)).build();
        Result res = engine.submit(Request.tokens("stop", prompt).sampling(params).ignoreEos(true).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(res.tokenIds()).containsExactly(java.util.Arrays.copyOf(free, first + 1));
        assertThat(res.text()).isEqualTo(engine.tokenizer().decode(free, 0, first));
    }

    @Test
    void stopStringCutsTheTextAndEndsWithStop() {
        int[] prompt = TinyEngineModel.randomPrompt(new Random(5), 8);
        Result free = engine.submit(Request.tokens("free", prompt).greedy(12).ignoreEos(true).build()).join();
        String text = free.text();
        assertThat(text.length()).isGreaterThan(4);
        String stop = text.substring(text.length() / 2, text.length() / 2 + 2);
        SamplingParams params = SamplingParams.greedy(12).toBuilder().stopStrings(List.of(stop)).build();
        Result res = engine.submit(Request.tokens("stop", prompt).sampling(params).ignoreEos(true).build()).join();
        assertThat(res.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(res.text()).isEqualTo(text.substring(0, text.indexOf(stop)));
        assertThat(res.tokenIds().length).isLessThanOrEqualTo(free.tokenIds().length);
    }

    @Test
    void minTokensKeepsEndOfGenerationOut() {
        // find a prompt whose free greedy continuation hits EOS early
        Random r = new Random(6);
        for (int attempt = 0; attempt < 200; attempt++) {
            int[] prompt = TinyEngineModel.randomPrompt(r, 6);
            Result free = engine.submit(Request.tokens("eos", prompt).greedy(8).build()).join();
            if (free.finishReason() != FinishReason.STOP) continue;
            assertThat(free.tokenIds()[free.tokenIds().length - 1]).isEqualTo(TinyEngineModel.EOS);
            Result min = engine.submit(Request.tokens("min", prompt).greedy(8).minTokens(8).build()).join();
            assertThat(min.tokenIds()).hasSize(8).doesNotContain(TinyEngineModel.EOS);
            assertThat(min.finishReason()).isEqualTo(FinishReason.LENGTH);
            return;
        }
        throw new AssertionError("no prompt of 200 stopped at EOS within 8 tokens; the test model changed");
    }

    @Test
    void textPromptIsTokenizedWithBos() {
        Result res = engine.submit(Request.text("t", "hello world").greedy(4).ignoreEos(true).build()).join();
        assertThat(res.promptTokens()).isEqualTo(engine.tokenizer().encode("hello world", true, true).length);
        assertThat(res.tokenIds()).hasSize(4);
        assertThat(res.text()).isEqualTo(engine.tokenizer().decode(res.tokenIds()));
        assertThat(res.timings().queueMs()).isGreaterThanOrEqualTo(0);
    }

    @Test
    void oversizedRequestFailsAloneWithAClearError() {
        Random r = new Random(7);
        List<Request> requests = new ArrayList<>();
        requests.add(Request.tokens("ok1", TinyEngineModel.randomPrompt(r, 10)).greedy(5).ignoreEos(true).build());
        requests.add(Request.tokens("huge", TinyEngineModel.randomPrompt(r, 97)).greedy(5).build());
        requests.add(Request.tokens("ok2", TinyEngineModel.randomPrompt(r, 10)).greedy(5).ignoreEos(true).build());
        requests.add(Request.tokens("cut", TinyEngineModel.randomPrompt(r, 120)).greedy(5).ignoreEos(true).truncateLeft(true).build());
        List<Result> results = engine.generate(requests);
        assertThat(results.get(1).finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(results.get(1).error()).contains("huge", "97 tokens", "96");
        assertThat(results.get(1).tokenIds()).isEmpty();
        for (int i : new int[] {0, 2, 3}) {
            assertThat(results.get(i).error()).isNull();
            assertThat(results.get(i).tokenIds()).hasSize(5);
        }
        assertThat(results.get(3).promptTokens()).isLessThan(120).isLessThanOrEqualTo(96 - 5);
    }

    @Test
    void aRequestWhoseTokenCannotBeDecodedFailsAloneAndTheEngineGoesOn() throws Exception {
        Random r = new Random(9);
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            SamplingParams params = SamplingParams.greedy(16).toBuilder().stopStrings(i % 2 == 0 ? List.of("?!?!") : List.of()).build();
            requests.add(Request.tokens("q" + i, TinyEngineModel.randomPrompt(r, 5 + i % 7)).sampling(params).ignoreEos(true).build());
        }
        // the same model with a tokenizer that lacks the highest token these requests generate: the requests that
        // generate it cannot be turned into text
        int highest = engine.generate(requests).stream().flatMapToInt(res -> java.util.Arrays.stream(res.tokenIds())).max().orElseThrow();
        Path p = TinyEngineModel.write(dir, 21, highest);
        try (Engine e = Engine.open(p, TinyEngineModel.exactConfig(64, 8).build())) {
            List<Result> results = e.generate(requests);
            int failed = 0;
            for (Result res : results) {
                boolean undecodable = java.util.Arrays.stream(res.tokenIds()).anyMatch(t -> t == highest);
                if (undecodable) {
                    failed++;
                    assertThat(res.finishReason()).isEqualTo(FinishReason.ERROR);
                    assertThat(res.error()).contains(res.id());
                } else {
                    assertThat(res.error()).isNull();
                    assertThat(res.tokenIds()).hasSize(16);
                }
            }
            assertThat(failed).as("requests that generated token %d", highest).isBetween(1, requests.size() - 1);
            assertThat(e.submit(Request.tokens("after", 5, 6).greedy(2).ignoreEos(true).build()).join().tokenIds()).hasSize(2);
        }
    }

    @Test
    void badRequestsFailAloneWithAnErrorNamingThem() {
        assertErrorResult(Request.text("n", null).build(), "request n", "null prompt");
        assertErrorResult(Request.tokens("e").build(), "request e", "empty");
        assertErrorResult(Request.tokens("l", 5).logprobs(50).build(), "logprobs", "50");
        assertErrorResult(Request.tokens("m", 5).greedy(3).minTokens(4).build(), "minTokens");
        assertErrorResult(Request.tokens("v", 5, 64).build(), "promptTokenIds[1] = 64", "vocabulary");
        assertErrorResult(Request.chat("c", List.of(ChatMessage.user("hi"))).build(), "tokenizer.chat_template");
        assertErrorResult(Request.tokens("t", 5).sampling(SamplingParams.builder().temperature(Float.NaN).buildUnchecked()).build(),
                "request t", "temperature");
        assertThatThrownBy(() -> engine.submit(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> engine.generate(null)).isInstanceOf(IllegalArgumentException.class);
        // one bad request in a list: the others run, results stay in input order
        List<Request> mixed = java.util.Arrays.asList(Request.tokens("fine", 5).greedy(2).ignoreEos(true).build(),
                Request.tokens("bad", 99).build(), null);
        List<Result> results = engine.generate(mixed);
        assertThat(results).extracting(Result::id).containsExactly("fine", "bad", "#2");
        assertThat(results.get(0).finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(results.get(0).tokenIds()).hasSize(2);
        assertThat(results.get(1).finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(results.get(1).error()).contains("request bad").contains("99");
        assertThat(results.get(2).error()).contains("null");
    }

    private void assertErrorResult(Request request, String... messageParts) {
        Result r = engine.submit(request).join();
        assertThat(r.id()).isEqualTo(request.id());
        assertThat(r.finishReason()).isEqualTo(FinishReason.ERROR);
        assertThat(r.isError()).isTrue();
        for (String part : messageParts) assertThat(r.error()).contains(part);
    }

    @Test
    void configOptionsAreValidatedByName() {
        assertThatThrownBy(() -> EngineConfig.builder().maxSeqs(0).build()).hasMessageContaining("maxSeqs");
        assertThatThrownBy(() -> EngineConfig.builder().maxSeqs(100).maxBatchTokens(50).build()).hasMessageContaining("maxSeqs (100)");
        assertThatThrownBy(() -> EngineConfig.builder().kvCacheBytes(-1).build()).hasMessageContaining("kvCacheBytes");
        assertThatThrownBy(() -> EngineConfig.builder().threads(0).build()).hasMessageContaining("threads");
        assertThatThrownBy(() -> Engine.open(modelPath, EngineConfig.builder().device(EngineConfig.Device.CUDA).build()))
                .hasMessageContaining("cuda");
        assertThatThrownBy(() -> Engine.open(modelPath, EngineConfig.builder().maxModelLen(1000).build()))
                .hasMessageContaining("maxModelLen").hasMessageContaining("256");
        assertThatThrownBy(() -> Engine.open(modelPath, EngineConfig.builder().kvCacheBytes(10).build()))
                .hasMessageContaining("kvCacheBytes");
    }
}
