package org.sparseft.data;

import org.sparseft.BadInputException;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.io.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pre-tokenized input, the alternative to text for every job: a {@code .txt} file with one sequence of
 * whitespace-separated ids per line, or a {@code .safetensors} file with an integer tensor {@code input_ids} (or
 * {@code tokens}) of shape [N, T]. Ids are checked against the model's vocabulary; an error names the line or row.
 */
public final class TokenFiles {
    public static final List<String> TENSOR_NAMES = List.of("input_ids", "tokens");

    private TokenFiles() {
    }

    /**
     * Reads token sequences; rows of a text file may differ in length.
     *
     * @param vocabSize ids must lie in [0, vocabSize); 0 skips the check
     */
    public static List<int[]> read(Storage storage, String path, int vocabSize) throws IOException {
        if (!storage.exists(path)) {
            throw BadInputException.at(path, "token file does not exist");
        }
        List<int[]> rows = path.endsWith(".safetensors") ? readSafetensors(storage, path, vocabSize)
                : readText(storage, path, vocabSize);
        if (rows.isEmpty()) {
            throw BadInputException.at(path, "no token sequences (the file is empty)");
        }
        return rows;
    }

    private static List<int[]> readText(Storage storage, String path, int vocabSize) throws IOException {
        String text = new String(storage.readAllBytes(path), StandardCharsets.UTF_8);
        List<int[]> rows = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int li = 0; li < lines.length; li++) {
            String line = lines[li].strip();
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("\\s+");
            int[] ids = new int[parts.length];
            for (int j = 0; j < parts.length; j++) {
                long id;
                try {
                    id = Long.parseLong(parts[j]);
                } catch (NumberFormatException e) {
                    throw BadInputException.at(path + " line " + (li + 1), "token " + (j + 1) + " is \""
                            + abbreviate(parts[j]) + "\", expected a non-negative integer id");
                }
                ids[j] = checkId(id, vocabSize, path + " line " + (li + 1), "token " + (j + 1));
            }
            rows.add(ids);
        }
        return rows;
    }

    private static List<int[]> readSafetensors(Storage storage, String path, int vocabSize) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(storage, path)) {
            String name = TENSOR_NAMES.stream().filter(f::contains).findFirst().orElseThrow(() ->
                    BadInputException.at(path, "no tensor named " + String.join(" or ", TENSOR_NAMES)
                            + " (found " + f.tensors().stream().map(TensorInfo::name).toList() + ")"));
            TensorInfo info = f.info(name);
            if (!info.dtype().readableAsInteger() || info.dtype() == DType.BOOL) {
                throw BadInputException.at(path, "tensor '" + name + "' has dtype " + info.dtype()
                        + ", expected an integer type (I64, I32, ...)");
            }
            if (info.rank() != 2) {
                throw BadInputException.at(path, "tensor '" + name + "' has shape " + info.shapeString()
                        + ", expected [N, T]");
            }
            long[] flat = f.readIntegers(name);
            int n = (int) info.dim(0);
            int t = (int) info.dim(1);
            List<int[]> rows = new ArrayList<>(n);
            for (int r = 0; r < n; r++) {
                int[] ids = new int[t];
                for (int j = 0; j < t; j++) {
                    ids[j] = checkId(flat[r * t + j], vocabSize, path + " " + name + " row " + r, "position " + j);
                }
                rows.add(ids);
            }
            return rows;
        }
    }

    private static int checkId(long id, int vocabSize, String where, String what) {
        if (id < 0 || id > Integer.MAX_VALUE || (vocabSize > 0 && id >= vocabSize)) {
            throw BadInputException.at(where, what + " is id " + id + ", outside the vocabulary [0, " + vocabSize + ")");
        }
        return (int) id;
    }

    private static String abbreviate(String s) {
        return s.length() > 20 ? s.substring(0, 20) + "..." : s;
    }

    /** Writes equal-length blocks as an I32 {@code input_ids} tensor [N, T], atomically. */
    public static void writeBlocks(Storage storage, String path, List<int[]> blocks, Map<String, String> metadata)
            throws IOException {
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException("no blocks to write");
        }
        int t = blocks.get(0).length;
        int[] flat = new int[Math.multiplyExact(blocks.size(), t)];
        for (int i = 0; i < blocks.size(); i++) {
            if (blocks.get(i).length != t) {
                throw new IllegalArgumentException("block " + i + " has length " + blocks.get(i).length + ", not " + t);
            }
            System.arraycopy(blocks.get(i), 0, flat, i * t, t);
        }
        SafetensorsWriter.write(storage, path, List.of(new SafetensorsWriter.Entry("input_ids", DType.I32,
                new long[] {blocks.size(), t}, TensorCodec.encodeI32(flat))), metadata);
    }
}
