package org.sparseft.io.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.TensorInfo;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Hugging Face checkpoint directory opened for reading: {@code config.json} plus {@code model.safetensors} or the
 * shards listed in {@code model.safetensors.index.json}. Tensors are read one at a time, on demand, so a checkpoint
 * larger than memory can be processed block by block ({@link #tensors}).
 *
 * <p>Names are kept as stored. GPT-2 checkpoints saved without the {@code transformer.} prefix (as OpenAI's
 * originals) are also found by their canonical, prefixed names.
 */
public final class HfCheckpoint implements Closeable {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";
    /** Pickle can execute code when loaded: never read, only recognised to explain the refusal. */
    private static final List<String> PICKLED = List.of("pytorch_model.bin", "pytorch_model.bin.index.json");
    private static final Pattern PLAIN_FILE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*\\.safetensors");
    /** Buffers GPT-2 checkpoints may carry that are not parameters (causal-mask constants). */
    private static final Pattern GPT2_BUFFERS = Pattern.compile("(transformer\\.)?h\\.\\d+\\.attn\\.(masked_)?bias");

    private final Storage storage;
    private final String dir;
    private final HfConfig config;
    private final Map<String, SafetensorsFile> shards; // shard file name -> open file
    private final Map<String, String> shardOfTensor;  // stored name -> shard file name, in checkpoint order
    private final Map<String, String> storedName;     // canonical name -> stored name

    private HfCheckpoint(Storage storage, String dir, HfConfig config, Map<String, SafetensorsFile> shards,
                         Map<String, String> shardOfTensor) {
        this.storage = storage;
        this.dir = dir;
        this.config = config;
        this.shards = shards;
        this.shardOfTensor = shardOfTensor;
        this.storedName = new LinkedHashMap<>();
        for (String name : shardOfTensor.keySet()) {
            storedName.put(canonical(config.model(), name), name);
        }
    }

    public static HfCheckpoint open(Storage storage, String dir) throws IOException {
        if (!storage.exists(dir)) {
            throw BadInputException.at(dir, "model directory does not exist");
        }
        if (!storage.isDirectory(dir)) {
            throw BadInputException.at(dir, "expected a Hugging Face model directory (config.json and"
                    + " *.safetensors), found a file");
        }
        HfConfig config = readConfig(storage, dir);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, String> shardOf = new LinkedHashMap<>();
        try {
            String index = Storage.join(dir, INDEX);
            if (storage.exists(index)) {
                openSharded(storage, dir, index, shards, shardOf);
            } else if (storage.exists(Storage.join(dir, WEIGHTS))) {
                SafetensorsFile f = SafetensorsFile.open(storage, Storage.join(dir, WEIGHTS));
                shards.put(WEIGHTS, f);
                for (TensorInfo t : f.tensors()) {
                    shardOf.put(t.name(), WEIGHTS);
                }
            } else {
                List<String> present = storage.list(dir);
                String hint = present.stream().anyMatch(PICKLED::contains)
                        ? "; found only a pickled pytorch_model.bin, which sparseft does not load (unpickling can run"
                        + " code): convert it to safetensors first, in a trusted Python environment with transformers:"
                        + " AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)"
                        : "";
                throw BadInputException.at(dir, "no " + WEIGHTS + " or " + INDEX + hint);
            }
        } catch (RuntimeException | IOException e) {
            for (SafetensorsFile f : shards.values()) {
                try {
                    f.close();
                } catch (IOException closing) {
                    e.addSuppressed(closing);
                }
            }
            throw e;
        }
        return new HfCheckpoint(storage, dir, config, Collections.unmodifiableMap(shards), Collections.unmodifiableMap(shardOf));
    }

    public static HfConfig readConfig(Storage storage, String dir) throws IOException {
        String path = Storage.join(dir, CONFIG);
        if (!storage.exists(path)) {
            throw BadInputException.at(dir, "missing " + CONFIG + " (expected a Hugging Face model directory)");
        }
        return HfConfig.parse(readText(storage, path), path);
    }

    static String readText(Storage storage, String path) throws IOException {
        long len = storage.length(path);
        if (len > SafetensorsFile.MAX_HEADER_BYTES) {
            throw BadInputException.at(path, "file of " + len + " bytes is too large for a JSON config");
        }
        return new String(storage.readAllBytes(path), StandardCharsets.UTF_8);
    }

    private static void openSharded(Storage storage, String dir, String indexPath, Map<String, SafetensorsFile> shards,
                                    Map<String, String> shardOf) throws IOException {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(readText(storage, indexPath));
        } catch (JsonProcessingException e) {
            throw BadInputException.at(indexPath, "not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw BadInputException.at(indexPath, "field 'weight_map' must be a non-empty object of tensor name to"
                    + " shard file name");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String tensor = e.getKey();
            if (!e.getValue().isTextual()) {
                throw BadInputException.at(indexPath, "weight_map['" + tensor + "'] must be a file name string");
            }
            String shard = e.getValue().asText();
            if (!PLAIN_FILE_NAME.matcher(shard).matches() || shard.contains("..")) {
                throw BadInputException.at(indexPath, "weight_map['" + tensor + "'] = \"" + shard
                        + "\": shards must be plain *.safetensors file names in the same directory"
                        + " (no paths, '..' or URIs)");
            }
            SafetensorsFile file = shards.get(shard);
            if (file == null) {
                String shardPath = Storage.join(dir, shard);
                if (!storage.exists(shardPath)) {
                    throw BadInputException.at(indexPath, "shard '" + shard + "' (holding tensor '" + tensor
                            + "') does not exist in " + dir);
                }
                file = SafetensorsFile.open(storage, shardPath);
                shards.put(shard, file);
            }
            if (!file.contains(tensor)) {
                throw BadInputException.at(indexPath, "tensor '" + tensor + "' is not in shard '" + shard + "'");
            }
            shardOf.put(tensor, shard);
        }
        // Order tensors by shard, then by position within the shard: the order a writer gave them.
        Map<String, String> ordered = new LinkedHashMap<>();
        for (Map.Entry<String, SafetensorsFile> s : shards.entrySet()) {
            for (TensorInfo t : s.getValue().tensors()) {
                if (s.getKey().equals(shardOf.get(t.name()))) {
                    ordered.put(t.name(), s.getKey());
                }
            }
        }
        shardOf.clear();
        shardOf.putAll(ordered);
    }

    /**
     * GPT-2 names without the {@code transformer.} prefix get it, OPT names of the original checkpoints
     * ({@code decoder.}, an {@code OPTModel}'s) get {@code model.}; other names are already canonical.
     */
    public static String canonical(ModelConfig model, String stored) {
        if (model instanceof Gpt2Config && !stored.startsWith("transformer.") && !stored.startsWith("lm_head.")) {
            return "transformer." + stored;
        }
        if (model instanceof org.sparseft.model.OptConfig && stored.startsWith("decoder.")) {
            return "model." + stored;
        }
        return stored;
    }

    public String dir() {
        return dir;
    }

    public Storage storage() {
        return storage;
    }

    /** Each tensor's stored dtype, by canonical name: what a changed weight must be rounded to before export. */
    public java.util.Map<String, org.sparseft.io.safetensors.DType> dtypesByCanonicalName() throws IOException {
        java.util.Map<String, org.sparseft.io.safetensors.DType> out = new java.util.LinkedHashMap<>();
        for (String stored : tensorNames()) {
            out.put(canonical(model(), stored), info(stored).dtype());
        }
        return out;
    }

    public HfConfig config() {
        return config;
    }

    public ModelConfig model() {
        return config.model();
    }

    /**
     * A SHA-256 over config.json, every shard file's content and a SLoRB branch if there is one: the key under which executors cache a loaded
     * model, so a checkpoint rewritten at the same path is loaded afresh. Where the file system keeps a content
     * checksum (HDFS), that stands in for reading the shard; elsewhere the shard is read once.
     */
    public String contentHash() throws IOException {
        java.security.MessageDigest sha = sha256();
        sha.update(storage.readAllBytes(Storage.join(dir, "config.json")));
        for (String shard : shardFiles()) {
            String path = Storage.join(dir, shard);
            sha.update(shard.getBytes(StandardCharsets.UTF_8));
            java.util.Optional<String> checksum = storage.checksum(path);
            if (checksum.isPresent()) {
                sha.update(checksum.get().getBytes(StandardCharsets.UTF_8));
                continue;
            }
            try (Storage.RandomAccessInput in = storage.openRandomAccess(path)) {
                for (long pos = 0; pos < in.length(); pos += 1 << 26) {
                    sha.update(in.read(pos, (int) Math.min(1 << 26, in.length() - pos)));
                }
            }
        }
        if (SlorbBranch.present(storage, dir)) { // part of the model sparseft loads
            sha.update(storage.readAllBytes(Storage.join(dir, SlorbBranch.FILE)));
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    private static java.security.MessageDigest sha256() {
        try {
            return java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stored tensor names in checkpoint order. */
    public List<String> tensorNames() {
        return new ArrayList<>(shardOfTensor.keySet());
    }

    /** The {@code __metadata__} of one shard file. */
    public Map<String, String> shardMetadata(String shardFile) {
        SafetensorsFile f = shards.get(shardFile);
        if (f == null) {
            throw new IllegalArgumentException("no shard '" + shardFile + "'");
        }
        return f.metadata();
    }

    /** Shard file names in the order first seen. */
    public List<String> shardFiles() {
        return new ArrayList<>(shards.keySet());
    }

    public String shardOf(String storedName) {
        return shardOfTensor.get(storedName);
    }

    public boolean contains(String name) {
        return resolve(name) != null;
    }

    private String resolve(String name) {
        if (shardOfTensor.containsKey(name)) {
            return name;
        }
        return storedName.get(name);
    }

    private SafetensorsFile fileOf(String name) {
        String stored = resolve(name);
        if (stored == null) {
            throw BadInputException.at(dir, "checkpoint has no tensor '" + name + "'");
        }
        return shards.get(shardOfTensor.get(stored));
    }

    /** Metadata of a tensor, by stored or canonical name. */
    public TensorInfo info(String name) {
        return fileOf(name).info(resolve(name));
    }

    public float[] readFloats(String name) throws IOException {
        return fileOf(name).readFloats(resolve(name));
    }

    public ByteBuffer rawBytes(String name) throws IOException {
        return fileOf(name).rawBytes(resolve(name));
    }

    /**
     * Reads every parameter the config implies, tensor by tensor, into compute layout in {@code dtype}; a SLoRB
     * branch beside the checkpoint ({@link SlorbBranch}) is added to the weights it covers.
     */
    public Parameters parameters(DataType dtype) throws IOException {
        validateAgainstConfig();
        ModelConfig config = model();
        Map<String, INDArray> t = tensors(config.expectedTensors().keySet(), dtype);
        SlorbBranch.read(storage, dir, config, Parameters.computeShapes(config))
                .forEach((w, term) -> t.get(w).addi(term.castTo(dtype)));
        return Parameters.ofModel(config, t);
    }

    /**
     * The tensors of block {@code layer} alone, in compute layout in {@code dtype}: what a layer-by-layer pass needs
     * of the model at a time (no SLoRB branch: {@link SlorbBranch#refuseAsInput} guards those passes).
     */
    public Parameters block(int layer, DataType dtype) throws IOException {
        return Parameters.of(model(), tensors(model().layerTensors(layer).keySet(), dtype));
    }

    /** The tensors that make block 0's input ({@link ModelConfig#embeddingTensors()}), as {@link #block}. */
    public Parameters embedding(DataType dtype) throws IOException {
        return Parameters.of(model(), tensors(model().embeddingTensors(), dtype));
    }

    /** The tensors that make logits of the last block's output ({@link ModelConfig#headTensors()}). */
    public Parameters head(DataType dtype) throws IOException {
        return Parameters.of(model(), tensors(model().headTensors(), dtype));
    }

    /**
     * Tensors by canonical name, in compute layout ({@link Parameters#storedTransposed} ones transposed) in
     * {@code dtype}, in the order given; a NaN or infinite value is refused naming the tensor.
     */
    public Map<String, INDArray> tensors(java.util.Collection<String> names, DataType dtype) throws IOException {
        ModelConfig config = model();
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (String name : names) {
            long[] shape = config.expectedTensors().get(name);
            if (shape == null) {
                throw new IllegalArgumentException("a " + config.modelType() + " model has no tensor '" + name + "'");
            }
            // each tensor an array of its own (not a reshaped view), so that Parameters#release can free it
            INDArray a = Nd4j.create(finiteFloats(name), shape, 'c');
            if (dtype != DataType.FLOAT) {
                a = replaced(a, a.castTo(dtype));
            }
            if (Parameters.storedTransposed(config, name)) {
                a = replaced(a, a.transpose().dup('c'));
            }
            t.put(name, a);
        }
        return t;
    }

    /** {@code next}, made from {@code a}, which is freed now rather than at a later garbage collection. */
    private static INDArray replaced(INDArray a, INDArray next) {
        Parameters.release(a);
        return next;
    }

    /** Reads each tensor once, refusing NaN or infinite values, and keeps nothing. */
    public void checkFinite(java.util.Collection<String> names) throws IOException {
        for (String name : names) {
            finiteFloats(name);
        }
    }

    private float[] finiteFloats(String name) throws IOException {
        float[] values = readFloats(name);
        for (float v : values) {
            if (!Float.isFinite(v)) {
                throw BadInputException.at(dir, "tensor '" + name
                        + "' holds NaN or infinite values; refusing to load it");
            }
        }
        return values;
    }

    /**
     * Checks that every tensor the config implies is present with the right shape (the tied LM head excepted) and
     * that no stored tensor is unknown apart from GPT-2's mask buffers and a tied head's copy. The layer count and
     * the sizes are checked against the tensors first, naming the config field: nothing sized by the config (not
     * even the list of expected names, which grows with the layer count) is made before they agree.
     */
    public void validateAgainstConfig() {
        ModelConfig m = config.model();
        checkLayerCount(m);
        Map<String, long[]> expected = m.expectedTensors();
        checkSizeFields(m, expected);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String stored = resolve(e.getKey());
            if (stored == null) {
                throw BadInputException.at(dir, "tensor '" + e.getKey() + "' is missing (required by " + CONFIG + ": "
                        + m.modelType() + ", " + m.numLayers() + " layers)");
            }
            long[] shape = info(stored).shape();
            if (!Arrays.equals(shape, e.getValue())) {
                throw BadInputException.at(dir, "tensor '" + stored + "' has shape " + Arrays.toString(shape) + " but "
                        + CONFIG + " implies " + Arrays.toString(e.getValue()));
            }
        }
        for (String stored : shardOfTensor.keySet()) {
            String c = canonical(m, stored);
            boolean tiedHead = c.equals("lm_head.weight") && m.tieWordEmbeddings();
            if (!expected.containsKey(c) && !tiedHead && !GPT2_BUFFERS.matcher(stored).matches()) {
                throw BadInputException.at(dir, "unexpected tensor '" + stored + "' for a " + m.modelType()
                        + " checkpoint with " + m.numLayers() + " layers");
            }
        }
    }

    /** The config's layer count against the blocks whose tensors the checkpoint holds. */
    private void checkLayerCount(ModelConfig m) {
        java.util.TreeMap<Long, String> layers = new java.util.TreeMap<>(); // block -> a stored tensor of it
        for (String stored : shardOfTensor.keySet()) {
            long l = m.layerOf(canonical(m, stored));
            if (l >= 0) {
                layers.putIfAbsent(l, stored);
            }
        }
        String field = CONFIG + " field '" + m.layersField() + "' is " + m.numLayers();
        if (!layers.isEmpty() && layers.lastKey() >= m.numLayers()) {
            Map.Entry<Long, String> extra = layers.ceilingEntry((long) m.numLayers());
            throw BadInputException.at(dir, field + ", but the checkpoint holds tensors of layer " + extra.getKey()
                    + " ('" + extra.getValue() + "')");
        }
        int missing = 0;
        while (layers.containsKey((long) missing)) {
            missing++;
        }
        if (missing < m.numLayers()) {
            String tensor = m.layerTensors(missing).keySet().iterator().next();
            throw BadInputException.at(dir, field + ", but the checkpoint holds tensors of " + layers.size()
                    + (layers.size() == 1 ? " layer" : " layers") + ": tensor '" + tensor + "' is missing");
        }
    }

    /** Each size field against the first tensor that shows it, so a disagreement names the field. */
    private void checkSizeFields(ModelConfig m, Map<String, long[]> expected) {
        for (ModelConfig.SizeField f : m.sizeFields()) {
            String stored = resolve(f.tensor());
            long[] want = expected.get(f.tensor());
            if (stored == null || want == null) {
                continue; // reported as missing below
            }
            long[] shape = info(stored).shape();
            if (shape.length == want.length && shape[f.dim()] != want[f.dim()]) {
                throw BadInputException.at(dir, "tensor '" + stored + "' has shape " + Arrays.toString(shape) + " but "
                        + CONFIG + " field '" + f.field() + "' = " + f.value() + " implies " + Arrays.toString(want));
            }
        }
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsFile f : shards.values()) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
