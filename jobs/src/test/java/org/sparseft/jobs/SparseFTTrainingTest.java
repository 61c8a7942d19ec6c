package org.sparseft.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.jobs.finetune.FinetuneResult;
import org.sparseft.jobs.finetune.FinetuneSpec;
import org.sparseft.jobs.pretrain.PretrainResult;
import org.sparseft.jobs.pretrain.PretrainSpec;
import org.sparseft.jobs.spec.SpecBinding;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fine-tuning and pretraining through the Java API as a Spark application uses them: specs made by their builders,
 * run on the application's own local session (which the jobs leave running), with the same results as the command
 * line.
 */
class SparseFTTrainingTest {
    @TempDir
    static Path tmp;
    private static SparkSession spark;
    private static final Storage STORAGE = HadoopStorage.withDefaults();
    private static final ModelConfig LLAMA = TinyCheckpoints.llama();

    @BeforeAll
    static void write() throws Exception {
        TinyCheckpoints.write(STORAGE, tmp.resolve("model").toString(), LLAMA, DType.BF16, 0, 7);
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            text.append("Sentence ").append(i % 7).append(" about juries, elections and the city.\n");
        }
        Files.writeString(tmp.resolve("train.txt"), text.toString());
        Files.writeString(tmp.resolve("config.json"), HfConfig.of(LlamaConfig.of(257, 32, 32, 64, 2, 4, 2, true),
                "float32").toJsonText());
    }

    /** The application's session; the command line, run in this JVM, shares it and stops it, so it may restart. */
    private static SparkSession session() {
        if (spark == null || spark.sparkContext().isStopped()) {
            spark = SparkSessions.create("SparseFTTrainingTest", "local[2]", Map.of());
        }
        return spark;
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            SparkSessions.stop(spark);
        }
    }

    private static String path(String name) {
        return tmp.resolve(name).toString();
    }

    private static FinetuneSpec.Builder pst(String out) {
        return FinetuneSpec.builder().model(path("model")).out(path(out)).method(FinetuneSpec.Method.PST)
                .sparsity(0.5).data(path("train.txt")).validation(path("train.txt")).tokenizer("byte").seqlen(16)
                .steps(4).batch(4).partitions(2).evalWindows(4).pstWeightRank(2).pstMaskRank(2);
    }

    @Test
    void finetuneThroughTheApiWritesTheSameBitsAsTheCommandLineAndLeavesTheSessionRunning() throws Exception {
        FinetuneResult r = SparseFT.finetune(session(), pst("api").build());
        assertTrue(!spark.sparkContext().isStopped(), "the caller's session is still running");
        assertEquals(FinetuneSpec.Method.PST, r.method());
        assertEquals("unstructured 0.5", r.target());
        assertEquals(0, r.firstStep());
        assertEquals(4, r.steps());
        assertEquals(LLAMA.prunableWeights().size(), r.linears());
        assertEquals(0.5, r.globalSparsity(), 0.01);
        assertTrue(r.validation() != null && r.validation().after() > 1, String.valueOf(r.validation()));
        assertEquals(STORAGE.qualify(path("api.run")), r.run());
        assertEquals("SparseFT.finetune (Java API)", r.sparsity().provenance().command());
        assertEquals("grad", r.sparsity().provenance().training().sync(), "PST's default");

        Cli cli = Cli.run("finetune", "--model", path("model"), "--out", path("cli"), "--method", "pst",
                "--sparsity", "0.5", "--data", path("train.txt"), "--validation", path("train.txt"), "--tokenizer",
                "byte", "--seqlen", "16", "--steps", "4", "--batch", "4", "--partitions", "2", "--eval-windows", "4",
                "--pst-weight-rank", "2", "--pst-mask-rank", "2", "--master", "local[2]");
        assertEquals(0, cli.exitCode(), cli.toString());
        for (String f : List.of("model.safetensors", "masks.safetensors")) {
            assertArrayEquals(Files.readAllBytes(tmp.resolve("cli").resolve(f)),
                    Files.readAllBytes(tmp.resolve("api").resolve(f)), f);
        }
        assertTrue(cli.out().contains(String.format("validation perplexity %.3f before (dense), %.3f after over 4"
                + " windows", r.validation().before(), r.validation().after())), cli.out());
    }

    @Test
    void pretrainThroughTheApiResumesAFinishedRunToTheSameWeights() throws Exception {
        PretrainSpec.Builder b = PretrainSpec.builder().config(path("config.json")).data(path("train.txt"))
                .out(path("pre")).steps(4).batch(4).seqlen(16).partitions(2).checkpointEvery(2).evalEvery(0)
                .warmup(1).dtype(PretrainSpec.Dtype.BF16);
        PretrainResult first = SparseFT.pretrain(session(), b.build());
        assertTrue(!spark.sparkContext().isStopped(), "the caller's session is still running");
        assertEquals(4L * 4 * 16, first.tokensTrained());
        assertEquals("llama", first.modelType());
        assertNull(first.validation());
        assertEquals("SparseFT.pretrain (Java API)", first.training().command());
        assertEquals("bfloat16", org.sparseft.io.Json.MAPPER.readTree(tmp.resolve("pre/config.json").toFile())
                .get("torch_dtype").asText());
        byte[] weights = Files.readAllBytes(tmp.resolve("pre/model.safetensors"));

        PretrainResult again = SparseFT.pretrain(session(), b.resume(true).force(true).build());
        assertEquals(4, again.firstStep(), "resumed at the final checkpoint");
        assertEquals(0, again.tokensTrained());
        assertEquals(first.finalTrainLoss(), again.finalTrainLoss(), 0.0);
        assertArrayEquals(weights, Files.readAllBytes(tmp.resolve("pre/model.safetensors")));
    }

    @Test
    void settingsMistakesAreRefusedNamingTheirKeyBeforeAnythingRuns() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> pst("x").method(FinetuneSpec.Method.AST).build());
        assertEquals(List.of("method", "pattern", "sparsity"), e.settings());
        assertEquals("--method ast selects N:M masks: give --pattern N:M (2:4 in the paper), not --sparsity",
                e.render(k -> "--" + k));

        e = assertThrows(InvalidSettingException.class, () -> pst("x").astDecay(1e-4).astKlWeight(0.5).build());
        assertEquals("ast-decay, ast-kl-weight apply to method ast, not pst", e.getMessage());

        e = assertThrows(InvalidSettingException.class, () -> pst("x").steps(-3).build());
        assertEquals(List.of("steps"), e.settings());
        assertEquals("steps -3: expected at least 1", e.getMessage());

        e = assertThrows(InvalidSettingException.class, () -> pst("x").batch(3).build());
        assertEquals(List.of("batch", "partitions"), e.settings());
        assertTrue(e.getMessage().startsWith("batch 3 is not a multiple of partitions 2"), e.getMessage());

        e = assertThrows(InvalidSettingException.class, () -> PretrainSpec.builder().config("c.json").data("d.txt")
                .out("o").lr(0.0).build());
        assertEquals("lr 0.0: expected a positive value", e.getMessage());

        e = assertThrows(InvalidSettingException.class, () -> PretrainSpec.builder().config("c.json").data("d.txt")
                .tokens("t.txt").out("o").build());
        assertEquals(List.of("data", "tokens"), e.settings());
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    @Test
    void settingsByKeyBindToTheSameSpecAsTheBuilderWithEachMethodsDefaults() {
        ObjectNode settings = SpecBinding.settings().put("model", "m").put("out", "o").put("method", "AST")
                .put("pattern", "2:4").put("tokens", "t.safetensors").put("ast-slorb-group", "16")
                .put("micro-batch", 2).put("checkpoint-every", "50");
        FinetuneSpec bound = SpecBinding.bind(settings, FinetuneSpec.class);
        FinetuneSpec built = FinetuneSpec.builder().model("m").out("o").method(FinetuneSpec.Method.AST)
                .pattern("2:4").tokens("t.safetensors").astSlorbGroup(16).microBatch(2).checkpointEvery(50).build();
        assertEquals(built, bound);
        assertEquals(2e-4, bound.training().lr(), 0.0, "AST's learning rate");
        assertEquals(0.1, bound.training().weightDecay(), 0.0);
        assertEquals(DataParallelTrainer.Sync.AVERAGE, bound.training().sync());
        assertEquals(1000, bound.training().steps(), "a key not given keeps the builder's default");
        assertEquals(16, bound.ast().slorbGroup());

        FinetuneSpec pst = SpecBinding.bind(settings.deepCopy().put("method", "pst").put("sync", "average")
                .put("lr", "5e-4").without(List.of("ast-slorb-group")), FinetuneSpec.class);
        assertEquals(5e-4, pst.training().lr(), 0.0, "given, not PST's default");
        assertEquals(0.0, pst.training().weightDecay(), 0.0, "PST's default");
        assertEquals(DataParallelTrainer.Sync.AVERAGE, pst.training().sync());
        assertEquals(8, pst.pst().maskRank());

        PretrainSpec pre = SpecBinding.bind(SpecBinding.settings().put("config", "c.json").put("data", "d.txt")
                .put("out", "o").put("dtype", "bf16"), PretrainSpec.class);
        assertEquals(100, pre.training().warmup(), "pretraining's default");
        assertEquals("byte", pre.tokenizer());
        assertEquals(PretrainSpec.Dtype.BF16, pre.dtype());

        InvalidSettingException sync = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("sync", "ring"), FinetuneSpec.class));
        assertEquals("sync ring: expected grad, average or sharded", sync.getMessage());
        InvalidSettingException method = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("method", "lora"), FinetuneSpec.class));
        assertEquals("method lora: expected pst or ast", method.getMessage());
        InvalidSettingException dtype = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(SpecBinding.settings().put("dtype", "f8"), PretrainSpec.class));
        assertEquals("dtype f8: expected f32, bf16 or f16", dtype.getMessage());
        InvalidSettingException unknown = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("step", 3), FinetuneSpec.class));
        assertEquals(List.of("step"), unknown.settings());
        assertTrue(unknown.getMessage().contains("steps") && unknown.getMessage().contains("eval-windows"),
                unknown.getMessage());
    }
}
