package org.sparseft.driver.eval;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.exec.TaskDevices;
import org.sparseft.eval.Perplexity;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.numerics.Workspaces;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.List;

/**
 * Perplexity with the windows spread over executors; the driver puts the window results back in window order before
 * summing, so the figure does not depend on the partitioning. Two ways to hold the model, with the same figures to
 * the last bit: each executor loads it whole ({@link #evaluate}), or the windows' hidden states stay on the executors
 * and the model passes through them one block at a time ({@link #evaluateByBlock}), for a model larger than an
 * executor's memory.
 */
public final class DistributedPerplexity {
    private DistributedPerplexity() {
    }

    /** Each executor loads the whole model from {@code modelPath} (cached by content hash). */
    public static Perplexity.Result evaluate(JavaRDD<int[]> windows, String modelPath, String contentHash, int batch,
                                             int seqLen) {
        return ordered(windows.zipWithIndex().mapPartitions(it -> {
            Indexed part = Indexed.of(it);
            List<Tuple2<Long, Double>> out = new ArrayList<>(part.windows().size());
            if (part.windows().isEmpty()) {
                return out.iterator();
            }
            TaskDevices.pin();
            DecoderModel model = ExecutorModels.get(modelPath, contentHash);
            double[] nll = Perplexity.windowNlls(model, part.windows(), batch, EffectiveWeights.DENSE);
            for (int i = 0; i < nll.length; i++) {
                out.add(new Tuple2<>(part.index()[i], nll[i]));
            }
            return out.iterator();
        }).collect(), seqLen);
    }

    /** One partition's windows and their indices in the whole input. */
    private record Indexed(long[] index, List<int[]> windows) {
        static Indexed of(java.util.Iterator<Tuple2<int[], Long>> it) {
            List<Long> index = new ArrayList<>();
            List<int[]> windows = new ArrayList<>();
            while (it.hasNext()) {
                Tuple2<int[], Long> w = it.next();
                windows.add(w._1());
                index.add(w._2());
            }
            return new Indexed(index.stream().mapToLong(Long::longValue).toArray(), windows);
        }
    }

    /** One partition's windows (their indices and tokens) and their hidden states entering the next block. */
    public record WindowStates(long[] index, int[] tokens, int seqLen, int hidden, float[] states) {
        int windows() {
            return index.length;
        }
    }

    /**
     * The model passes block by block: executors embed their windows, run the states through one block per pass
     * (holding that block only, read in its stored dtype), and score them with the head; {@code batch} windows per
     * forward pass as {@link #evaluate}, so the figures are the same.
     */
    public static Perplexity.Result evaluateByBlock(JavaRDD<int[]> windows, String modelPath, String contentHash,
                                                    int layers, int hidden, int batch, int seqLen) {
        JavaRDD<WindowStates> states = windows.zipWithIndex().mapPartitions(it -> {
            Indexed part = Indexed.of(it);
            List<int[]> ws = part.windows();
            long[] idx = part.index();
            int[] tokens = new int[ws.size() * seqLen];
            for (int i = 0; i < ws.size(); i++) {
                System.arraycopy(ws.get(i), 0, tokens, i * seqLen, seqLen);
            }
            float[] h = new float[ws.size() * seqLen * hidden];
            if (!ws.isEmpty()) {
                TaskDevices.pin();
                try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash,
                        ExecutorModels.EMBEDDING, null, ExecutorModels.Pruning.NONE)) {
                    DecoderModel m = lease.model();
                    forEachBatch(idx.length, batch, (from, b) -> {
                        int[] t = java.util.Arrays.copyOfRange(tokens, from * seqLen, (from + b) * seqLen);
                        float[] y = Workspaces.inStep("evaluate",
                                () -> m.embedTokens(t, b, seqLen).data().asFloat());
                        System.arraycopy(y, 0, h, from * seqLen * hidden, y.length);
                    });
                }
            }
            return List.of(new WindowStates(idx, tokens, seqLen, hidden, h)).iterator();
        }).persist(StorageLevel.MEMORY_AND_DISK());
        try {
            states.count();
            for (int layer = 0; layer < layers; layer++) {
                int l = layer;
                JavaRDD<WindowStates> next = states.map(s -> {
                    if (s.windows() == 0) {
                        return s;
                    }
                    TaskDevices.pin();
                    float[] out = new float[s.states().length];
                    try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, l, null,
                            ExecutorModels.Pruning.NONE)) {
                        DecoderModel m = lease.model();
                        forEachBatch(s.windows(), batch, (from, b) -> {
                            float[] y = Workspaces.inStep("evaluate", () -> m.forwardBlock(l, rows(s, from, b), b,
                                    seqLen, EffectiveWeights.DENSE, null).data().asFloat());
                            System.arraycopy(y, 0, out, from * seqLen * hidden, y.length);
                        });
                    }
                    return new WindowStates(s.index(), s.tokens(), seqLen, hidden, out);
                }).persist(StorageLevel.MEMORY_AND_DISK());
                next.count();
                states.unpersist(false);
                states = next;
            }
            return ordered(states.flatMap(s -> {
                List<Tuple2<Long, Double>> out = new ArrayList<>(s.windows());
                if (s.windows() == 0) {
                    return out.iterator();
                }
                TaskDevices.pin();
                try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, ExecutorModels.HEAD,
                        null, ExecutorModels.Pruning.NONE)) {
                    DecoderModel m = lease.model();
                    forEachBatch(s.windows(), batch, (from, b) -> {
                        int[] t = java.util.Arrays.copyOfRange(s.tokens(), from * seqLen, (from + b) * seqLen);
                        double[] nll = Workspaces.inStep("evaluate", () -> Perplexity.windowNlls(
                                m.headLogits(rows(s, from, b)), t, b, seqLen));
                        for (int i = 0; i < b; i++) {
                            out.add(new Tuple2<>(s.index()[from + i], nll[i]));
                        }
                    });
                }
                return out.iterator();
            }).collect(), seqLen);
        } finally {
            states.unpersist(false);
            ExecutorModels.releaseParts(); // in local mode the executors are this JVM: free their blocks now
        }
    }

    /** Windows [from, from + b) of a partition's states as [b·seqLen, hidden]. */
    private static INDArray rows(WindowStates s, int from, int b) {
        int rowLen = s.seqLen() * s.hidden();
        return Nd4j.create(java.util.Arrays.copyOfRange(s.states(), from * rowLen, (from + b) * rowLen),
                new long[] {(long) b * s.seqLen(), s.hidden()}, 'c');
    }

    @FunctionalInterface
    private interface Batch {
        void run(int from, int size);
    }

    private static void forEachBatch(int windows, int batch, Batch work) {
        for (int from = 0; from < windows; from += batch) {
            work.run(from, Math.min(batch, windows - from));
        }
    }

    private static Perplexity.Result ordered(List<Tuple2<Long, Double>> collected, int seqLen) {
        List<Tuple2<Long, Double>> results = new ArrayList<>(collected);
        results.sort((a, b) -> Long.compare(a._1(), b._1()));
        double[] ordered = new double[results.size()];
        for (int i = 0; i < ordered.length; i++) {
            ordered[i] = results.get(i)._2();
        }
        return Perplexity.of(ordered, seqLen);
    }
}
