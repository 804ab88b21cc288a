package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TensorTypePolicyTest {

    /** A dense llama-shaped model of n layers, F32, with or without an output matrix. */
    private static List<TensorTypePolicy.Tensor> model(int nLayer, long nEmbd, boolean output) {
        List<TensorTypePolicy.Tensor> ts = new ArrayList<>();
        ts.add(new TensorTypePolicy.Tensor("token_embd.weight", new long[] {nEmbd, 1000}, GgmlType.F32));
        for (int l = 0; l < nLayer; l++) {
            String b = "blk." + l + ".";
            ts.add(new TensorTypePolicy.Tensor(b + "attn_norm.weight", new long[] {nEmbd}, GgmlType.F32));
            ts.add(new TensorTypePolicy.Tensor(b + "attn_q.weight", new long[] {nEmbd, nEmbd}, GgmlType.F32));
            ts.add(new TensorTypePolicy.Tensor(b + "attn_v.weight", new long[] {nEmbd, 256}, GgmlType.F32));
            ts.add(new TensorTypePolicy.Tensor(b + "ffn_down.weight", new long[] {1024, nEmbd}, GgmlType.F32));
        }
        ts.add(new TensorTypePolicy.Tensor("output_norm.weight", new long[] {nEmbd}, GgmlType.F32));
        if (output) ts.add(new TensorTypePolicy.Tensor("output.weight", new long[] {nEmbd, 1000}, GgmlType.F32));
        return ts;
    }

    private static Map<String, GgmlType> choose(FileType ft, int nLayer, long nEmbd, boolean output) {
        return TensorTypePolicy.choose(ft, model(nLayer, nEmbd, output), nLayer, false).types();
    }

    @Test
    void useMoreBitsPicksFirstAndLastEighthAndEveryThirdBetween() {
        List<Integer> picked = new ArrayList<>();
        for (int i = 0; i < 16; i++) if (TensorTypePolicy.useMoreBits(i, 16)) picked.add(i);
        assertThat(picked).containsExactly(0, 1, 4, 7, 10, 13, 14, 15);
    }

    @Test
    void q4KMBumpsAttnVAndFfnDownOfTheChosenLayersToQ6K() {
        Map<String, GgmlType> t = choose(FileType.Q4_K_M, 16, 512, true);
        assertThat(t.get("blk.0.attn_v.weight")).isEqualTo(GgmlType.Q6_K);
        assertThat(t.get("blk.2.attn_v.weight")).isEqualTo(GgmlType.Q4_K);
        assertThat(t.get("blk.4.ffn_down.weight")).isEqualTo(GgmlType.Q6_K);
        assertThat(t.get("blk.5.ffn_down.weight")).isEqualTo(GgmlType.Q4_K);
        assertThat(t.get("blk.3.attn_q.weight")).isEqualTo(GgmlType.Q4_K);
        assertThat(t.get("output.weight")).isEqualTo(GgmlType.Q6_K);
        assertThat(t.get("token_embd.weight")).isEqualTo(GgmlType.Q4_K);
        assertThat(t.get("blk.3.attn_norm.weight")).isEqualTo(GgmlType.F32);
    }

    @Test
    void q4KSGivesTheFirstFourAttnVAndFirstEighthOfFfnDownQ5K() {
        Map<String, GgmlType> t = choose(FileType.Q4_K_S, 16, 512, true);
        assertThat(t.get("blk.3.attn_v.weight")).isEqualTo(GgmlType.Q5_K);
        assertThat(t.get("blk.4.attn_v.weight")).isEqualTo(GgmlType.Q4_K);
        assertThat(t.get("blk.1.ffn_down.weight")).isEqualTo(GgmlType.Q5_K);
        assertThat(t.get("blk.2.ffn_down.weight")).isEqualTo(GgmlType.Q4_K);
    }

    @Test
    void tiedEmbeddingsAreTreatedAsTheOutputMatrix() {
        assertThat(choose(FileType.Q4_0, 2, 512, false).get("token_embd.weight")).isEqualTo(GgmlType.Q6_K);
        assertThat(choose(FileType.Q4_0, 2, 512, true).get("token_embd.weight")).isEqualTo(GgmlType.Q4_0);
        assertThat(choose(FileType.Q8_0, 2, 512, false).get("token_embd.weight")).isEqualTo(GgmlType.Q8_0);
    }

    @Test
    void rowsThatAreNotWholeBlocksFallBack() {
        TensorTypePolicy.Choice c = TensorTypePolicy.choose(FileType.Q6_K, model(2, 96, true), 2, false);
        assertThat(c.types().get("blk.0.attn_q.weight")).isEqualTo(GgmlType.Q8_0); // 96 % 256 != 0
        assertThat(c.types().get("output.weight")).isEqualTo(GgmlType.Q8_0);
        assertThat(c.types().get("blk.0.ffn_down.weight")).isEqualTo(GgmlType.Q6_K); // rows of 1024
        assertThat(c.fallbacks()).anyMatch(f -> f.startsWith("blk.0.attn_q.weight"));
        Map<String, GgmlType> q5 = TensorTypePolicy.choose(FileType.Q5_K_M, model(2, 96, true), 2, false).types();
        assertThat(q5.get("blk.0.attn_q.weight")).isEqualTo(GgmlType.Q5_1);
        Map<String, GgmlType> q8 = TensorTypePolicy.choose(FileType.Q8_0, model(2, 40, true), 2, false).types();
        assertThat(q8.get("blk.0.attn_q.weight")).isEqualTo(GgmlType.F16); // llama.cpp has no fallback here
    }

    @Test
    void seventyBAttnVGetsQ5K() {
        Map<String, GgmlType> t = TensorTypePolicy.choose(FileType.Q4_K_S, model(80, 512, true), 80, true).types();
        assertThat(t.get("blk.40.attn_v.weight")).isEqualTo(GgmlType.Q5_K);
    }

    @Test
    void floatFileTypesConvertEveryMatrixAndKeepNorms() {
        Map<String, GgmlType> t = choose(FileType.BF16, 2, 512, true);
        assertThat(t.get("output.weight")).isEqualTo(GgmlType.BF16);
        assertThat(t.get("blk.1.ffn_down.weight")).isEqualTo(GgmlType.BF16);
        assertThat(t.get("output_norm.weight")).isEqualTo(GgmlType.F32);
    }

    @Test
    void fileTypesParseLlamaQuantizesSpellings() {
        assertThat(FileType.parse("q4_k_m")).isEqualTo(FileType.Q4_K_M);
        assertThat(FileType.parse("Q4_K")).isEqualTo(FileType.Q4_K_M);
        assertThat(FileType.parse("Q5_K")).isEqualTo(FileType.Q5_K_M);
        assertThat(FileType.parse("f16").id()).isEqualTo(1);
        assertThat(FileType.parse("BF16").id()).isEqualTo(32);
        assertThat(FileType.byId(15)).isEqualTo(FileType.Q4_K_M);
        assertThatThrownBy(() -> FileType.parse("IQ2_XS")).hasMessageContaining("IQ2_XS").hasMessageContaining("Q6_K");
    }

    @Test
    void allowsQuantizationOnlyForTwoDimensionalWeights() {
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.attn_q.weight", new long[] {64, 64})).isTrue();
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.attn_q.bias", new long[] {64, 64})).isFalse();
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.attn_norm.weight", new long[] {64})).isFalse();
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.attn_q_norm.weight", new long[] {64, 2})).isFalse();
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.ffn_gate_inp.weight", new long[] {64, 8})).isFalse();
        assertThat(TensorTypePolicy.allowsQuantization("blk.0.attn_q.weight", new long[] {64, 1})).isFalse();
    }
}
