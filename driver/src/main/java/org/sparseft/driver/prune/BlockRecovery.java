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
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Block-wise recovery after pruning (docs/algorithms.md §3.7): a few Adam steps on one pruned block alone, masks
 * fixed, so that its outputs match the dense block's on the calibration inputs the executors already hold. Each step
 * takes the next {@code batch} sequences in global order; every partition returns the gradient of its share, and the
 * driver adds them in partition order and takes the step (the block's tensors are small), so the result depends on
 * the partitioning only through float summation order.
 */
public final class BlockRecovery {
    /**
     * @param steps Adam steps per block; 0 turns recovery off
     * @param learningRate Adam's step size (constant)
     * @param batch calibration sequences per step, taken in turn (all of them when it exceeds their number)
     */
    public record Options(int steps, double learningRate, int batch) implements java.io.Serializable {
        /** No recovery; the step size and batch are the defaults recovery uses when steps are given. */
        public static final Options NONE = new Options(0, 3e-3, 8);

        /** Refuses negative steps, a step size that is not positive and finite, and an empty batch. */
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
        }

        /** Whether any step is taken. */
        public boolean enabled() {
            return steps > 0;
        }
    }

    /**
     * What recovery did to one block.
     *
     * @param tensors the block's tensors after the last step, compute layout, by name
     * @param firstError mean squared difference from the dense block's output on the first step's batch
     * @param lastError the same on the last step's batch (before that step's update)
     * @param seconds wall time, the dense targets included
     */
    public record Outcome(Map<String, float[]> tensors, double firstError, double lastError, double seconds) {
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
            DecoderModel m = ExecutorModels.get(modelPath, contentHash);
            float[] out = new float[s.states().length];
            int rowLen = s.seqLen() * s.hidden();
            for (int from = 0; from < s.sequences(); from += micro) {
                int b = Math.min(micro, s.sequences() - from);
                INDArray x = Nd4j.create(java.util.Arrays.copyOfRange(s.states(), from * rowLen, (from + b) * rowLen),
                        new long[] {(long) b * s.seqLen(), s.hidden()}, 'c');
                float[] y = Workspaces.inStep("recovery", () -> m.forwardBlock(layer, x, b, s.seqLen(),
                        EffectiveWeights.DENSE, null).data().asFloat());
                System.arraycopy(y, 0, out, from * rowLen, y.length);
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
            int partitions = states.getNumPartitions();
            double first = Double.NaN;
            double last = Double.NaN;
            for (int step = 0; step < o.steps(); step++) {
                Map<String, float[]> values = new LinkedHashMap<>();
                current.forEach((n, a) -> values.put(n, a.dup('c').data().asFloat()));
                Broadcast<Map<String, float[]>> block = jsc.broadcast(values);
                int firstSequence = (int) ((long) step * o.batch() % sequences);
                float[] sum = new float[Math.toIntExact(params.count())];
                double[] squared = new double[1];
                long[] rows = new long[1];
                try {
                    OrderedJobs.run(targets, (partition, it) -> gradient(it.next(), modelPath, contentHash, layer,
                            block.value(), partitions, sequences, firstSequence, o.batch(), micro),
                            (PartialBlockGradient g) -> {
                        for (int i = 0; i < sum.length; i++) {
                            sum[i] += g.gradient()[i];
                        }
                        squared[0] += g.squaredError();
                        rows[0] += g.rows();
                    });
                } finally {
                    block.destroy();
                }
                long hidden = config.hiddenSize();
                double error = squared[0] / (rows[0] * hidden);
                first = step == 0 ? error : first;
                last = error;
                Parameters grads = Parameters.fromFlat(params.spec(), sum);
                for (String n : names) {
                    INDArray g = grads.get(n).divi(rows[0] * hidden); // the mean's gradient
                    if (keep.containsKey(n)) {
                        g.muli(keep.get(n));
                    }
                }
                adam.step(params, grads, params.names(), o.learningRate());
                keep.forEach((n, k) -> current.get(n).muli(k)); // pruned entries stay exactly zero
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            current.forEach((n, a) -> out.put(n, a.dup('c').data().asFloat()));
            return new Outcome(out, first, last, (System.nanoTime() - t0) / 1e9);
        } finally {
            targets.unpersist(false);
        }
    }

    /** One partition's share of a step: the sequences of the batch it holds, their squared error and its gradient. */
    private static PartialBlockGradient gradient(RecoveryShard s, String modelPath, String contentHash, int layer,
                                                 Map<String, float[]> block, int partitions, int sequences,
                                                 int firstSequence, int batch, int micro) {
        TaskDevices.pin();
        DecoderModel dense = ExecutorModels.get(modelPath, contentHash);
        ModelConfig config = dense.config();
        Map<String, INDArray> tensors = Workspaces.outside(() -> {
            Map<String, INDArray> t = new LinkedHashMap<>();
            block.forEach((n, v) -> t.put(n, Nd4j.create(v, dense.parameters().get(n).shape(), 'c')));
            return t;
        });
        DecoderModel m = DecoderModel.of(dense.parameters().with(tensors));
        Parameters grads = Workspaces.outside(() -> Parameters.of(config, tensors).zerosLike());
        List<Integer> chosen = new ArrayList<>(); // local indices: local i is global partition + i·P
        for (int i = 0; i < s.sequences(); i++) {
            long global = s.partition() + (long) i * partitions;
            if (batch >= sequences || Math.floorMod(global - firstSequence, sequences) < batch) {
                chosen.add(i);
            }
        }
        int rowLen = s.seqLen() * s.hidden();
        double squared = 0;
        for (int from = 0; from < chosen.size(); from += micro) {
            int b = Math.min(micro, chosen.size() - from);
            float[] x = new float[b * rowLen];
            float[] t = new float[b * rowLen];
            for (int j = 0; j < b; j++) {
                int i = chosen.get(from + j);
                System.arraycopy(s.inputs(), i * rowLen, x, j * rowLen, rowLen);
                System.arraycopy(s.targets(), i * rowLen, t, j * rowLen, rowLen);
            }
            long[] shape = {(long) b * s.seqLen(), s.hidden()};
            squared += Workspaces.inStep("recovery", () -> m.blockSquaredError(layer, Nd4j.create(x, shape, 'c'),
                    Nd4j.create(t, shape, 'c'), b, s.seqLen(), EffectiveWeights.DENSE, grads));
        }
        return new PartialBlockGradient(s.partition(), squared, (long) chosen.size() * s.seqLen(), grads.toFlat());
    }

}
