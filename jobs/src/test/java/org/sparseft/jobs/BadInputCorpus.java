package org.sparseft.jobs;

import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.tokenizer.ByteLevelBpe;
import org.sparseft.io.tokenizer.Tokenizers;
import org.sparseft.model.Gpt2Config;
import org.sparseft.testing.TinyCheckpoints;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes the bad-input corpus: one directory per case with its input files, {@code cmd} (the sparseft arguments;
 * {@code @CASE@} is the case directory, {@code @OUT@} a fresh output directory) and {@code expect} (text the error
 * message must contain, one per line). Every case must end with exit code 2 and no output.
 *
 * <p>The corpus is committed under {@code src/test/resources/bad-inputs}; {@code BadInputCorpusTest} checks it
 * equals what this generator writes. To add a case, add it here and run
 * {@code mvn -pl jobs test-compile exec:java -Dexec.mainClass=org.sparseft.jobs.BadInputCorpus
 * -Dexec.classpathScope=test -Dexec.args=src/test/resources/bad-inputs}.
 */
public final class BadInputCorpus {
    /** A micro GPT-2 (vocabulary 8, 1 layer, width 4) whose files are a few hundred bytes. */
    static final Gpt2Config MICRO = new Gpt2Config(8, 4, 4, 1, 1, 8, 1e-5, "gelu_new", true);
    private static final String INSPECT = "inspect --model @CASE@/model";
    private static final String TEXT = "The jury said it did find that many of the laws are outmoded.\n";

    private final Path root;
    private final Storage storage = HadoopStorage.withDefaults();

    private BadInputCorpus(Path root) {
        this.root = root;
    }

    public static void main(String[] args) throws IOException {
        write(Path.of(args[0]));
    }

    static void write(Path root) throws IOException {
        if (Files.exists(root)) {
            if (!root.getFileName().toString().equals("bad-inputs")) {
                throw new IllegalArgumentException(root + " exists and is not a bad-inputs corpus");
            }
            org.sparseft.io.HadoopStorage.withDefaults().delete(root.toString()); // cases removed from the code go too
        }
        new BadInputCorpus(root).all();
    }

    private void all() throws IOException {
        String okEntry = entry("w", "F32", "[2]", 0, 8);
        // safetensors files, read through a checkpoint directory
        badWeights("st-empty-file", new byte[0], "truncated safetensors file");
        badWeights("st-truncated-data", truncate(raw("{" + okEntry + "}", 8), 3), "outside the data section");
        badWeights("st-header-past-eof", raw(("{" + okEntry + "}").getBytes(StandardCharsets.UTF_8), 4096, 8),
                "runs past the end of the file");
        badWeights("st-header-over-100mb", raw(("{" + okEntry + "}").getBytes(StandardCharsets.UTF_8), 200_000_000L, 8),
                "outside [2, 100000000]");
        badWeights("st-invalid-json", raw("{\"w\":{\"dtype\":\"F32\",", 8), "not valid JSON");
        badWeights("st-overlap", raw("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12)
                + "}", 12), "overlap");
        badWeights("st-offsets-out-of-range", raw("{" + entry("w", "F32", "[4]", 0, 16) + "}", 8),
                "tensor 'w'", "outside the data section");
        badWeights("st-size-not-shape-times-dtype", raw("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8),
                "tensor 'w'", "needs 12");
        badWeights("st-unknown-dtype", raw("{" + entry("w", "F9", "[2]", 0, 8) + "}", 8), "unknown dtype 'F9'");
        badWeights("st-duplicate-names", raw("{" + okEntry + "," + okEntry + "}", 8), "Duplicate field 'w'");
        badWeights("st-gap-between-tensors", raw("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]",
                8, 12) + "}", 12), "gap of 4 bytes before tensor 'b'");
        badWeights("st-unused-trailing-bytes", raw("{" + okEntry + "}", 12), "4 unused bytes after the last tensor");
        badWeights("st-trailing-json", raw("{" + okEntry + "}{}", 8), "not valid JSON");
        badWeights("st-negative-dimension", raw("{" + entry("w", "F32", "[-2]", 0, 8) + "}", 8),
                "non-negative integer");

        // checkpoint directories
        Path c = validModel("ckpt-missing-config");
        Files.delete(c.resolve("config.json"));
        expect("ckpt-missing-config", INSPECT, "missing config.json");
        c = validModel("ckpt-config-missing-field");
        editConfig(c, "\"n_layer\" : 1,", "");
        expect("ckpt-config-missing-field", INSPECT, "config.json", "'n_layer'", "an integer, was missing");
        c = validModel("ckpt-config-wrong-type");
        editConfig(c, "\"n_embd\" : 4", "\"n_embd\" : \"four\"");
        expect("ckpt-config-wrong-type", INSPECT, "config.json", "'n_embd'", "\"four\"");
        c = validModel("ckpt-config-invalid-json");
        editConfig(c, "{", "{{");
        expect("ckpt-config-invalid-json", INSPECT, "config.json", "not valid JSON");
        c = validModel("ckpt-config-inconsistent");
        editConfig(c, "\"n_head\" : 1", "\"n_head\" : 3");
        expect("ckpt-config-inconsistent", INSPECT, "'n_head'", "divide n_embd=4");
        c = validModel("ckpt-unsupported-model-type");
        editConfig(c, "\"model_type\" : \"gpt2\"", "\"model_type\" : \"bert\"");
        expect("ckpt-unsupported-model-type", INSPECT, "model_type", "\"bert\"");
        c = validModel("ckpt-shape-disagrees-with-config");
        editConfig(c, "\"n_inner\" : 8", "\"n_inner\" : 12");
        expect("ckpt-shape-disagrees-with-config", INSPECT, "transformer.h.0.mlp.c_fc.weight", "[4, 8]", "[4, 12]",
                "field 'n_inner' = 12");
        c = validModel("ckpt-missing-tensor");
        rewriteWeights(c, "transformer.ln_f.bias");
        expect("ckpt-missing-tensor", INSPECT, "'transformer.ln_f.bias' is missing");
        // config.json's counts and sizes against the tensors, checked before anything is sized by the config (a
        // billion layers beside a 2-layer checkpoint ran out of heap listing the tensors it expected)
        c = validLlama("ckpt-layers-beyond-tensors");
        Files.writeString(c.getParent().resolve("ids.txt"), "1 2 3 4 5 6 7 1 2 3 4 5 6 7\n");
        editConfig(c, "\"num_hidden_layers\" : 2", "\"num_hidden_layers\" : 1000000000");
        expect("ckpt-layers-beyond-tensors", "evaluate --model @CASE@/model --tokens @CASE@/ids.txt --seqlen 4"
                + " --master local[1]", "config.json field 'num_hidden_layers' is 1000000000",
                "tensor 'model.layers.2.input_layernorm.weight' is missing");
        c = validModel("ckpt-gpt2-layers-beyond-tensors");
        editConfig(c, "\"n_layer\" : 1", "\"n_layer\" : 1000000000");
        expect("ckpt-gpt2-layers-beyond-tensors", INSPECT, "config.json field 'n_layer' is 1000000000",
                "tensor 'transformer.h.1.ln_1.weight' is missing");
        c = validLlama("ckpt-layers-fewer-than-tensors");
        editConfig(c, "\"num_hidden_layers\" : 2", "\"num_hidden_layers\" : 1");
        expect("ckpt-layers-fewer-than-tensors", INSPECT, "config.json field 'num_hidden_layers' is 1",
                "tensors of layer 1");
        String[][] sizes = {
                {"ckpt-hidden-size-disagrees", "\"hidden_size\" : 4", "\"hidden_size\" : 8",
                        "field 'hidden_size' = 8", "'model.embed_tokens.weight' has shape [8, 4]"},
                {"ckpt-vocab-size-disagrees", "\"vocab_size\" : 8", "\"vocab_size\" : 2000000000",
                        "field 'vocab_size' = 2000000000", "'model.embed_tokens.weight' has shape [8, 4]"},
                {"ckpt-intermediate-size-disagrees", "\"intermediate_size\" : 8", "\"intermediate_size\" : 1000000000",
                        "field 'intermediate_size' = 1000000000", "'model.layers.0.mlp.gate_proj.weight'"},
                {"ckpt-kv-heads-disagree", "\"num_key_value_heads\" : 1", "\"num_key_value_heads\" : 2",
                        "field 'num_key_value_heads' = 2 (with head_dim 2)", "'model.layers.0.self_attn.k_proj.weight'"},
                {"ckpt-heads-do-not-divide-hidden", "\"head_dim\" : 2,", "", "field 'num_attention_heads' = 3",
                        "must divide hidden_size=4 when head_dim is absent"}};
        for (String[] e : sizes) {
            c = validLlama(e[0]);
            editConfig(c, e[1], e[2]);
            if (e[0].equals("ckpt-heads-do-not-divide-hidden")) {
                editConfig(c, "\"num_attention_heads\" : 2", "\"num_attention_heads\" : 3");
            }
            expect(e[0], INSPECT, e[3], e[4]);
        }
        c = validLlama("ckpt-rope-scaling-unsupported");
        editConfig(c, "\"rope_scaling\" : null", "\"rope_scaling\" : {\"rope_type\" : \"yarn\", \"factor\" : 4.0}");
        expect("ckpt-rope-scaling-unsupported", INSPECT, "config.json", "'rope_scaling.rope_type' is \"yarn\"",
                "\"linear\" and \"llama3\"");
        c = validLlama("ckpt-rope-llama3-incomplete");
        editConfig(c, "\"rope_scaling\" : null", "\"rope_scaling\" : {\"rope_type\" : \"llama3\", \"factor\" : 8.0}");
        expect("ckpt-rope-llama3-incomplete", INSPECT, "config.json", "'rope_scaling.low_freq_factor'", "a number");
        c = validLlama("ckpt-layer-types-length");
        editConfig(c, "\"model_type\" : \"llama\"", "\"model_type\" : \"qwen3\", \"layer_types\" : [\"full_attention\"]");
        expect("ckpt-layer-types-length", INSPECT, "config.json", "'layer_types' has 1 entries for 2 layers");
        c = validLlama("ckpt-family-tensor-missing");
        editConfig(c, "\"model_type\" : \"llama\"", "\"model_type\" : \"qwen2\"");
        expect("ckpt-family-tensor-missing", INSPECT, "model.layers.0.self_attn.q_proj.bias", "missing");
        c = validModel("ckpt-positions-disagree");
        editConfig(c, "\"n_positions\" : 4", "\"n_positions\" : 2000000000");
        expect("ckpt-positions-disagree", INSPECT, "field 'n_positions' = 2000000000",
                "'transformer.wpe.weight' has shape [4, 4]");
        for (String[] shard : new String[][] {{"ckpt-index-parent-dir", "../"}, {"ckpt-index-absolute-path", "/tmp/"},
                {"ckpt-index-uri", "hdfs://namenode/"}}) {
            c = validShardedModel(shard[0]);
            String first = shards(c).get(0);
            Path index = c.resolve("model.safetensors.index.json");
            Files.writeString(index, Files.readString(index).replaceFirst("\"" + first + "\"",
                    "\"" + shard[1] + first + "\""));
            expect(shard[0], INSPECT, "model.safetensors.index.json", "plain *.safetensors file names");
        }
        c = validShardedModel("ckpt-missing-shard");
        String second = shards(c).get(1);
        Files.delete(c.resolve(second));
        expect("ckpt-missing-shard", INSPECT, "shard '" + second + "'", "does not exist");
        c = validModel("ckpt-pickle-only");
        Files.delete(c.resolve("model.safetensors"));
        Files.write(c.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 0x02, '}', 'q', 0, '.'});
        expect("ckpt-pickle-only", INSPECT, "pytorch_model.bin", "convert it to safetensors");
        Path notDir = dir("ckpt-model-is-a-file");
        Files.writeString(notDir.resolve("model"), "not a directory\n");
        expect("ckpt-model-is-a-file", INSPECT, "expected a Hugging Face model directory");
        dir("ckpt-model-does-not-exist");
        expect("ckpt-model-does-not-exist", INSPECT, "model directory does not exist");

        // tokenizers, through tokenize --tokenizer
        String tokenize = "tokenize --data @CASE@/text.txt --tokenizer @CASE@/tok --out @OUT@/t.safetensors --seqlen 8";
        String bytesJson = new String(ByteLevelBpe.bytes().files().get(Tokenizers.TOKENIZER_JSON), StandardCharsets.UTF_8);
        tokenizerCase("tok-invalid-json", Tokenizers.TOKENIZER_JSON, "{\"model\": ", tokenize, "not valid JSON");
        // formats beyond the hand-written byte-level BPE go to Hugging Face's library, which names what it cannot read
        tokenizerCase("tok-unsupported-model", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"type\" : \"BPE\"", "\"type\" : \"Unigram\""), tokenize, "tokenizer.json",
                "cannot read it", "model Unigram");
        tokenizerCase("tok-unknown-normalizer", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"normalizer\" : null", "\"normalizer\" : {\"type\" : \"Fancy\"}"), tokenize,
                "tokenizer.json", "cannot read it", "normalizer Fancy");
        tokenizerCase("tok-missing-byte-symbols", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"!\" : 33,", ""), tokenize, "lacks the byte symbol for 0x21");
        tokenizerCase("tok-bad-merge-entry", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"merges\" : [ ]", "\"merges\" : [ 42 ]"), tokenize, "model.merges[0]");
        tokenizerCase("tok-shared-id", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"#\" : 35,", "\"#\" : 34,"), tokenize, "share id 34");
        Path merges = tokenizerCase("tok-merges-txt-malformed", Tokenizers.VOCAB_JSON, vocabJson(), tokenize,
                "merges.txt line 2", "two symbols");
        Files.writeString(merges.resolve(Tokenizers.MERGES_TXT), "#version: 0.2\nab\n");
        tokenizerCase("tok-special-id-taken", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"id\" : 256", "\"id\" : 65"), tokenize, "belongs to token 'A'");
        tokenizerCase("tok-id-beyond-vocabulary", Tokenizers.TOKENIZER_JSON,
                bytesJson.replace("\"!\" : 33,", "\"!\" : 2000000000,"), tokenize, "beyond the vocabulary");
        tokenizerCase("tok-no-tokenizer-files", "README", "nothing here\n", tokenize, "no tokenizer found");

        // data and token files
        String tokensCmd = "tokenize --tokens @CASE@/%s --out @OUT@/t.safetensors --seqlen 2";
        dataCase("tokens-out-of-vocabulary", "ids.txt", "1 2 3\n4 300 5\n", String.format(tokensCmd, "ids.txt"),
                "ids.txt line 2", "token 2 is id 300", "[0, 257)");
        dataCase("tokens-not-integers", "ids.txt", "1 2 three\n", String.format(tokensCmd, "ids.txt"),
                "ids.txt line 1", "\"three\"");
        dataCase("tokens-negative-id", "ids.txt", "1 -2\n", String.format(tokensCmd, "ids.txt"), "id -2");
        dataCase("tokens-empty-file", "ids.txt", "\n\n", String.format(tokensCmd, "ids.txt"), "empty");
        dataCase("tokens-too-few", "ids.txt", "7\n", "tokenize --tokens @CASE@/ids.txt --out @OUT@/t.safetensors"
                + " --seqlen 16", "fewer than one block of --seqlen 16");
        Path p = dataCase("tokens-safetensors-float", "README", "", String.format(tokensCmd, "ids.safetensors"),
                "expected an integer type");
        SafetensorsWriter.write(storage, p.resolve("ids.safetensors").toString(), List.of(SafetensorsWriter.Entry
                .ofFloats("input_ids", DType.F32, new long[] {1, 2}, new float[] {1, 2})), Map.of());
        Files.delete(p.resolve("README"));
        p = dataCase("tokens-safetensors-wrong-rank", "README", "", String.format(tokensCmd, "ids.safetensors"),
                "expected [N, T]");
        SafetensorsWriter.write(storage, p.resolve("ids.safetensors").toString(), List.of(new SafetensorsWriter.Entry(
                "input_ids", DType.I32, new long[] {4}, org.sparseft.io.safetensors.TensorCodec.encodeI32(
                        new int[] {1, 2, 3, 4}))), Map.of());
        Files.delete(p.resolve("README"));
        p = dataCase("tokens-safetensors-no-ids", "README", "", String.format(tokensCmd, "ids.safetensors"),
                "no tensor named input_ids or tokens");
        SafetensorsWriter.write(storage, p.resolve("ids.safetensors").toString(), List.of(new SafetensorsWriter.Entry(
                "labels", DType.I32, new long[] {1, 2}, org.sparseft.io.safetensors.TensorCodec.encodeI32(
                        new int[] {1, 2}))), Map.of());
        Files.delete(p.resolve("README"));
        dataCase("data-path-missing", "README", "the data file is deliberately absent\n",
                "tokenize --data @CASE@/absent.txt --out @OUT@/t.safetensors", "absent.txt", "does not exist");
        dataCase("data-too-short", "text.txt", "Hi.\n", "tokenize --data @CASE@/text.txt --out @OUT@/t.safetensors"
                + " --seqlen 512", "fewer than one block of --seqlen 512");
        dataCase("data-only-blank-lines", "text.txt", "\n \n\t\n", "tokenize --data @CASE@/text.txt --out"
                + " @OUT@/t.safetensors", "no text found");
        dataCase("data-jsonl-missing-field", "docs.jsonl", "{\"body\": \"some text\"}\n",
                "tokenize --data @CASE@/docs.jsonl --out @OUT@/t.safetensors", "'text' not found", "[body]");
        dataCase("data-jsonl-field-not-string", "docs.jsonl", "{\"text\": 42}\n",
                "tokenize --data @CASE@/docs.jsonl --out @OUT@/t.safetensors", "type bigint", "expected string");
        dataCase("data-jsonl-malformed", "docs.jsonl", "{\"text\": \"fine\"}\n{\"text\": broken\n",
                "tokenize --data @CASE@/docs.jsonl --out @OUT@/t.safetensors", "docs.jsonl", "malformed JSON line");

        // flags
        dataCase("flag-seqlen-too-small", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out"
                + " @OUT@/t.safetensors --seqlen 1", "--seqlen 1", "at least 2");
        dataCase("flag-out-not-safetensors", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out @OUT@/t.bin",
                "--out", "ending in .safetensors");
        dataCase("flag-unknown-option", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out @OUT@/t.safetensors"
                + " --sparsity 0.5", "Unknown options: '--sparsity', '0.5'");
        dataCase("flag-not-a-number", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out @OUT@/t.safetensors"
                + " --seqlen many", "--seqlen", "'many' is not an int");
        dataCase("flag-conf-not-spark", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out @OUT@/t.safetensors"
                + " --conf fs.defaultFS=x", "--conf fs.defaultFS=x", "start with 'spark.'");
        dataCase("flag-format-unknown", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out @OUT@/t.safetensors"
                + " --format csv", "--format csv", "expected auto, text, jsonl or parquet");
        Path existing = dataCase("flag-output-exists", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out"
                + " @CASE@/existing.safetensors", "--out", "already exists (use --force to replace it)");
        Files.writeString(existing.resolve("existing.safetensors"), "an earlier result, to be kept\n");
        Path asDir = dataCase("flag-output-is-a-directory", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out"
                + " @CASE@/results.safetensors --force", "results.safetensors", "is a directory");
        Files.createDirectories(asDir.resolve("results.safetensors"));
        Files.writeString(asDir.resolve("results.safetensors").resolve("keep.txt"), "kept\n");
        dataCase("flag-output-under-a-file", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --out"
                + " @CASE@/text.txt/t.safetensors", "--out", "cannot be written", "text.txt is a file, not a directory");
        dataCase("flag-both-inputs", "text.txt", TEXT, "tokenize --data @CASE@/text.txt --tokens @CASE@/text.txt"
                + " --out @OUT@/t.safetensors", "mutually exclusive");

        // prune: methods, sparsity targets, calibration
        String prune = "prune --model @CASE@/model --out @OUT@/pruned --tokens @CASE@/ids.txt --seqlen 4 --nsamples 2"
                + " --master local[2]";
        pruneCase("prune-sparsity-out-of-range", prune + " --method wanda --sparsity 1.0", "--sparsity 1.0",
                "a fraction in [0, 1)");
        pruneCase("prune-pattern-n-not-below-m", prune + " --method wanda --pattern 4:4", "--pattern 4:4",
                "1 <= N < M");
        pruneCase("prune-pattern-does-not-divide", prune + " --method magnitude --pattern 3:8", "--pattern 3:8",
                "h.0.attn.c_attn.weight", "not a multiple of 8");
        pruneCase("prune-method-unknown", prune + " --method obs --sparsity 0.5", "--method obs",
                "expected magnitude, wanda, dsnot or sparsegpt");
        pruneCase("prune-sparsegpt-percdamp-zero", prune + " --method sparsegpt --sparsity 0.5"
                + " --sparsegpt-percdamp 0", "--sparsegpt-percdamp 0.0", "a fraction in (0, 1)");
        pruneCase("prune-per-layer-missing", prune + " --method wanda --sparsity 0.5 --sparsity-per-layer"
                + " @CASE@/plan.json", "plan.json", "no such file");
        Path planNotObject = pruneCase("prune-per-layer-not-object", prune + " --method wanda --sparsity 0.5"
                + " --sparsity-per-layer @CASE@/plan.json", "plan.json", "expected a JSON object");
        Files.writeString(planNotObject.resolve("plan.json"), "[0.5, 0.6]\n");
        Path planBadValue = pruneCase("prune-per-layer-bad-ratio", prune + " --method wanda --sparsity 0.5"
                + " --sparsity-per-layer @CASE@/plan.json", "plan.json", "key \"mlp\"", "a fraction in [0, 1)");
        Files.writeString(planBadValue.resolve("plan.json"), "{\"attn\": 0.4, \"mlp\": 1.5}\n");
        Path planBadRegex = pruneCase("prune-per-layer-bad-regex", prune + " --method wanda --sparsity 0.5"
                + " --sparsity-per-layer @CASE@/plan.json", "plan.json", "key \"h.(0\"", "not a regular expression");
        Files.writeString(planBadRegex.resolve("plan.json"), "{\"h.(0\": 0.4}\n");
        Path shortCalib = pruneCase("prune-calibration-too-short", prune + " --method wanda --sparsity 0.5",
                "fewer than one block of --seqlen 4");
        Files.writeString(shortCalib.resolve("ids.txt"), "1 2\n");
        Path noConfig = pruneCase("prune-model-without-config", prune + " --method wanda --sparsity 0.5",
                "config.json");
        Files.delete(noConfig.resolve("model").resolve("config.json"));

        // outputs over inputs: --force must never replace the model it reads (the case's file count is checked)
        pruneCase("prune-out-is-the-model", "prune --model @CASE@/model --out @CASE@/model --force --tokens"
                + " @CASE@/ids.txt --seqlen 4 --nsamples 2 --method wanda --sparsity 0.5", "model: is the input --model",
                "write the output elsewhere");
        pruneCase("finetune-out-contains-the-model", "finetune --model @CASE@/model --out @CASE@ --force --tokens"
                + " @CASE@/ids.txt --seqlen 4 --batch 2 --steps 2 --method pst --sparsity 0.5", "contains the input"
                + " --model");

        // weights that are not numbers: refused when loaded, never trained on or pruned
        Path nan = pruneCase("prune-nan-weights", prune + " --method wanda --sparsity 0.5", "transformer.h.0.attn"
                + ".c_attn.weight", "holds NaN or infinite values");
        writeModelWithFirstValue(nan.resolve("model"), "transformer.h.0.attn.c_attn.weight", F16_NAN);
        Path nanTune = pruneCase("finetune-infinite-weights", "finetune --model @CASE@/model --out @OUT@/tuned"
                + " --tokens @CASE@/ids.txt --seqlen 4 --batch 2 --steps 2 --master local[2] --method pst --sparsity"
                + " 0.5", "transformer.h.0.mlp.c_fc.weight", "holds NaN or infinite values");
        writeModelWithFirstValue(nanTune.resolve("model"), "transformer.h.0.mlp.c_fc.weight", F16_INFINITY);

        // finetune: methods and their options
        String finetune = "finetune --model @CASE@/model --out @OUT@/tuned --tokens @CASE@/ids.txt --seqlen 4"
                + " --batch 2 --steps 2 --master local[2]";
        pruneCase("finetune-method-unknown", finetune + " --method lora --sparsity 0.5", "--method lora",
                "expected pst or ast");
        pruneCase("finetune-sparsity-out-of-range", finetune + " --method pst --sparsity 1.5", "--sparsity 1.5",
                "a fraction in [0, 1)");
        pruneCase("finetune-run-under-a-file", finetune + " --method pst --sparsity 0.5 --run @CASE@/ids.txt/run",
                "--run", "cannot be written", "ids.txt is a file, not a directory");
        pruneCase("finetune-pst-warmups-too-long", finetune + " --method pst --sparsity 0.5 --pst-initial-warmup 0.6"
                + " --pst-final-warmup 0.5", "--pst-initial-warmup 0.6", "adding up to less than 1");
        pruneCase("finetune-pst-mask-rank-zero", finetune + " --method pst --sparsity 0.5 --pst-mask-rank 0",
                "--pst-mask-rank at least 1");
        pruneCase("finetune-ast-unstructured", finetune + " --method ast --sparsity 0.5", "--method ast selects N:M",
                "--pattern N:M");
        pruneCase("finetune-ast-slorb-group-does-not-divide", finetune + " --method ast --pattern 2:4"
                + " --ast-slorb-group 5", "--ast-slorb-group 5", "not a multiple of 5");
        pruneCase("finetune-ast-decay-negative", finetune + " --method ast --pattern 2:4 --ast-decay -1",
                "--ast-decay -1.0", "non-negative");
        pruneCase("finetune-ast-no-loss", finetune + " --method ast --pattern 2:4 --ast-task-weight 0"
                + " --ast-kl-weight 0", "--ast-task-weight", "not both 0");
        // options of the other method are refused, not ignored; given at its default value counts as given
        pruneCase("prune-wanda-given-a-dsnot-option", prune + " --method wanda --sparsity 0.5 --dsnot-max-cycles 50",
                "--dsnot-max-cycles applies to --method dsnot, not wanda");
        pruneCase("prune-dsnot-given-a-sparsegpt-option", prune + " --method dsnot --pattern 2:4"
                + " --sparsegpt-blocksize 64", "--sparsegpt-blocksize applies to --method sparsegpt, not dsnot");
        pruneCase("prune-sparsegpt-given-the-obs-update", prune + " --method sparsegpt --pattern 2:4 --update obs",
                "--update obs", "SparseGPT updates the kept weights itself");
        pruneCase("prune-update-unknown", prune + " --method wanda --pattern 2:4 --update lsq", "--update lsq",
                "none", "obs");
        pruneCase("prune-owl-with-an-n-m-pattern", prune + " --method wanda --pattern 2:4 --sparsity-profile owl",
                "--sparsity-profile owl", "N:M patterns stay uniform");
        pruneCase("prune-owl-lambda-too-large", prune + " --method wanda --sparsity 0.7 --sparsity-profile owl"
                + " --owl-lambda 0.3", "--owl-lambda 0.3", "expected a value in [0, 0.3000)");
        pruneCase("prune-owl-lambda-negative", prune + " --method magnitude --sparsity 0.5 --sparsity-profile owl"
                + " --owl-lambda -0.1", "--owl-lambda -0.1", "at least 0");
        pruneCase("prune-owl-m-not-positive", prune + " --method wanda --sparsity 0.5 --sparsity-profile owl"
                + " --owl-m 0", "--owl-m 0.0", "positive");
        pruneCase("prune-owl-option-without-owl", prune + " --method wanda --sparsity 0.5 --owl-lambda 0.05",
                "--owl-lambda applies to --sparsity-profile owl only");
        pruneCase("prune-sparsity-profile-unknown", prune + " --method wanda --sparsity 0.5 --sparsity-profile"
                + " outlier", "--sparsity-profile outlier", "uniform", "owl");
        pruneCase("prune-recover-steps-negative", prune + " --method wanda --sparsity 0.5 --recover-steps -1",
                "--recover-steps -1", "expected 0 (off) or more");
        pruneCase("prune-recover-lr-not-positive", prune + " --method wanda --sparsity 0.5 --recover-steps 2"
                + " --recover-lr 0", "--recover-lr 0.0", "positive");
        pruneCase("prune-recover-batch-zero", prune + " --method magnitude --pattern 2:4 --recover-steps 2"
                + " --recover-batch 0", "--recover-batch 0", "at least 1");
        pruneCase("prune-tokenizer-beyond-model-vocabulary", prune.replace("--tokens", "--tokenizer byte --calib")
                + " --method wanda --sparsity 0.5", "tokenizer byte has 257 tokens", "more than the model's vocabulary",
                "vocab_size");
        pruneCase("prune-recover-holdout-negative", prune + " --method wanda --sparsity 0.5 --recover-steps 2"
                + " --recover-holdout -4", "--recover-holdout -4", "expected 0 (none) or more");
        pruneCase("prune-recover-option-without-steps", prune + " --method wanda --sparsity 0.5 --recover-lr 1e-4",
                "--recover-lr applies with --recover-steps above 0 only");
        pruneCase("finetune-ast-with-owl", finetune + " --method ast --pattern 2:4 --sparsity-profile owl",
                "--sparsity-profile owl", "N:M patterns stay uniform");
        pruneCase("finetune-owl-nsamples-zero", finetune + " --method pst --sparsity 0.5 --sparsity-profile owl"
                + " --owl-nsamples 0", "--owl-nsamples 0", "at least 1");
        pruneCase("finetune-owl-option-without-owl", finetune + " --method pst --sparsity 0.5 --owl-m 3",
                "--owl-m applies to --sparsity-profile owl only");
        pruneCase("finetune-ast-given-a-pst-option", finetune + " --method ast --pattern 2:4 --pst-weight-rank 8",
                "--pst-weight-rank applies to --method pst, not ast");
        pruneCase("finetune-pst-given-an-ast-option", finetune + " --method pst --sparsity 0.5 --ast-decay 6e-5",
                "--ast-decay applies to --method ast, not pst");
        Path boosted = pruneCase("prune-input-has-slorb-branch", prune + " --method wanda --sparsity 0.5",
                "slorb.safetensors", "carries a SLoRB branch");
        Files.writeString(boosted.resolve("model").resolve("slorb.safetensors"), "any content: its presence counts");

        // pretrain: training options and run directories
        String pretrain = "pretrain --config @CASE@/config.json --data @CASE@/text.txt --out @OUT@/m --seqlen 8"
                + " --steps 2 --master local[2]";
        pretrainCase("train-sync-unknown", pretrain + " --sync ring", "--sync ring", "expected grad, average or sharded");
        pretrainCase("train-batch-uneven", pretrain + " --batch 3 --partitions 2",
                "--batch 3 is not a multiple of --partitions 2");
        pretrainCase("train-micro-batch-uneven", pretrain + " --batch 4 --partitions 2 --micro-batch 3",
                "--micro-batch 3 does not divide the 2 sequences");
        pretrainCase("train-keep-zero", pretrain + " --keep 0", "--keep 0", "at least 1");
        pretrainCase("train-steps-negative", pretrain.replace("--steps 2", "--steps -3"), "--steps -3",
                "expected at least 1");
        pretrainCase("train-lr-zero", pretrain + " --lr 0", "--lr 0.0", "expected a positive value");
        Path earlier = pretrainCase("train-run-has-checkpoints", pretrain + " --run @CASE@/run",
                "holds checkpoints of an earlier run", "--resume", "--force");
        Files.createDirectories(earlier.resolve("run/checkpoints/step-0000002"));
        Files.writeString(earlier.resolve("run/checkpoints/step-0000002/state.json"),
                "{\"format\": 1, \"step\": 2, \"optimizer_steps\": 2, \"identity\": {}}\n");
        Path other = pretrainCase("train-resume-other-settings", pretrain + " --run @CASE@/run --resume",
                "state.json", "field 'identity.config_sha256' is 0000", "resume with the original run's settings");
        Files.createDirectories(other.resolve("run/checkpoints/step-0000001"));
        Files.writeString(other.resolve("run/checkpoints/step-0000001/state.json"),
                "{\"format\": 1, \"step\": 1, \"optimizer_steps\": 1, \"identity\": {\"config_sha256\": \"0000\"}}\n");
        Path broken = pretrainCase("train-resume-state-not-json", pretrain + " --run @CASE@/run --resume",
                "state.json", "is not a sparseft training state");
        Files.createDirectories(broken.resolve("run/checkpoints/step-0000001"));
        Files.writeString(broken.resolve("run/checkpoints/step-0000001/state.json"), "{\"format\": 1, \"step\": \n");
    }

    // --- helpers -------------------------------------------------------------------------------------------

    private Path dir(String name) throws IOException {
        Path d = root.resolve(name);
        Files.createDirectories(d);
        return d;
    }

    private void expect(String name, String cmd, String... messages) throws IOException {
        Path d = dir(name);
        Files.writeString(d.resolve("cmd"), cmd + "\n");
        Files.writeString(d.resolve("expect"), String.join("\n", messages) + "\n");
    }

    private Path validModel(String name) throws IOException {
        Path d = dir(name);
        HfCheckpointWriter.write(storage, d.resolve("model").toString(), HfConfig.of(MICRO, "float16"),
                TinyCheckpoints.randomTensors(MICRO, DType.F16, 1), Map.of(), Map.of(), 0, true);
        Files.delete(d.resolve("model").resolve(HfCheckpointWriter.SUCCESS));
        return d.resolve("model");
    }

    /** A micro LLaMA of 2 layers (vocabulary 8, width 4, 2 heads of 2, 1 KV head), tied, with its config.json. */
    static final org.sparseft.model.LlamaConfig MICRO_LLAMA = org.sparseft.model.LlamaConfig.of(8, 4, 4, 8, 2, 2, 1,
            true);

    private Path validLlama(String name) throws IOException {
        Path d = dir(name);
        HfCheckpointWriter.write(storage, d.resolve("model").toString(), HfConfig.of(MICRO_LLAMA, "float16"),
                TinyCheckpoints.randomTensors(MICRO_LLAMA, DType.F16, 1), Map.of(), Map.of(), 0, true);
        Files.delete(d.resolve("model").resolve(HfCheckpointWriter.SUCCESS));
        return d.resolve("model");
    }

    /** Rewrites a case's model with one F16 NaN as the first value of {@code tensor}. */
    private static final short F16_NAN = 0x7E00;
    private static final short F16_INFINITY = 0x7C00;

    /** A valid F16 model except that the first value of {@code tensor} has the bits {@code f16} (NaN, infinity). */
    private void writeModelWithFirstValue(Path model, String tensor, short f16) throws IOException {
        List<SafetensorsWriter.Entry> tensors = new java.util.ArrayList<>();
        for (SafetensorsWriter.Entry e : TinyCheckpoints.randomTensors(MICRO, DType.F16, 1)) {
            if (e.name().equals(tensor)) {
                ByteBuffer b = ByteBuffer.allocate(e.bytes().remaining())
                        .order(ByteOrder.LITTLE_ENDIAN);
                b.put(e.bytes().duplicate()).flip();
                b.putShort(0, f16);
                e = new SafetensorsWriter.Entry(e.name(), e.dtype(), e.shape(), b);
            }
            tensors.add(e);
        }
        storage.delete(model.toString());
        HfCheckpointWriter.write(storage, model.toString(), HfConfig.of(MICRO, "float16"), tensors, Map.of(), Map.of(),
                0, true);
        Files.delete(model.resolve(HfCheckpointWriter.SUCCESS));
    }

    private Path validShardedModel(String name) throws IOException {
        Path d = dir(name);
        List<SafetensorsWriter.Entry> tensors = TinyCheckpoints.randomTensors(MICRO, DType.F16, 1);
        long half = tensors.stream().mapToLong(e -> e.bytes().remaining()).sum() / 2 + 1;
        HfCheckpointWriter.write(storage, d.resolve("model").toString(), HfConfig.of(MICRO, "float16"), tensors,
                Map.of(), Map.of(), half, true);
        Files.delete(d.resolve("model").resolve(HfCheckpointWriter.SUCCESS));
        return d.resolve("model");
    }

    private static List<String> shards(Path model) throws IOException {
        try (var s = Files.list(model)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("model-")).sorted().toList();
        }
    }

    private void badWeights(String name, byte[] weights, String... messages) throws IOException {
        Path m = validModel(name);
        Files.write(m.resolve("model.safetensors"), weights);
        expect(name, INSPECT, messages);
    }

    private void rewriteWeights(Path model, String without) throws IOException {
        List<SafetensorsWriter.Entry> kept = TinyCheckpoints.randomTensors(MICRO, DType.F16, 1).stream()
                .filter(e -> !e.name().equals(without)).toList();
        SafetensorsWriter.write(storage, model.resolve("model.safetensors").toString(), kept, Map.of("format", "pt"));
    }

    private static void editConfig(Path model, String from, String to) throws IOException {
        Path cfg = model.resolve("config.json");
        String text = Files.readString(cfg);
        if (!text.contains(from)) {
            throw new IllegalStateException("config.json of " + model + " has no '" + from + "'");
        }
        Files.writeString(cfg, text.replaceFirst(java.util.regex.Pattern.quote(from), to));
    }

    private Path tokenizerCase(String name, String file, String content, String cmd, String... messages)
            throws IOException {
        Path d = dir(name);
        Files.writeString(d.resolve("text.txt"), TEXT);
        Files.createDirectories(d.resolve("tok"));
        Files.writeString(d.resolve("tok").resolve(file), content);
        expect(name, cmd, messages);
        return d.resolve("tok");
    }

    /** A prune case: the micro GPT-2 and a token file of ids below its vocabulary of 8. */
    private Path pruneCase(String name, String cmd, String... messages) throws IOException {
        Path d = validModel(name).getParent();
        Files.writeString(d.resolve("ids.txt"), "1 2 3 4 5 6 7 1 2 3 4 5 6 7 1 2 3 4 5 6 7\n");
        expect(name, cmd, messages);
        return d;
    }

    /** A pretrain case: a tiny LLaMA config.json and enough text for a few blocks of 8 byte tokens. */
    private Path pretrainCase(String name, String cmd, String... messages) throws IOException {
        Path d = dataCase(name, "text.txt", TEXT.repeat(8), cmd, messages);
        Files.writeString(d.resolve("config.json"), HfConfig.of(
                org.sparseft.model.LlamaConfig.of(257, 32, 32, 64, 2, 4, 2, true), "float32").toJsonText());
        return d;
    }

    private Path dataCase(String name, String file, String content, String cmd, String... messages) throws IOException {
        Path d = dir(name);
        Files.writeString(d.resolve(file), content);
        expect(name, cmd, messages);
        return d;
    }

    /** A vocab.json holding just the 256 byte symbols. */
    private static String vocabJson() {
        StringBuilder sb = new StringBuilder("{");
        char[] map = ByteLevelBpe.byteToUnicode();
        for (int b = 0; b < 256; b++) {
            String sym = String.valueOf(map[b]);
            String escaped = sym.equals("\"") ? "\\\"" : sym.equals("\\") ? "\\\\" : sym;
            sb.append(b == 0 ? "" : ",").append('"').append(escaped).append("\":").append(b);
        }
        return sb.append("}").toString();
    }

    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + ","
                + end + "]}";
    }

    static byte[] raw(String json, int dataBytes) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        return raw(header, header.length, dataBytes);
    }

    static byte[] raw(byte[] header, long declaredLength, int dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        for (int i = 0; i < dataBytes; i++) {
            b.put((byte) (i + 1));
        }
        return b.array();
    }

    private static byte[] truncate(byte[] b, int n) {
        return java.util.Arrays.copyOf(b, b.length - n);
    }
}
