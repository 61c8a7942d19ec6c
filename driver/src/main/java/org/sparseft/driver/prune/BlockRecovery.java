package org.sparseft.driver.prune;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.InvalidSettingException;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.driver.exec.OrderedJobs;
import org.sparseft.driver.exec.TaskDevices;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Block-wise recovery after pruning (docs/algorithms.md §3.7): a few Adam steps on one pruned block alone, masks
 * fixed, so that its outputs match the dense block's on the calibration inputs the executors already hold. Each step
 * takes the next {@code batch} training sequences in global order; every partition returns the gradient of its share,
 * and the driver adds them in partition order and takes the step (the block's tensors are small), so the result
 * depends on the partitioning only through float summation order.
 *
 * <p>The last {@code holdout} sequences of the sample are never trained on: before the first step and every
 * {@link #CHECK_EVERY} steps the block's error on them is measured, and the block keeps the weights with the lowest
 * such error, its one-shot weights when no step improved on them. A step size too large for a model then costs the
 * time of the steps, not quality.
 */
public final class BlockRecovery {
    /** Steps between two measurements of the held-out error (and after the last step). */
    public static final int CHECK_EVERY = 4;

    /**
     * @param steps Adam steps per block; 0 turns recovery off
     * @param learningRate Adam's step size (constant)
     * @param batch calibration sequences per step, taken in turn (all training sequences when it exceeds their
     *              number)
     * @param holdout calibration sequences held out to choose the weights kept (at most a quarter of the sample);
     *                0 keeps the last step's weights
     */
    public record Options(int steps, double learningRate, int batch, int holdout) implements java.io.Serializable {
        /** No recovery; the step size, batch and hold-out are the defaults recovery uses when steps are given. */
        public static final Options NONE = new Options(0, 1e-3, 8, 16);

        /** Refuses negative steps, a step size that is not positive and finite, an empty batch, a negative hold-out. */
        public Options {
            if (steps < 0) {
                throw InvalidSettingException.of("recover-steps", steps, "expected 0 (off) or more steps per block");
            }
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw InvalidSettingException.of("recover-lr", learningRate, "expected a positive step size");
            }
            if (batch < 1) {
                throw InvalidSettingException.of("recover-batch", batch, "expected at least 1 sequence per step");
            }
            if (holdout < 0) {
                throw InvalidSettingException.of("recover-holdout", holdout, "expected 0 (none) or more sequences");
            }
        }

        /** Whether any step is taken. */
        public boolean enabled() {
            return steps > 0;
        }

        /** The sequences held out of a sample of {@code sequences}: the setting, at most a quarter of them. */
        public int heldOut(int sequences) {
            return Math.min(holdout, sequences / 4);
        }
    }

    /**
     * What recovery did to one block.
     *
     * @param tensors the block's tensors as recovery leaves them (the kept step's), compute layout, by name
     * @param firstError mean squared difference from the dense block's output on the first step's batch
     * @param lastError the same on the last step's batch (before that step's update)
     * @param heldOutStart the same on the held-out sequences with the one-shot weights (NaN without a hold-out)
     * @param heldOutBest the lowest of the held-out measurements, the kept weights' (NaN without a hold-out)
     * @param keptStep the steps behind the kept weights: 0 when the one-shot weights were best
     * @param seconds wall time, the dense targets included
     */
    public record Outcome(Map<String, float[]> tensors, double firstError, double lastError, double heldOutStart,
                          double heldOutBest, int keptStep, double seconds) {
        /** This outcome with other tensors. */
        public Outcome withTensors(Map<String, float[]> other) {
            return new Outcome(other, firstError, lastError, heldOutStart, heldOutBest, keptStep, seconds);
        }
    }

    private BlockRecovery() {
    }

    /** Adam without weight decay: recovery fits, it does not regularise. */
    private static final AdamW.Options ADAM = new AdamW.Options(0.9, 0.999, 1e-8, 0);

    /**
     * @param states the block's inputs, one shard per partition (sequences p, p + P, ... of the sample)
     * @param start every tensor of the block as pruning left it (pruned entries zero), compute layout
     * @param keep the keep-mask of each pruned weight of the block
     * @param sequences the calibration sample's size
     */
    static Outcome run(JavaSparkContext jsc, JavaRDD<CalibrationShard> states, String modelPath, String contentHash,
                       DecoderModel model, int layer, Map<String, float[]> start, Map<String, INDArray> keep,
                       int sequences, int micro, Options o) {
        long t0 = System.nanoTime();
        ModelConfig config = model.config();
        JavaRDD<RecoveryShard> targets = states.map(s -> {
            TaskDevices.pin();
            float[] out = new float[s.states().length];
            int rowLen = s.seqLen() * s.hidden();
            try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, layer, null,
                    ExecutorModels.Pruning.NONE)) {
                DecoderModel m = lease.model();
                for (int from = 0; from < s.sequences(); from += micro) {
                    int b = Math.min(micro, s.sequences() - from);
                    INDArray x = Nd4j.create(java.util.Arrays.copyOfRange(s.states(), from * rowLen,
                            (from + b) * rowLen), new long[] {(long) b * s.seqLen(), s.hidden()}, 'c');
                    float[] y = Workspaces.inStep("recovery", () -> m.forwardBlock(layer, x, b, s.seqLen(),
                            EffectiveWeights.DENSE, null).data().asFloat());
                    System.arraycopy(y, 0, out, from * rowLen, y.length);
                }
            }
            return new RecoveryShard(s.partition(), s.sequences(), s.seqLen(), s.hidden(), s.states(), out);
        }).persist(StorageLevel.MEMORY_AND_DISK());
        try {
            List<String> names = new ArrayList<>(start.keySet());
            Map<String, INDArray> current = new LinkedHashMap<>();
            for (String n : names) {
                current.put(n, Nd4j.create(start.get(n).clone(), model.parameters().get(n).shape(), 'c'));
            }
            Parameters params = Parameters.of(config, current);
            AdamW adam = new AdamW(params, ADAM);
            int heldOut = o.heldOut(sequences);
            int training = sequences - heldOut;
            Share share = new Share(modelPath, contentHash, layer, states.getNumPartitions(), micro);
            double first = Double.NaN;
            double last = Double.NaN;
            double heldOutStart = heldOut == 0 ? Double.NaN : share.heldOutError(jsc, targets, values(current),
                    training, sequences, config.hiddenSize());
            double best = heldOutStart;
            int keptStep = heldOut == 0 ? o.steps() : 0;
            Map<String, float[]> kept = heldOut == 0 ? null : values(current);
            for (int step = 0; step < o.steps(); step++) {
                int firstSequence = (int) ((long) step * o.batch() % training);
                PartialBlockGradient sum = share.gradient(jsc, targets, values(current), firstSequence, o.batch(),
                        training);
                long hidden = config.hiddenSize();
                double error = sum.squaredError() / (sum.rows() * hidden);
                first = step == 0 ? error : first;
                last = error;
                Parameters grads = Parameters.fromFlat(params.spec(), sum.gradient());
                for (String n : names) {
                    INDArray g = grads.get(n).divi(sum.rows() * hidden); // the mean's gradient
                    if (keep.containsKey(n)) {
                        g.muli(keep.get(n));
                    }
                }
                adam.step(params, grads, params.names(), o.learningRate());
                keep.forEach((n, k) -> current.get(n).muli(k)); // pruned entries stay exactly zero
                if (heldOut > 0 && ((step + 1) % CHECK_EVERY == 0 || step + 1 == o.steps())) {
                    Map<String, float[]> now = values(current);
                    double e = share.heldOutError(jsc, targets, now, training, sequences, hidden);
                    if (e < best) {
                        best = e;
                        keptStep = step + 1;
                        kept = now;
                    }
                }
            }
            Map<String, float[]> out = heldOut == 0 ? values(current) : kept;
            return new Outcome(out, first, last, heldOutStart, best, keptStep, (System.nanoTime() - t0) / 1e9);
        } finally {
            targets.unpersist(false);
        }
    }

    private static Map<String, float[]> values(Map<String, INDArray> tensors) {
        Map<String, float[]> v = new LinkedHashMap<>();
        tensors.forEach((n, a) -> v.put(n, HeapCopy.floats(a)));
        return v;
    }

    /**
     * The partitions' work on one block: gradients on a training batch, errors on the held-out sequences, each
     * partition's share summed in partition order. Sequence p + i·P of the sample is local sequence i of partition p.
     */
    private record Share(String modelPath, String contentHash, int layer, int partitions, int micro)
            implements java.io.Serializable {
        /** The summed squared error and gradient of the {@code batch} training sequences from {@code firstSequence}. */
        PartialBlockGradient gradient(JavaSparkContext jsc, JavaRDD<RecoveryShard> targets,
                                      Map<String, float[]> block, int firstSequence, int batch, int training) {
            return sum(jsc, targets, block, true, global -> global < training
                    && (batch >= training || Math.floorMod(global - firstSequence, training) < batch));
        }

        /** The mean squared error on the held-out sequences (global index from {@code training} on). */
        double heldOutError(JavaSparkContext jsc, JavaRDD<RecoveryShard> targets, Map<String, float[]> block,
                            int training, int sequences, long hidden) {
            PartialBlockGradient s = sum(jsc, targets, block, false, global -> global >= training && global < sequences);
            return s.squaredError() / (s.rows() * hidden);
        }

        private PartialBlockGradient sum(JavaSparkContext jsc, JavaRDD<RecoveryShard> targets,
                                         Map<String, float[]> block, boolean withGradient, Chosen chosen) {
            Broadcast<Map<String, float[]>> values = jsc.broadcast(block);
            float[][] gradient = new float[1][];
            double[] squared = new double[1];
            long[] rows = new long[1];
            try {
                OrderedJobs.run(targets, (partition, it) -> share(it.next(), values.value(), withGradient, chosen),
                        (PartialBlockGradient g) -> {
                            if (withGradient) {
                                if (gradient[0] == null) {
                                    gradient[0] = new float[g.gradient().length];
                                }
                                for (int i = 0; i < gradient[0].length; i++) {
                                    gradient[0][i] += g.gradient()[i];
                                }
                            }
                            squared[0] += g.squaredError();
                            rows[0] += g.rows();
                        });
            } finally {
                values.destroy();
            }
            return new PartialBlockGradient(-1, squared[0], rows[0], gradient[0]);
        }

        /** One partition's chosen sequences: their squared error and, when asked, its gradient. */
        private PartialBlockGradient share(RecoveryShard s, Map<String, float[]> block, boolean withGradient,
                                           Chosen chosen) {
            TaskDevices.pin();
            try (ExecutorModels.Lease lease = ExecutorModels.part(modelPath, contentHash, layer, null,
                    ExecutorModels.Pruning.NONE)) {
                return share(lease.model(), s, block, withGradient, chosen);
            }
        }

        private PartialBlockGradient share(DecoderModel dense, RecoveryShard s, Map<String, float[]> block,
                                           boolean withGradient, Chosen chosen) {
            ModelConfig config = dense.config();
            Map<String, INDArray> tensors = Workspaces.outside(() -> {
                Map<String, INDArray> t = new LinkedHashMap<>();
                block.forEach((n, v) -> t.put(n, Nd4j.create(v, dense.parameters().get(n).shape(), 'c')));
                return t;
            });
            DecoderModel m = DecoderModel.of(dense.parameters().with(tensors));
            Parameters grads = Workspaces.outside(() -> Parameters.of(config, tensors).zerosLike());
            List<Integer> picked = new ArrayList<>();
            for (int i = 0; i < s.sequences(); i++) {
                if (chosen.test(s.partition() + (long) i * partitions)) {
                    picked.add(i);
                }
            }
            int rowLen = s.seqLen() * s.hidden();
            double squared = 0;
            for (int from = 0; from < picked.size(); from += micro) {
                int b = Math.min(micro, picked.size() - from);
                float[] x = new float[b * rowLen];
                float[] t = new float[b * rowLen];
                for (int j = 0; j < b; j++) {
                    int i = picked.get(from + j);
                    System.arraycopy(s.inputs(), i * rowLen, x, j * rowLen, rowLen);
                    System.arraycopy(s.targets(), i * rowLen, t, j * rowLen, rowLen);
                }
                long[] shape = {(long) b * s.seqLen(), s.hidden()};
                squared += Workspaces.inStep("recovery", () -> {
                    INDArray in = Nd4j.create(x, shape, 'c');
                    INDArray target = Nd4j.create(t, shape, 'c');
                    if (withGradient) {
                        return m.blockSquaredError(layer, in, target, b, s.seqLen(), EffectiveWeights.DENSE, grads);
                    }
                    double n = m.forwardBlock(layer, in, b, s.seqLen(), EffectiveWeights.DENSE, null).subi(target)
                            .norm2Number().doubleValue();
                    return n * n;
                });
            }
            float[] gradient = withGradient ? grads.toFlat() : null;
            grads.release(); // a block's worth each, twice: freed now rather than at a later collection
            Parameters.of(config, tensors).release();
            return new PartialBlockGradient(s.partition(), squared, (long) picked.size() * s.seqLen(), gradient);
        }
    }

    /** Which sequences, by index in the whole sample, a partition's share covers. */
    @FunctionalInterface
    private interface Chosen extends java.io.Serializable {
        boolean test(long global);
    }
}
