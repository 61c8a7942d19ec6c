package org.sparseft.io.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.SafetensorsWriter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a Hugging Face checkpoint directory atomically: everything goes into a temporary sibling directory that is
 * renamed into place at the end, with {@code _SUCCESS} written last inside it. Tensors keep the given order, names and
 * dtypes; with a shard size limit, they are split into {@code model-0000i-of-0000n.safetensors} plus an index.
 */
public final class HfCheckpointWriter {
    public static final String SUCCESS = "_SUCCESS";

    /** The shard size {@code save_pretrained} writes by default (5 GB, decimal), so large outputs look like the hub's. */
    public static final long HUB_SHARD_BYTES = 5_000_000_000L;

    private HfCheckpointWriter() {
    }

    /**
     * @param extraFiles other files of the directory (tokenizer files, sparsity.json...), by file name
     * @param maxShardBytes split into shards of at most this many tensor bytes; 0 writes one file
     * @param replace whether an existing {@code dir} is replaced (otherwise it is an error)
     */
    public static void write(Storage storage, String dir, HfConfig config, List<SafetensorsWriter.Entry> tensors,
                             Map<String, String> metadata, Map<String, byte[]> extraFiles, long maxShardBytes,
                             boolean replace) throws IOException {
        java.util.Set<String> names = new java.util.HashSet<>();
        for (SafetensorsWriter.Entry e : tensors) {
            if (!names.add(e.name())) {
                throw new IllegalArgumentException("tensor '" + e.name() + "' given twice");
            }
        }
        AtomicOutput.writeDirectory(storage, dir, replace, tmp -> {
            writeInto(storage, tmp, config, tensors, metadata, maxShardBytes);
            for (Map.Entry<String, byte[]> f : extraFiles.entrySet()) {
                try (var out = storage.create(Storage.join(tmp, f.getKey()))) {
                    out.write(f.getValue());
                }
            }
            try (var out = storage.create(Storage.join(tmp, SUCCESS))) {
                out.flush();
            }
        });
    }

    /** Writes config and weights into an existing directory (no atomicity of its own). */
    static void writeInto(Storage storage, String dir, HfConfig config, List<SafetensorsWriter.Entry> tensors,
                          Map<String, String> metadata, long maxShardBytes) throws IOException {
        try (var out = storage.create(Storage.join(dir, HfCheckpoint.CONFIG))) {
            out.write(config.toJsonText().getBytes(StandardCharsets.UTF_8));
        }
        writeWeights(storage, dir, tensors, metadata, maxShardBytes);
    }

    /**
     * Writes the weights into an existing directory: {@code model.safetensors}, or shards of at most
     * {@code maxShardBytes} tensor bytes named and indexed as {@code save_pretrained} names them.
     */
    public static void writeWeights(Storage storage, String dir, List<SafetensorsWriter.Entry> tensors,
                                    Map<String, String> metadata, long maxShardBytes) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.putIfAbsent("format", "pt"); // what transformers checks before loading a safetensors file
        List<List<SafetensorsWriter.Entry>> shards = split(tensors, maxShardBytes);
        if (shards.size() == 1) {
            SafetensorsWriter.write(storage, Storage.join(dir, HfCheckpoint.WEIGHTS), shards.get(0), meta);
            return;
        }
        ObjectNode index = Json.MAPPER.createObjectNode();
        long total = 0;
        for (SafetensorsWriter.Entry e : tensors) {
            total += e.byteSize();
        }
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
            SafetensorsWriter.write(storage, Storage.join(dir, name), shards.get(i), meta);
            for (SafetensorsWriter.Entry e : shards.get(i)) {
                weightMap.put(e.name(), name);
            }
        }
        try (var out = storage.create(Storage.join(dir, HfCheckpoint.INDEX))) {
            out.write(Json.PRETTY.writeValueAsBytes(index));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<List<SafetensorsWriter.Entry>> split(List<SafetensorsWriter.Entry> tensors, long maxShardBytes) {
        List<List<SafetensorsWriter.Entry>> shards = new ArrayList<>();
        List<SafetensorsWriter.Entry> current = new ArrayList<>();
        long size = 0;
        for (SafetensorsWriter.Entry e : tensors) {
            long b = e.byteSize();
            if (maxShardBytes > 0 && !current.isEmpty() && size + b > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(e);
            size += b;
        }
        shards.add(current);
        return shards;
    }
}
