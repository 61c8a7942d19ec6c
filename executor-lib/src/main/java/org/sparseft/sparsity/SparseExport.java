package org.sparseft.sparsity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfCheckpointWriter;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.io.safetensors.TensorInfo;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.Parameters;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a pruned checkpoint in its input's exact layout: the same shard files (a single file above 5 GB is split into
 * shards with an index, as {@code save_pretrained} writes them), tensor names, order and dtypes, every
 * kept weight's bytes untouched (unless the method updated it, as SparseGPT does) and every pruned weight exactly
 * zero, so any loader of the input reads the output.
 * Beside it: {@code masks.safetensors} (U8, 1 = kept, stored layout) and {@code sparsity.json}; {@code config.json}
 * is the input's, with the compressed-tensors sparsity block only when asked ({@link ExportMetadata}). Everything
 * else in the input directory (tokenizer files, generation config, chat template, index) is copied as it is.
 */
public final class SparseExport {
    private SparseExport() {
    }

    /**
     * @param masks keep-masks in compute layout ([out, in]) by weight name; weights without one are copied
     * @param updated new values in compute layout for the weights a method changed (encoded in the stored dtype);
     *                the others keep their input bytes
     * @param provenance the job's record for {@code sparsity.json} (a Jackson-serializable record), to which the
     *                   per-tensor figures are added
     * @param ignored module names left dense on purpose (for the compressed-tensors {@code ignore} list)
     * @param metadata whether {@code config.json} gets the compressed-tensors sparsity block
     * @return the {@code sparsity.json} written
     */
    public static <P> SparsityFile<P> write(Storage storage, String inputDir, String outputDir,
                                            Map<String, INDArray> masks, Map<String, INDArray> updated,
                                            String structure, P provenance, List<String> ignored,
                                            ExportMetadata metadata, boolean replace)
            throws IOException {
        return write(storage, inputDir, outputDir, PrunedWeights.of(masks, updated), structure, provenance, ignored,
                metadata, Map.of(), replace);
    }

    /**
     * As {@link #write(Storage, String, String, Map, Map, String, Object, List, ExportMetadata, boolean)}, with the
     * decisions read one tensor at a time from {@code pruned} and extra safetensors files (by file name) written into
     * the same atomic output (a method's side branch). Memory holds one tensor at a time, whatever the model's size.
     */
    public static <P> SparsityFile<P> write(Storage storage, String inputDir, String outputDir, PrunedWeights pruned,
                                            String structure, P provenance, List<String> ignored,
                                            ExportMetadata metadata,
                                            Map<String, List<SafetensorsWriter.Entry>> extraFiles, boolean replace)
            throws IOException {
        try (HfCheckpoint in = HfCheckpoint.open(storage, inputDir)) {
            in.validateAgainstConfig();
            var model = in.model();
            Map<String, SparsityFile.TensorSparsity> perTensor = new LinkedHashMap<>();
            long[] totals = new long[2]; // pruned, total over the masked weights
            List<SafetensorsWriter.Entry> maskEntries = new ArrayList<>();
            Map<String, List<SafetensorsWriter.Entry>> byShard = new LinkedHashMap<>();
            for (String shard : in.shardFiles()) {
                byShard.put(shard, new ArrayList<>());
            }
            for (String stored : in.tensorNames()) {
                TensorInfo info = in.info(stored);
                String canonical = HfCheckpoint.canonical(model, stored);
                boolean transposed = Parameters.storedTransposed(model, canonical);
                boolean masked = pruned.masked().contains(canonical);
                long[] computeShape = transposed ? new long[] {info.shape()[1], info.shape()[0]} : info.shape();
                // each tensor's bytes are produced when the writer reaches it, and dropped once written
                byShard.get(in.shardOf(stored)).add(new SafetensorsWriter.Entry(stored, info.dtype(), info.shape(),
                        () -> {
                            float[] newValues = pruned.updated(canonical);
                            ByteBuffer bytes = newValues == null ? in.rawBytes(stored) // a fresh buffer, ours to change
                                    : TensorCodec.encodeFloats(transposed ? transpose(newValues, computeShape)
                                    : newValues, info.dtype());
                            if (masked) {
                                zeroPruned(bytes, info.dtype(), pruned.keep(canonical), computeShape, transposed);
                            }
                            return bytes;
                        }));
                if (masked) {
                    maskEntries.add(new SafetensorsWriter.Entry(stored, DType.U8, info.shape(), () -> {
                        byte[] keep = pruned.keep(canonical);
                        byte[] maskBytes = transposed ? transpose(keep, computeShape) : keep;
                        long zeros = 0;
                        for (byte b : maskBytes) {
                            zeros += b == 0 ? 1 : 0;
                        }
                        totals[0] += zeros;
                        totals[1] += maskBytes.length;
                        perTensor.put(canonical, new SparsityFile.TensorSparsity((double) zeros / maskBytes.length,
                                zeros, maskBytes.length));
                        return ByteBuffer.wrap(maskBytes);
                    }));
                }
            }
            ObjectNode config = in.config().json().deepCopy();
            List<SparsityFile<P>> written = new ArrayList<>();
            AtomicOutput.writeDirectory(storage, outputDir, replace, tmp -> {
                for (String name : storage.list(inputDir)) {
                    if (!byShard.containsKey(name) && !name.equals(HfCheckpoint.CONFIG) && !name.equals(SlorbBranch.FILE)
                            && !name.equals(HfCheckpointWriter.SUCCESS) && !storage.isDirectory(Storage.join(inputDir, name))) {
                        storage.writeAtomically(Storage.join(tmp, name), storage.readAllBytes(Storage.join(inputDir, name)));
                    }
                }
                if (oversizedSingleFile(byShard)) { // split as save_pretrained would have written it
                    String only = byShard.keySet().iterator().next();
                    HfCheckpointWriter.writeWeights(storage, tmp, byShard.get(only), in.shardMetadata(only),
                            HfCheckpointWriter.HUB_SHARD_BYTES);
                } else {
                    for (Map.Entry<String, List<SafetensorsWriter.Entry>> shard : byShard.entrySet()) {
                        SafetensorsWriter.write(storage, Storage.join(tmp, shard.getKey()), shard.getValue(),
                                in.shardMetadata(shard.getKey()));
                    }
                }
                for (Map.Entry<String, List<SafetensorsWriter.Entry>> extra : extraFiles.entrySet()) {
                    SafetensorsWriter.write(storage, Storage.join(tmp, extra.getKey()), extra.getValue(),
                            Map.of("producer", "sparseft"));
                }
                // writing the masks counts the pruned weights, which sparsity.json and config.json report
                SafetensorsWriter.write(storage, Storage.join(tmp, "masks.safetensors"), maskEntries,
                        Map.of("format", "pt", "meaning", "1 = kept, 0 = pruned; stored layout of each weight"));
                double global = totals[1] == 0 ? 0 : (double) totals[0] / totals[1];
                if (metadata == ExportMetadata.COMPRESSED_TENSORS) {
                    ObjectNode sparsityConfig = config.putObject(QUANTIZATION_CONFIG)
                            .put("quant_method", "compressed-tensors").putObject("sparsity_config");
                    sparsityConfig.put("format", "dense").put("sparsity_structure", structure)
                            .put("global_sparsity", global);
                    sparsityConfig.putArray("targets").add(model instanceof Gpt2Config ? "Conv1D" : "Linear");
                    ArrayNode ignore = sparsityConfig.putArray("ignore").add("lm_head");
                    ignored.forEach(ignore::add);
                } else if (sparsityOnly(config.get(QUANTIZATION_CONFIG))) {
                    config.remove(QUANTIZATION_CONFIG); // an earlier export's figures, no longer true of these weights
                }
                SparsityFile<P> sparsity = new SparsityFile<>(provenance, perTensor, global);
                written.add(sparsity);
                write(storage, Storage.join(tmp, HfCheckpoint.CONFIG),
                        Json.PRETTY.writeValueAsBytes(config));
                write(storage, Storage.join(tmp, "sparsity.json"),
                        Json.PRETTY.writeValueAsBytes(sparsity));
                write(storage, Storage.join(tmp, HfCheckpointWriter.SUCCESS), new byte[0]);
            });
            return written.get(0);
        }
    }

    private static final String QUANTIZATION_CONFIG = "quantization_config";

    /** One {@code model.safetensors} above the hub's 5 GB shard size: the output is sharded with an index. */
    private static boolean oversizedSingleFile(Map<String, List<SafetensorsWriter.Entry>> byShard) {
        if (byShard.size() != 1 || !byShard.containsKey(HfCheckpoint.WEIGHTS)) {
            return false;
        }
        long bytes = 0;
        for (SafetensorsWriter.Entry e : byShard.get(HfCheckpoint.WEIGHTS)) {
            bytes += e.byteSize();
        }
        return bytes > HfCheckpointWriter.HUB_SHARD_BYTES;
    }

    /** A compressed-tensors block that only describes sparsity (no quantization groups), as an export writes it. */
    private static boolean sparsityOnly(JsonNode block) {
        return block != null && "compressed-tensors".equals(block.path("quant_method").asText())
                && block.has("sparsity_config") && !block.has("config_groups");
    }

    private static void write(Storage storage, String path, byte[] bytes) throws IOException {
        try (var out = storage.create(path)) {
            out.write(bytes);
        }
    }

    /** Zeroes the pruned elements' bytes in place, given the keep-mask in compute layout. */
    private static void zeroPruned(ByteBuffer bytes, DType dtype, byte[] keep, long[] computeShape,
                                   boolean transposed) {
        int out = (int) computeShape[0];
        int inFeatures = (int) computeShape[1];
        int size = dtype.bytes();
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < inFeatures; j++) {
                if (keep[i * inFeatures + j] == 0) {
                    int stored = transposed ? j * out + i : i * inFeatures + j;
                    for (int b = 0; b < size; b++) {
                        bytes.put(stored * size + b, (byte) 0);
                    }
                }
            }
        }
    }

    /** [rows, cols] values in c order, transposed into [cols, rows]. */
    private static float[] transpose(float[] values, long[] shape) {
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        float[] t = new float[values.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = values[i * cols + j];
            }
        }
        return t;
    }

    private static byte[] transpose(byte[] values, long[] shape) {
        int rows = (int) shape[0];
        int cols = (int) shape[1];
        byte[] t = new byte[values.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = values[i * cols + j];
            }
        }
        return t;
    }
}
