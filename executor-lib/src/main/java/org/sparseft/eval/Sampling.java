package org.sparseft.eval;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.numerics.Workspaces;

import java.util.SplittableRandom;

/**
 * Ancestral sampling at temperature 1: text drawn from a model's own distribution, seeded and repeatable. It gives
 * in-distribution data for a model when its training text is not at hand (tests compare pruning methods on it).
 * Every step recomputes the whole prefix (no key/value cache), which is fine for short samples of small models.
 */
public final class Sampling {
    private Sampling() {
    }

    /** {@code sequences} samples of {@code length} tokens, each starting with {@code first}. */
    public static int[][] sample(DecoderModel model, int sequences, int length, int first, long seed) {
        if (length < 1 || length > model.config().maxPositions()) {
            throw new IllegalArgumentException("length " + length + ": expected 1.." + model.config().maxPositions());
        }
        SplittableRandom random = new SplittableRandom(seed);
        int[][] out = new int[sequences][length];
        for (int[] s : out) {
            s[0] = first;
        }
        int vocab = model.config().vocabSize();
        for (int t = 1; t < length; t++) {
            int prefix = t;
            int[] tokens = new int[sequences * prefix];
            for (int s = 0; s < sequences; s++) {
                System.arraycopy(out[s], 0, tokens, s * prefix, prefix);
            }
            double[][] probabilities = Workspaces.inStep("sampling", () -> {
                INDArray logits = model.logits(tokens, sequences, prefix, EffectiveWeights.DENSE);
                INDArray last = logits.reshape('c', sequences, prefix, vocab)
                        .get(NDArrayIndex.all(), NDArrayIndex.point(prefix - 1), NDArrayIndex.all());
                return Transforms.softmax(last.castTo(DataType.DOUBLE), true).toDoubleMatrix();
            });
            for (int s = 0; s < sequences; s++) {
                double u = random.nextDouble();
                int next = vocab - 1;
                double cumulative = 0;
                for (int v = 0; v < vocab; v++) {
                    cumulative += probabilities[s][v];
                    if (u < cumulative) {
                        next = v;
                        break;
                    }
                }
                out[s][t] = next;
            }
        }
        return out;
    }
}
