package org.sparseft.jobs.bench;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.FeatureStats;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The time to choose one linear's mask, from its weight and input statistics, by each method. */
public final class MaskSearchBenchmark {
    public record Row(String method, String pattern, int rows, int cols, double seconds) {
    }

    private MaskSearchBenchmark() {
    }

    /** Random weights [rows, cols] and statistics of a plausible input (some features with a non-zero mean). */
    public static List<Row> run(int rows, int cols, int reps) {
        Nd4j.getRandom().setSeed(7);
        INDArray w = Nd4j.randn(DataType.FLOAT, rows, cols).muli(0.02);
        Random r = new Random(7);
        double[] sum = new double[cols];
        double[] sq = new double[cols];
        double[] within = new double[cols];
        long seqs = 128;
        long tokens = seqs * 2048;
        for (int j = 0; j < cols; j++) {
            double mean = r.nextGaussian() * 0.1;
            double var = 0.5 + r.nextDouble();
            sum[j] = mean * tokens;
            sq[j] = (var + mean * mean) * tokens;
            within[j] = var * tokens;
        }
        FeatureStats stats = new FeatureStats(seqs, tokens, sum, sq, within);
        SparsityPattern half = new SparsityPattern.Unstructured(0.5);
        SparsityPattern twoFour = new SparsityPattern.NOutOfM(2, 4);
        List<Row> out = new ArrayList<>();
        for (MaskCriterion c : MaskCriterion.values()) {
            for (SparsityPattern p : List.of(half, twoFour)) {
                out.add(new Row(c.name().toLowerCase(), p.structure(), rows, cols,
                        BenchRuns.meanSeconds(() -> c.select(c.scores(w, stats), p), reps)));
            }
        }
        for (SparsityPattern p : List.of(half, twoFour)) {
            out.add(new Row("dsnot (wanda start, 50 cycles)", p.structure(), rows, cols, BenchRuns.meanSeconds(() -> {
                INDArray metric = MaskCriterion.WANDA.scores(w, stats);
                DSnoT.refine(w, stats, MaskCriterion.WANDA.select(metric, p), metric, p, DSnoT.Options.DEFAULT);
            }, reps)));
        }
        FeatureStats withGram = gramOf(cols);
        for (SparsityPattern p : List.of(half, twoFour)) {
            out.add(new Row("sparsegpt (blocks of 128)", p.structure(), rows, cols, BenchRuns.meanSeconds(
                    () -> SparseGPT.prune(w, withGram, p, SparseGPT.Options.DEFAULTS), reps)));
        }
        return out;
    }

    /** Statistics with the Gram matrix of {@code cols} correlated features over as many tokens. */
    private static FeatureStats gramOf(int cols) {
        INDArray x = Nd4j.randn(DataType.FLOAT, cols, cols);
        x.addiColumnVector(x.getColumn(0).dup().reshape(cols, 1).muli(0.5)); // every feature shares feature 0
        int seqLen = 64;
        int tokens = cols / seqLen * seqLen;
        return FeatureStats.of(x.getRows(java.util.stream.IntStream.range(0, tokens).toArray()), tokens / seqLen,
                seqLen, true);
    }
}
