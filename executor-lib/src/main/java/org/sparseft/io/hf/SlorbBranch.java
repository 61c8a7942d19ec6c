package org.sparseft.io.hf;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.model.ModelConfig;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The SLoRB branch an AST export may carry beside its N:M checkpoint ({@value #FILE}): per prunable weight W [N, d],
 * {@code <module>.slorb_S} [N, d/k] and {@code <module>.slorb_P} [d/k, d], float32, whose product S·P adds to the
 * linear's weight. sparseft reads such a directory as the model it is, W + S·P; other loaders see the N:M weights.
 */
public final class SlorbBranch {
    public static final String FILE = "slorb.safetensors";

    private SlorbBranch() {
    }

    public static String s(String weight) {
        return module(weight) + ".slorb_S";
    }

    public static String p(String weight) {
        return module(weight) + ".slorb_P";
    }

    private static String module(String weight) {
        return weight.endsWith(".weight") ? weight.substring(0, weight.length() - ".weight".length()) : weight;
    }

    public static boolean present(Storage storage, String dir) throws IOException {
        return storage.exists(Storage.join(dir, FILE));
    }

    /**
     * Refuses a directory with a branch as the input of a sparse export: its weights are W + S·P, dense, and the
     * export keeps the input's bytes.
     */
    public static void refuseAsInput(Storage storage, String dir) throws IOException {
        if (present(storage, dir)) {
            throw BadInputException.at(Storage.join(dir, FILE), "this model carries a SLoRB branch (an AST export):"
                    + " its weights W + S·P are dense, so it cannot be pruned or fine-tuned into an N:M checkpoint"
                    + " again; start from the model it came from, or evaluate it");
        }
    }

    /**
     * S·P by weight name (compute layout [out, in]) for the weights the branch covers, checked against the
     * model's shapes; empty when the directory has no branch.
     */
    public static Map<String, INDArray> read(Storage storage, String dir, ModelConfig config,
                                             Map<String, long[]> shapes) throws IOException {
        Map<String, INDArray> terms = new LinkedHashMap<>();
        if (!present(storage, dir)) {
            return terms;
        }
        try (SafetensorsFile f = SafetensorsFile.open(storage, Storage.join(dir, FILE))) {
            for (String w : config.prunableWeights()) {
                if (!f.contains(s(w)) && !f.contains(p(w))) {
                    continue;
                }
                long[] shape = shapes.get(w);
                INDArray s = tensor(f, s(w));
                INDArray p = tensor(f, p(w));
                if (s.rank() != 2 || p.rank() != 2 || s.rows() != shape[0] || p.columns() != shape[1]
                        || s.columns() != p.rows()) {
                    throw BadInputException.at(f.path(), "tensors '" + s(w) + "' " + java.util.Arrays.toString(
                            s.shape()) + " and '" + p(w) + "' " + java.util.Arrays.toString(p.shape())
                            + " do not make a " + shape[0] + " x " + shape[1] + " term for '" + w + "'");
                }
                terms.put(w, s.mmul(p));
            }
        }
        return terms;
    }

    private static INDArray tensor(SafetensorsFile f, String name) throws IOException {
        if (!f.contains(name)) {
            throw BadInputException.at(f.path(), "has no tensor '" + name + "' (S and P come in pairs)");
        }
        return Nd4j.create(f.readFloats(name), f.info(name).shape(), 'c');
    }
}
