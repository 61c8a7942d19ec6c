package org.sparseft.io.hf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseft.BadInputException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.LlamaConfig;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.OptConfig;
import org.sparseft.model.ops.Rope;
import org.sparseft.testing.TinyCheckpoints;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfCheckpointTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    private String dir(String name) {
        return tmp.resolve(name).toString();
    }

    @Test
    void contentHashFollowsTheContentNotThePath() throws Exception {
        LlamaConfig model = TinyCheckpoints.llama();
        TinyCheckpoints.write(storage, dir("a"), model, DType.F32, 0, 1);
        TinyCheckpoints.write(storage, dir("b"), model, DType.F32, 0, 1);
        TinyCheckpoints.write(storage, dir("c"), model, DType.F32, 0, 2);
        TinyCheckpoints.write(storage, dir("sharded"), model, DType.F32, 4000, 1);
        String a = hash(dir("a"));
        assertEquals(64, a.length());
        assertEquals(a, hash(dir("b")), "same content at another path");
        assertFalse(a.equals(hash(dir("c"))), "other weights");
        assertFalse(a.equals(hash(dir("sharded"))), "same weights, other files");
        TinyCheckpoints.write(storage, dir("a"), model, DType.F32, 0, 2);
        assertEquals(hash(dir("c")), hash(dir("a")), "rewritten in place: the new content's hash");
    }

    private String hash(String dir) throws Exception {
        try (HfCheckpoint c = HfCheckpoint.open(storage, dir)) {
            return c.contentHash();
        }
    }

    @Test
    void gpt2CheckpointRoundTripsWithConfigAndTensors() throws Exception {
        Gpt2Config model = TinyCheckpoints.gpt2();
        String d = dir("gpt2");
        TinyCheckpoints.write(storage, d, model, DType.F16, 0, 1);
        List<SafetensorsWriter.Entry> expected = TinyCheckpoints.randomTensors(model, DType.F16, 1);
        try (HfCheckpoint ckpt = HfCheckpoint.open(storage, d)) {
            assertEquals(model, ckpt.model());
            ckpt.validateAgainstConfig();
            assertEquals(expected.stream().map(SafetensorsWriter.Entry::name).toList(), ckpt.tensorNames());
            for (SafetensorsWriter.Entry e : expected) {
                assertEquals(DType.F16, ckpt.info(e.name()).dtype());
                assertEquals(e.bytes(), ckpt.rawBytes(e.name()), e.name());
            }
            assertEquals(List.of(HfCheckpoint.WEIGHTS), ckpt.shardFiles());
        }
        assertTrue(Files.exists(tmp.resolve("gpt2/_SUCCESS")));
        assertTrue(Files.exists(tmp.resolve("gpt2/tokenizer.json")));
    }

    @Test
    void shardedLlamaCheckpointIsReadThroughItsIndex() throws Exception {
        LlamaConfig model = TinyCheckpoints.llama();
        String d = dir("llama");
        TinyCheckpoints.write(storage, d, model, DType.BF16, 4000, 2);
        assertTrue(Files.exists(tmp.resolve("llama/" + HfCheckpoint.INDEX)));
        try (HfCheckpoint ckpt = HfCheckpoint.open(storage, d)) {
            assertTrue(ckpt.shardFiles().size() > 2, "split into shards: " + ckpt.shardFiles());
            assertEquals("model-00001-of-0000" + ckpt.shardFiles().size() + ".safetensors", ckpt.shardFiles().get(0));
            ckpt.validateAgainstConfig();
            assertEquals(List.copyOf(model.expectedTensors().keySet()), ckpt.tensorNames(), "checkpoint order kept");
            for (SafetensorsWriter.Entry e : TinyCheckpoints.randomTensors(model, DType.BF16, 2)) {
                assertEquals(e.bytes(), ckpt.rawBytes(e.name()), e.name());
            }
            assertEquals(2, ckpt.model() instanceof LlamaConfig l ? l.numKvHeads() : -1);
        }
    }

    @Test
    void llamaConfigFieldsAreParsedWithHuggingFaceDefaults() {
        String json = "{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,"
                + "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":2,\"rope_theta\":500000.0,"
                + "\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":true,\"rope_scaling\":null}";
        LlamaConfig c = (LlamaConfig) HfConfig.parse(json, "config.json").model();
        assertEquals(new LlamaConfig(LlamaConfig.Family.LLAMA, 100, 2048, 64, 128, 2, 8, 2, 8, 1e-5, 500000.0,
                Rope.Scaling.NONE, true, false, false, false, false, 0, 0), c);
        assertFalse(c.expectedTensors().containsKey("lm_head.weight"), "tied head is not a tensor of its own");
        assertArrayEquals(new long[] {16, 64}, c.expectedTensors().get("model.layers.1.self_attn.k_proj.weight"));
    }

    @Test
    void gpt2NamesWithoutTransformerPrefixAreFoundByCanonicalName() throws Exception {
        Gpt2Config model = TinyCheckpoints.gpt2();
        String d = dir("openai-style");
        Files.createDirectories(Path.of(d));
        Files.writeString(Path.of(d, "config.json"), HfConfig.of(model, "float32").toJsonText());
        List<SafetensorsWriter.Entry> stored = TinyCheckpoints.randomTensors(model, DType.F32, 3).stream()
                .map(e -> new SafetensorsWriter.Entry(e.name().replace("transformer.", ""), e.dtype(), e.shape(), e.bytes()))
                .collect(java.util.stream.Collectors.toList());
        stored.add(SafetensorsWriter.Entry.ofFloats("h.0.attn.bias", DType.F32, new long[] {1, 1, 2, 2}, new float[4]));
        SafetensorsWriter.write(storage, Storage.join(d, "model.safetensors"), stored, Map.of());
        try (HfCheckpoint ckpt = HfCheckpoint.open(storage, d)) {
            ckpt.validateAgainstConfig();
            assertTrue(ckpt.contains("transformer.h.1.mlp.c_fc.weight"));
            assertEquals("h.1.mlp.c_fc.weight", ckpt.info("transformer.h.1.mlp.c_fc.weight").name());
        }
    }

    private String writeValid(String name) throws Exception {
        String d = dir(name);
        TinyCheckpoints.write(storage, d, TinyCheckpoints.gpt2(), DType.F32, 0, 4);
        return d;
    }

    private BadInputException refused(String d) {
        return assertThrows(BadInputException.class, () -> {
            try (HfCheckpoint c = HfCheckpoint.open(storage, d)) {
                c.validateAgainstConfig();
            }
        });
    }

    @Test
    void missingConfigIsRefused() throws Exception {
        String d = writeValid("noconfig");
        Files.delete(Path.of(d, "config.json"));
        assertTrue(refused(d).getMessage().contains("missing config.json"));
    }

    @Test
    void pickledCheckpointIsRefusedWithAnExplanation() throws Exception {
        Path d = tmp.resolve("pickled");
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), HfConfig.of(TinyCheckpoints.gpt2(), "float32").toJsonText());
        Files.write(d.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
        String m = refused(d.toString()).getMessage();
        assertTrue(m.contains("pytorch_model.bin") && m.contains("convert it to safetensors")
                && m.contains("save_pretrained(OUT, safe_serialization=True)"), m);
    }

    @Test
    void configFieldOfTheWrongTypeIsNamed() throws Exception {
        String d = writeValid("wrongtype");
        Path cfg = Path.of(d, "config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"n_layer\" : 2", "\"n_layer\" : \"two\""));
        String m = refused(d).getMessage();
        assertTrue(m.contains("config.json") && m.contains("'n_layer'") && m.contains("an integer"), m);
    }

    @Test
    void configThatContradictsItselfIsRefused() {
        BadInputException e = assertThrows(BadInputException.class, () -> HfConfig.parse(
                "{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_positions\":8,\"n_embd\":10,\"n_layer\":1,\"n_head\":3}",
                "x/config.json"));
        assertTrue(e.getMessage().startsWith("x/config.json: config field 'n_head'"), e.getMessage());
        assertThrows(BadInputException.class, () -> HfConfig.parse("{\"model_type\":\"bert\"}", "c"));
        assertThrows(BadInputException.class, () -> HfConfig.parse("{\"model_type\":\"llama\",\"vocab_size\":10,"
                + "\"hidden_size\":8,\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                + "\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2}}", "c"));
    }

    private static LlamaConfig llamaLayout(String json) {
        return (LlamaConfig) HfConfig.parse("{\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":128,"
                + "\"num_hidden_layers\":4,\"num_attention_heads\":8,\"num_key_value_heads\":2," + json + "}",
                "config.json").model();
    }

    @Test
    void eachLlamaLayoutFamilyReadsItsFieldsWithItsOwnDefaults() {
        LlamaConfig llama31 = llamaLayout("\"model_type\":\"llama\",\"attention_bias\":true,\"rope_scaling\":"
                + "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
                + "\"original_max_position_embeddings\":8192}");
        assertEquals(new Rope.Scaling(Rope.Scaling.Kind.LLAMA3, 8, 1, 4, 8192), llama31.ropeScaling());
        assertTrue(llama31.qkvBias() && llama31.outputBias());
        assertTrue(llama31.expectedTensors().containsKey("model.layers.0.self_attn.o_proj.bias"));
        assertEquals(Rope.Scaling.Kind.LINEAR, llamaLayout("\"model_type\":\"llama\",\"rope_scaling\":{\"type\":"
                + "\"linear\",\"factor\":4}").ropeScaling().kind(), "the older key 'type'");

        LlamaConfig mistral = llamaLayout("\"model_type\":\"mistral\"");
        assertEquals(4096, mistral.slidingWindow(0), "MistralConfig's default window");
        assertEquals(131072, mistral.maxPositions());
        assertEquals(0, llamaLayout("\"model_type\":\"mistral\",\"sliding_window\":null").slidingWindow(3),
                "null: no window (Mistral v0.2 and later)");

        LlamaConfig qwen2 = llamaLayout("\"model_type\":\"qwen2\",\"use_sliding_window\":false,"
                + "\"sliding_window\":4096,\"max_window_layers\":2");
        assertTrue(qwen2.qkvBias() && !qwen2.outputBias(), "Qwen2: q, k, v biases, none on o");
        assertTrue(qwen2.expectedTensors().containsKey("model.layers.0.self_attn.k_proj.bias"));
        assertFalse(qwen2.expectedTensors().containsKey("model.layers.0.self_attn.o_proj.bias"));
        assertEquals(0, qwen2.slidingWindow(3), "use_sliding_window false: the window is not used");
        LlamaConfig sliding = llamaLayout("\"model_type\":\"qwen2\",\"use_sliding_window\":true,"
                + "\"sliding_window\":16,\"max_window_layers\":2");
        assertEquals(0, sliding.slidingWindow(1));
        assertEquals(16, sliding.slidingWindow(2), "layers from max_window_layers on slide, as transformers reads it");
        assertEquals(16, llamaLayout("\"model_type\":\"qwen2\",\"sliding_window\":16,\"layer_types\":["
                + "\"full_attention\",\"full_attention\",\"full_attention\",\"sliding_attention\"]")
                .slidingWindow(3), "layer_types has the last word");

        LlamaConfig qwen3 = llamaLayout("\"model_type\":\"qwen3\",\"tie_word_embeddings\":true");
        assertEquals(128, qwen3.headDim(), "Qwen3Config's default head_dim, not hidden / heads");
        assertTrue(qwen3.qkNorm() && !qwen3.qkvBias());
        assertArrayEquals(new long[] {128}, qwen3.expectedTensors().get("model.layers.0.self_attn.q_norm.weight"));
        assertArrayEquals(new long[] {1024, 64}, qwen3.expectedTensors().get("model.layers.0.self_attn.q_proj.weight"));

        for (LlamaConfig c : List.of(llama31, mistral, qwen2, sliding, qwen3)) {
            assertEquals(c, HfConfig.parse(HfConfig.of(c, "float32").toJsonText(), "written").model(),
                    "the config.json sparseft writes reads back the same: " + c);
        }
    }

    @Test
    void optReadsItsFieldsAndItsOriginalTensorNames() throws Exception {
        OptConfig opt350 = (OptConfig) HfConfig.parse("{\"model_type\":\"opt\",\"vocab_size\":50272,"
                + "\"hidden_size\":1024,\"ffn_dim\":4096,\"num_hidden_layers\":24,\"num_attention_heads\":16,"
                + "\"word_embed_proj_dim\":512,\"do_layer_norm_before\":false}", "config.json").model();
        assertEquals(new OptConfig(50272, 2048, 1024, 4096, 24, 16, 512, false, false, true), opt350);
        assertArrayEquals(new long[] {2050, 1024}, opt350.expectedTensors().get("model.decoder.embed_positions.weight"),
                "two rows beyond the positions: OPT's offset");
        assertArrayEquals(new long[] {512, 1024}, opt350.expectedTensors().get("model.decoder.project_out.weight"));
        assertFalse(opt350.expectedTensors().containsKey("model.decoder.final_layer_norm.weight"));
        assertEquals(opt350, HfConfig.parse(HfConfig.of(opt350, "float16").toJsonText(), "w").model());
        BadInputException e = assertThrows(BadInputException.class, () -> HfConfig.parse("{\"model_type\":\"opt\","
                + "\"vocab_size\":10,\"hidden_size\":8,\"ffn_dim\":8,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":2,\"activation_function\":\"gelu\"}", "config.json"));
        assertTrue(e.getMessage().contains("'activation_function'"), e.getMessage());

        // the original checkpoints name tensors as OPTModel does ("decoder."); they load under the canonical names
        OptConfig cfg = TinyCheckpoints.opt();
        String d = tmp.resolve("opt-original").toString();
        List<SafetensorsWriter.Entry> renamed = new java.util.ArrayList<>();
        for (SafetensorsWriter.Entry t : TinyCheckpoints.randomTensors(cfg, DType.F16, 3)) {
            renamed.add(new SafetensorsWriter.Entry(t.name().replaceFirst("^model\\.", ""), t.dtype(), t.shape(),
                    t.bytes()));
        }
        HfCheckpointWriter.write(storage, d, HfConfig.of(cfg, "float16"), renamed, Map.of(), Map.of(), 0, true);
        try (HfCheckpoint c = HfCheckpoint.open(storage, d)) {
            c.validateAgainstConfig();
            assertTrue(c.tensorNames().contains("decoder.layers.0.fc1.weight"));
            assertEquals(cfg.parameterCount(), c.parameters(org.nd4j.linalg.api.buffer.DataType.FLOAT).count());
        }
    }

    @Test
    void llamaLayoutFieldsSparseftCannotRunAreRefusedByName() {
        for (String[] c : new String[][] {
                {"\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}",
                        "'rope_scaling.rope_type' is \"yarn\""},
                {"\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8}",
                        "'rope_scaling.low_freq_factor'"},
                {"\"model_type\":\"qwen2\",\"layer_types\":[\"full_attention\"]", "'layer_types' has 1 entries"},
                {"\"model_type\":\"qwen3\",\"layer_types\":[\"sliding_attention\",\"full_attention\","
                        + "\"full_attention\",\"full_attention\"]", "full attention at layer 1 after sliding"},
                {"\"model_type\":\"mistral\",\"hidden_act\":\"gelu\"", "'hidden_act'"},
                {"\"model_type\":\"opt2\"", "'model_type' is \"opt2\""}}) {
            BadInputException e = assertThrows(BadInputException.class, () -> llamaLayout(c[0]), c[0]);
            assertTrue(e.getMessage().startsWith("config.json: ") && e.getMessage().contains(c[1]), e.getMessage());
        }
    }

    @Test
    void shapeThatDisagreesWithConfigIsNamed() throws Exception {
        String d = writeValid("shape");
        Path cfg = Path.of(d, "config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"n_inner\" : 64", "\"n_inner\" : 48"));
        String m = refused(d).getMessage();
        assertTrue(m.contains("transformer.h.0.mlp.c_fc.weight") && m.contains("[16, 64]") && m.contains("[16, 48]"), m);
    }

    @ParameterizedTest
    @ValueSource(strings = {"../model.safetensors", "/etc/model.safetensors", "hdfs://x/model.safetensors",
            "sub/model.safetensors", "..safetensors"})
    void indexMayNameOnlyPlainFilesInTheSameDirectory(String shard) throws Exception {
        Path d = tmp.resolve("escape");
        TinyCheckpoints.write(storage, d.toString(), TinyCheckpoints.gpt2(), DType.F32, 3000, 5);
        Path index = d.resolve(HfCheckpoint.INDEX);
        String text = Files.readString(index, StandardCharsets.UTF_8);
        Files.writeString(index, text.replaceFirst("model-00001-of-\\d+\\.safetensors", shard));
        String m = refused(d.toString()).getMessage();
        assertTrue(m.contains(HfCheckpoint.INDEX) && m.contains("plain *.safetensors file names"), m);
    }

    @Test
    void missingShardIsNamed() throws Exception {
        Path d = tmp.resolve("missing-shard");
        TinyCheckpoints.write(storage, d.toString(), TinyCheckpoints.gpt2(), DType.F32, 3000, 6);
        Files.delete(d.resolve("model-00002-of-" + String.format("%05d", countShards(d)) + ".safetensors"));
        String m = refused(d.toString()).getMessage();
        assertTrue(m.contains("shard 'model-00002-of-") && m.contains("does not exist"), m);
    }

    private static int countShards(Path d) throws Exception {
        try (var s = Files.list(d)) {
            return (int) s.filter(p -> p.getFileName().toString().startsWith("model-")).count();
        }
    }

    @Test
    void writingOverAnExistingOutputIsRefusedUnlessReplacing() throws Exception {
        String d = writeValid("exists");
        ModelConfig m = TinyCheckpoints.gpt2();
        BadInputException e = assertThrows(BadInputException.class, () -> HfCheckpointWriter.write(storage, d,
                HfConfig.of(m, "float32"), List.of(), Map.of(), Map.of(), 0, false));
        assertTrue(e.getMessage().contains("already exists"));
    }

    @Test
    void failedWriteLeavesNoOutputAndNoTemporaryDirectory() throws Exception {
        String d = dir("failed");
        assertThrows(IllegalArgumentException.class, () -> HfCheckpointWriter.write(storage, d,
                HfConfig.of(TinyCheckpoints.gpt2(), "float32"),
                List.of(SafetensorsWriter.Entry.ofFloats("a", DType.F32, new long[] {1}, new float[1]),
                        SafetensorsWriter.Entry.ofFloats("a", DType.F32, new long[] {1}, new float[1])),
                Map.of(), Map.of(), 0, true));
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(), s.toList(), "nothing left behind");
        }
    }
}
