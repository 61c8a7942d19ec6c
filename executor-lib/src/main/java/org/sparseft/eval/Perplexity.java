package org.sparseft.eval;

import org.nd4j.linalg.api.ndarray.INDArray;

import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.numerics.Workspaces;
import org.sparseft.model.ops.CrossEntropy;

import java.util.List;

/**
 * Perplexity as the Wanda, SparseGPT and DSnoT evaluation code computes it (docs/algorithms.md §9): non-overlapping
 * windows of T tokens, each window's mean cross-entropy over its T−1 next-token predictions, and
 * PPL = exp(mean over windows of the window means).
 */
public final class Perplexity {
    private Perplexity() {
    }

    public record Result(double perplexity, double meanNll, int windows, int seqLen) {
    }

    /** Each window's mean negative log-likelihood, evaluating {@code batch} windows per forward pass. */
    public static double[] windowNlls(DecoderModel model, List<int[]> windows, int batch, EffectiveWeights weights) {
        double[] out = new double[windows.size()];
        for (int start = 0; start < windows.size(); start += batch) {
            int b = Math.min(batch, windows.size() - start);
            int t = windows.get(start).length;
            int[] tokens = new int[b * t];
            for (int i = 0; i < b; i++) {
                int[] w = windows.get(start + i);
                if (w.length != t) {
                    throw new IllegalArgumentException("window " + (start + i) + " has " + w.length + " tokens, not " + t);
                }
                System.arraycopy(w, 0, tokens, i * t, t);
            }
            double[] nll = Workspaces.inStep("evaluate", () -> windowNlls(model.logits(tokens, b, t, weights),
                    tokens, b, t));
            System.arraycopy(nll, 0, out, start, b);
        }
        return out;
    }

    /** Each of {@code batch} windows' mean negative log-likelihood, from their logits. */
    public static double[] windowNlls(INDArray logits, int[] tokens, int batch, int seqLen) {
        CrossEntropy.Result r = CrossEntropy.compute(logits, DecoderModel.shiftedTargets(tokens, batch, seqLen), false);
        double[] out = new double[batch];
        for (int i = 0; i < batch; i++) {
            double sum = 0;
            for (int j = 0; j < seqLen - 1; j++) {
                sum += r.perRow()[i * seqLen + j];
            }
            out[i] = sum / (seqLen - 1);
        }
        return out;
    }

    /**
     * The unigram baseline under the same protocol: token frequencies counted on {@code fit} (add-one smoothed over
     * the vocabulary) score each window's T−1 predicted tokens.
     */
    public static Result unigramBaseline(List<int[]> fit, List<int[]> windows, int vocabSize) {
        long[] counts = new long[vocabSize];
        long total = 0;
        for (int[] seq : fit) {
            for (int t : seq) {
                counts[t]++;
                total++;
            }
        }
        double[] nll = new double[windows.size()];
        for (int w = 0; w < nll.length; w++) {
            int[] win = windows.get(w);
            double sum = 0;
            for (int j = 1; j < win.length; j++) {
                sum -= Math.log((counts[win[j]] + 1.0) / (total + vocabSize));
            }
            nll[w] = sum / (win.length - 1);
        }
        return of(nll, windows.isEmpty() ? 0 : windows.get(0).length);
    }

    /** PPL from window means, summed in window order. */
    public static Result of(double[] windowNlls, int seqLen) {
        if (windowNlls.length == 0) {
            throw new IllegalArgumentException("no windows to evaluate");
        }
        double sum = 0;
        for (double v : windowNlls) {
            sum += v;
        }
        double mean = sum / windowNlls.length;
        return new Result(Math.exp(mean), mean, windowNlls.length, seqLen);
    }
}
