package org.sparseft.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.data.TokenFiles;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.jobs.evaluate.EvaluateResult;
import org.sparseft.jobs.evaluate.EvaluateSpec;
import org.sparseft.jobs.inspect.InspectResult;
import org.sparseft.jobs.prune.PruneSpec;
import org.sparseft.jobs.spec.SpecBinding;
import org.sparseft.jobs.tokenize.TokenizeResult;
import org.sparseft.jobs.tokenize.TokenizeSpec;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tokenize, evaluate and inspect through the Java API, as a Spark application uses them: specs made by their
 * builders, run on the application's own local session (which the jobs leave running), with the same results as
 * the command line.
 */
class SparseFTEvaluateTest {
    @TempDir
    static Path tmp;
    private static SparkSession spark;
    private static final Storage STORAGE = HadoopStorage.withDefaults();

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSessions.create("SparseFTEvaluateTest", "local[2]", Map.of());
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            text.append("Sentence number ").append(i).append(" of a small evaluation text.\n\n");
        }
        Files.writeString(tmp.resolve("text.txt"), text.toString());
        TinyCheckpoints.write(STORAGE, path("model"), TinyCheckpoints.gpt2(), DType.F32, 0, 5);
        StringBuilder ids = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            ids.append(i % 7 == 0 ? "\n" : " ").append(32 + (i * 31) % 90);
        }
        Files.writeString(tmp.resolve("train-ids.txt"), ids.toString().strip() + "\n");
    }

    @AfterAll
    static void stop() {
        SparkSessions.stop(spark);
    }

    /**
     * The command line in this JVM: it stops the session it got, which is the test's own (one SparkContext per JVM),
     * so the test's session is started again afterwards.
     */
    private static Cli cli(String... args) {
        Cli r = Cli.run(args);
        if (spark.sparkContext().isStopped()) {
            spark = SparkSessions.create("SparseFTEvaluateTest", "local[2]", Map.of());
        }
        return r;
    }

    private static String path(String name) {
        return tmp.resolve(name).toString();
    }

    @Test
    void tokenizeThroughTheApiWritesTheSameBlocksAsTheCommandLineAndLeavesTheSessionRunning() throws Exception {
        TokenizeResult r = SparseFT.tokenize(spark, TokenizeSpec.builder().data(path("text.txt")).seqlen(16)
                .out(path("api.safetensors")).build());
        assertEquals(40, r.units());
        assertEquals("documents", r.unitName());
        assertEquals("byte", r.tokenizer(), "the builder's default");
        assertEquals(16, r.seqlen());
        assertEquals((long) r.blocks() * 16, r.tokens());
        assertTrue(!spark.sparkContext().isStopped(), "the caller's session is still running");

        Cli cli = cli("tokenize", "--data", path("text.txt"), "--seqlen", "16", "--out", path("cli.safetensors"),
                "--master", "local[2]");
        assertEquals(0, cli.exitCode(), cli.toString());
        assertTrue(cli.out().contains("blocks      " + r.blocks() + " x 16 tokens (" + r.tokens() + " tokens)"),
                cli.out());
        assertTrue(cli.out().contains("documents   40"), cli.out());
        List<int[]> api = TokenFiles.read(STORAGE, path("api.safetensors"), 257);
        List<int[]> cmd = TokenFiles.read(STORAGE, path("cli.safetensors"), 257);
        assertEquals(r.blocks(), api.size());
        assertEquals(cmd.size(), api.size());
        for (int i = 0; i < api.size(); i++) {
            assertArrayEquals(cmd.get(i), api.get(i), "block " + i);
        }
        try (SafetensorsFile a = SafetensorsFile.open(STORAGE, path("api.safetensors"));
             SafetensorsFile c = SafetensorsFile.open(STORAGE, path("cli.safetensors"))) {
            assertEquals(c.metadata(), a.metadata());
        }

        TokenizeResult recut = SparseFT.tokenize(spark, TokenizeSpec.builder().tokens(path("api.safetensors"))
                .seqlen(32).out(path("recut.safetensors")).build());
        assertEquals("sequences", recut.unitName());
        assertEquals(r.blocks(), recut.units());
        assertEquals(r.blocks() / 2, recut.blocks());
    }

    @Test
    void tokenizeSettingsAreRefusedNamingTheirKeyBeforeAnythingRuns() {
        TokenizeSpec.Builder ok = TokenizeSpec.builder().data(path("text.txt")).out(path("x.safetensors"));
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> ok.seqlen(1).build());
        assertEquals(List.of("seqlen"), e.settings());
        assertEquals("seqlen 1: expected at least 2", e.getMessage());
        assertEquals("--seqlen 1: expected at least 2", e.render(k -> "--" + k));

        e = assertThrows(InvalidSettingException.class, () -> TokenizeSpec.builder().data(path("text.txt"))
                .out(path("x.bin")).build());
        assertEquals("out " + path("x.bin") + ": expected a file name ending in .safetensors", e.getMessage());
        e = assertThrows(InvalidSettingException.class, () -> TokenizeSpec.builder().data(path("text.txt"))
                .format("csv").out(path("x.safetensors")).build());
        assertEquals("format csv: expected auto, text, jsonl or parquet", e.getMessage());
        e = assertThrows(InvalidSettingException.class, () -> TokenizeSpec.builder().out(path("x.safetensors"))
                .build());
        assertEquals(List.of("data", "tokens"), e.settings());
        assertFalse(Files.exists(tmp.resolve("x.safetensors")));

        ObjectNode settings = SpecBinding.settings().put("data", "t.txt").put("out", "t.safetensors")
                .put("text-field", "body").put("seqlen", "64");
        assertEquals(TokenizeSpec.builder().data("t.txt").out("t.safetensors").textField("body").seqlen(64).build(),
                SpecBinding.bind(settings, TokenizeSpec.class));
        InvalidSettingException unknown = assertThrows(InvalidSettingException.class,
                () -> SpecBinding.bind(settings.deepCopy().put("seq-len", 3), TokenizeSpec.class));
        assertEquals(List.of("seq-len"), unknown.settings());
        assertTrue(unknown.getMessage().contains("seqlen"), unknown.getMessage());
    }

    private static EvaluateSpec.Builder evaluation() {
        return EvaluateSpec.builder().model(path("model")).data(path("text.txt")).tokenizer("byte").seqlen(16);
    }

    @Test
    void evaluateThroughTheApiMeasuresWhatTheCommandLineMeasuresAndWritesTheSameJson() throws Exception {
        EvaluateResult r = SparseFT.evaluate(spark, evaluation().out(path("api.json"))
                .unigramFrom(path("train-ids.txt")).build());
        assertTrue(r.perplexity() > 200 && r.perplexity() < 300, "an untrained model is near-uniform: " + r);
        assertEquals(16, r.seqlen());
        assertEquals((long) r.windows() * 16, r.tokens());
        assertEquals(Math.exp(r.meanNll()), r.perplexity(), 1e-9 * r.perplexity());
        assertEquals("gpt2", r.modelType());
        assertEquals(path("api.json"), r.out());
        assertTrue(r.unigramPerplexity() != null && r.unigramPerplexity() > 1, r.toString());
        assertTrue(!spark.sparkContext().isStopped(), "the caller's session is still running");

        // the file is the result, in the layout the command has always written (tests and recipe reports read it)
        ObjectNode expected = new ObjectMapper().createObjectNode();
        expected.put("model", r.model());
        expected.put("data", path("text.txt"));
        expected.put("seqlen", 16);
        expected.put("windows", r.windows());
        expected.put("tokens", r.tokens());
        expected.put("mean_nll", r.meanNll());
        expected.put("perplexity", r.perplexity());
        expected.put("seconds", r.seconds());
        expected.put("tokens_per_second", r.tokensPerSecond());
        expected.put("unigram_from", path("train-ids.txt"));
        expected.put("unigram_perplexity", r.unigramPerplexity());
        expected.put("model_loading", "whole"); // a tiny model fits any executor
        assertEquals(new String(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsBytes(expected)), Files.readString(tmp.resolve("api.json")));

        Cli cli = cli("evaluate", "--model", path("model"), "--data", path("text.txt"), "--tokenizer", "byte",
                "--seqlen", "16", "--out", path("cli.json"), "--unigram-from", path("train-ids.txt"),
                "--master", "local[2]");
        assertEquals(0, cli.exitCode(), cli.toString());
        assertTrue(cli.out().contains(String.format("perplexity  %.4f (mean loss %.5f)", r.perplexity(),
                r.meanNll())), cli.out());
        assertTrue(cli.out().contains(String.format("windows     %d x 16 tokens", r.windows())), cli.out());
        JsonNode api = new ObjectMapper().readTree(tmp.resolve("api.json").toFile());
        ObjectNode cmd = (ObjectNode) new ObjectMapper().readTree(tmp.resolve("cli.json").toFile());
        List<String> fields = List.of("seconds", "tokens_per_second");
        for (String f : fields) {
            assertTrue(cmd.remove(f).asDouble() > 0, f);
        }
        assertEquals(cmd, ((ObjectNode) api.deepCopy()).without(fields), "the same figures, but for the times");

        EvaluateResult firstTwo = SparseFT.evaluate(spark, evaluation().maxWindows(2).batch(1).build());
        assertEquals(2, firstTwo.windows());
        assertEquals(null, firstTwo.out());
        assertEquals(null, firstTwo.unigramPerplexity());
    }

    /**
     * The model passed block by block through the windows' states gives the figures of the whole model to the last
     * bit, for a tied GPT-2, an untied LLaMA and OPT with post-LN and projections; windows not a multiple of the batch,
     * spread over two partitions.
     */
    @Test
    void byBlockEvaluationGivesTheWholeModelsFiguresBitForBit() throws Exception {
        for (var config : List.of(TinyCheckpoints.gpt2(), TinyCheckpoints.llama31(), TinyCheckpoints.opt350())) {
            String dir = path("by-block-" + config.modelType() + config.numLayers());
            TinyCheckpoints.write(STORAGE, dir, config, DType.BF16, 0, 3);
            EvaluateSpec.Builder spec = EvaluateSpec.builder().model(dir).data(path("text.txt")).tokenizer("byte")
                    .seqlen(16).batch(3).maxWindows(11);
            EvaluateResult whole = SparseFT.evaluate(spark, spec.modelLoading(
                    org.sparseft.jobs.evaluate.ModelLoading.WHOLE).build());
            EvaluateResult byBlock = SparseFT.evaluate(spark, spec.modelLoading(
                    org.sparseft.jobs.evaluate.ModelLoading.BY_BLOCK).build());
            assertEquals(11, byBlock.windows());
            assertEquals("whole", whole.modelLoading());
            assertEquals("by-block", byBlock.modelLoading());
            assertEquals(Double.doubleToLongBits(whole.meanNll()), Double.doubleToLongBits(byBlock.meanNll()),
                    config.modelType() + ": " + whole.meanNll() + " whole, " + byBlock.meanNll() + " by block");
        }
        Cli cli = cli("evaluate", "--model", path("model"), "--data", path("text.txt"), "--tokenizer", "byte",
                "--seqlen", "16", "--model-loading", "by-block", "--master", "local[2]");
        assertEquals(0, cli.exitCode(), cli.toString());
        assertTrue(cli.out().contains("(model loaded block by block)"), cli.out());
    }

    @Test
    void evaluateSettingsAreRefusedNamingTheirKey() throws Exception {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> evaluation().batch(0).build());
        assertEquals(List.of("batch", "dump-n", "max-windows"), e.settings());
        assertEquals("--batch, --dump-n and --max-windows must be at least 1", e.render(k -> "--" + k));
        e = assertThrows(InvalidSettingException.class, () -> SpecBinding.bind(SpecBinding.settings()
                .put("model", "m").put("tokens", "t.txt").put("max-windows", "0"), EvaluateSpec.class));
        assertEquals(List.of("batch", "dump-n", "max-windows"), e.settings());
        e = assertThrows(InvalidSettingException.class, () -> SpecBinding.bind(SpecBinding.settings()
                .put("model", "m").put("tokens", "t.txt").put("batch", "four"), EvaluateSpec.class));
        assertEquals("batch: 'four' is not an integer", e.getMessage());
        e = assertThrows(InvalidSettingException.class, () -> evaluation().model(null).build());
        assertEquals(List.of("model"), e.settings());

        // known only once the model is read: refused before anything is evaluated or written
        e = assertThrows(InvalidSettingException.class,
                () -> SparseFT.evaluate(spark, evaluation().seqlen(64).out(path("long.json")).build()));
        assertEquals("seqlen 64: expected 2..32 (the model's positions)", e.getMessage());
        e = assertThrows(InvalidSettingException.class,
                () -> SparseFT.evaluate(spark, evaluation().out(path("model/result.json")).build()));
        assertEquals(List.of("out", "model"), e.settings());
        assertFalse(Files.exists(tmp.resolve("long.json")) || Files.exists(tmp.resolve("model/result.json")));
    }

    @Test
    void inspectReturnsWhatTheCommandLinePrints() throws Exception {
        SparseFT.prune(spark, PruneSpec.builder().model(path("model")).out(path("pruned"))
                .method(LayerwisePruner.Method.WANDA).pattern("2:4").calib(path("text.txt")).tokenizer("byte")
                .nsamples(4).seqlen(16).build());
        InspectResult dense = SparseFT.inspect(path("model"));
        InspectResult pruned = SparseFT.inspect(spark, path("pruned"));
        assertEquals(TinyCheckpoints.gpt2(), dense.config());
        assertEquals(dense.tensors().stream().map(InspectResult.Tensor::name).toList(),
                pruned.tensors().stream().map(InspectResult.Tensor::name).toList());
        assertEquals(0, dense.zeros());
        assertTrue(pruned.sparsity() > 0 && pruned.sparsity() < 0.5, "half of the linears: " + pruned.sparsity());
        for (InspectResult.Tensor t : pruned.tensors()) {
            assertTrue(t.floatingPoint(), t.name());
            assertEquals(t.shape().stream().mapToLong(Long::longValue).reduce(1, Math::multiplyExact), t.values());
            boolean linear = t.shape().size() == 2 && (t.name().contains(".attn.") || t.name().contains(".mlp."));
            // GPT-2 stores linears [in, out] (Conv1D): the groups run down the columns of what is stored
            assertEquals(linear ? "2:4" : null, t.nOutOfM(), t.name());
            if (linear) {
                assertEquals(0.5, t.sparsity(), 1e-12, t.name());
            }
        }

        Cli cli = cli("inspect", "--model", path("pruned"));
        assertEquals(0, cli.exitCode(), cli.toString());
        assertTrue(cli.out().contains(String.format("overall sparsity %.4f over %,d floating-point values",
                pruned.sparsity(), pruned.values())), cli.out());
        InspectResult.Tensor fc = pruned.tensors().stream().filter(t -> t.name().endsWith("h.0.mlp.c_fc.weight"))
                .findFirst().orElseThrow();
        assertTrue(cli.out().contains(String.format("%-48s %-5s %-16s %9s  %s", fc.name(), fc.dtype(), fc.shape(),
                "0.5000", "2:4")), cli.out());

        BadInputException missing = assertThrows(BadInputException.class, () -> SparseFT.inspect(path("absent")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }
}
