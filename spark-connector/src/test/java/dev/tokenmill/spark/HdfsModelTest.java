package dev.tokenmill.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/** Models on a real (in-process) HDFS: copied once per host into the cache, then memory-mapped. */
@Tag("slow")
class HdfsModelTest {
    private static MiniDFSCluster dfs;
    private static String hdfsModel;

    @BeforeAll
    static void start() throws Exception {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File("target/minidfs-" + ProcessHandle.current().pid()).getAbsolutePath());
        dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        dfs.waitActive();
        dfs.getFileSystem().copyFromLocalFile(new Path(TestModels.tiny().toString()), new Path("/models/tiny.gguf"));
        hdfsModel = dfs.getURI() + "/models/tiny.gguf";
    }

    @AfterAll
    static void stop() {
        if (dfs != null) dfs.shutdown(true);
    }

    @Test
    void aModelOnHdfsIsCopiedOnceThenUsedAndGivesTheLocalModelsResults(@TempDir java.nio.file.Path cache) throws Exception {
        long copiesBefore = ModelCache.COPIES.get();
        // several threads ask at once: one copies, the others wait on the lock and find the finished file
        var pool = Executors.newFixedThreadPool(4);
        List<Callable<java.nio.file.Path>> asks = java.util.Collections.nCopies(4,
                () -> ModelCache.localFile(hdfsModel, cache.toString(), dfs.getConfiguration(0)));
        var paths = pool.invokeAll(asks).stream().map(f -> {
            try {
                return f.get();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).distinct().toList();
        pool.shutdown();
        assertThat(paths).hasSize(1);
        assertThat(ModelCache.COPIES.get() - copiesBefore).isEqualTo(1);
        assertThat(Files.mismatch(paths.getFirst(), TestModels.tiny())).isEqualTo(-1);
        try (var files = Files.list(cache)) {
            assertThat(files.filter(p -> p.toString().endsWith(".part")).toList()).isEmpty();
        }

        var spark = SparkTestSession.get();
        var in = TokenmillTransformerTest.prompts(TokenmillTransformerTest.words(6, 21), 2);
        var common = Map.of("temperature", "0", "maxTokens", "4", "threads", "2", "modelCacheDir", cache.toString());
        var viaHdfs = new java.util.HashMap<>(common);
        viaHdfs.put("model", hdfsModel);
        var local = new java.util.HashMap<>(common);
        local.put("model", TestModels.tiny().toString());
        List<String> a = Tokenmill.generate(in, viaHdfs).orderBy("id").collectAsList().stream().map(r -> r.getStruct(2).getString(0)).toList();
        List<String> b = Tokenmill.generate(in, local).orderBy("id").collectAsList().stream().map(r -> r.getStruct(2).getString(0)).toList();
        assertThat(a).isEqualTo(b).hasSize(6);
        assertThat(ModelCache.COPIES.get() - copiesBefore).isEqualTo(1);
    }
}
