package org.sparseft.driver.train;

import org.apache.hadoop.fs.Path;
import org.apache.spark.HashPartitioner;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction2;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.driver.exec.TaskDevices;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdamW;
import org.sparseft.train.Objective;
import org.sparseft.train.TrainedValues;
import org.apache.spark.serializer.JavaSerializer;
import scala.Tuple2;
import scala.reflect.ClassTag$;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sharded synchronisation ({@link DataParallelTrainer.Sync#SHARDED}): the training state lives on the executors,
 * cut into one {@link ParameterChunks chunk} per partition, and a step moves data executor to executor through
 * Spark's shuffle. The driver sends each step's learning rate and clipping factor and receives per-tensor gradient
 * norms and per-partition losses; the parameters reach it only when something on the driver needs them
 * ({@link #gather}: a checkpoint, a validation pass), and a method's state is derived from each chunk where it
 * lives ({@link #values}).
 * <p>
 * One step is one Spark job of three stages:
 * <ol>
 * <li>all-gather: each chunk's parameter values go to every partition;</li>
 * <li>each partition builds the parameters from the chunks (once per executor JVM), computes its mean gradient
 * and sends chunk k of it to partition k (the reduce-scatter);</li>
 * <li>partition k sums chunk k's parts in partition-id order, weighted by share, exactly as the driver sums whole
 * gradients under {@link DataParallelTrainer.Sync#GRAD}, keeps the sum, and reports the norms.</li>
 * </ol>
 * The driver then checks the loss and norms and computes the clipping factor; partition k applies clipping, the
 * objective's regularisation and AdamW to chunk k at the start of the next job. Each of these is computed per whole
 * tensor with the same operations as on the driver, so the two modes give the same bits.
 * <p>
 * A new state depends on the previous one, so its lineage grows a step at a time. Every {@link #LINEAGE_STEPS}
 * steps the state is checkpointed through Spark into the run directory, which bounds both the lineage and the work
 * a lost executor costs (Spark recomputes its chunks from the last such checkpoint; the computation is
 * deterministic, so the result keeps its bits).
 */
final class ShardedSync implements AutoCloseable {
    /** Steps between lineage checkpoints of the sharded state. */
    static final int LINEAGE_STEPS = 20;
    /** Where in the run directory they go, unless the Spark context has a checkpoint directory of its own. */
    static final String LINEAGE_DIR = "sync-lineage";
    private static final StorageLevel KEPT = StorageLevel.MEMORY_AND_DISK();
    /** Values per task result when the driver gathers the state: 64 MB (tests lower it to cross tensor ends). */
    static int pieceValues = 16 << 20;

    /** What one step reports to the driver. */
    record StepResult(double loss, double gradNorm, String failure, long bytesCollected, long bytesExchanged) {
    }

    private final JavaSparkContext jsc;
    private final TrainingShards data;
    private final DataParallelTrainer.Options options;
    private final ParameterChunks chunks;
    private final String runId;
    private final int share;
    private final int microBatch;
    private final String lineageDir;
    private final List<JavaRDD<?>> retiring = new ArrayList<>();
    private final List<SharedObjective> objectives = new ArrayList<>();
    /** The state training started from, until a lineage checkpoint makes it unreachable. */
    private final List<Broadcast<ChunkState>> initial = new ArrayList<>();
    private Objective lastObjective;
    private JavaRDD<ChunkState> state;
    private long optimizerSteps;
    /** Steps the state holds, and the step whose parameters the driver was last given. */
    private int stepsDone;
    private int gatheredAt;
    private String lineageFile;
    private long bytesGathered;

    ShardedSync(JavaSparkContext jsc, TrainingShards data, Parameters params, AdamW optimizer,
                DataParallelTrainer.Options options, int share, int microBatch, String runDirectory, int startStep) {
        this.jsc = jsc;
        this.data = data;
        this.options = options;
        this.chunks = ParameterChunks.of(params.spec(), data.partitions());
        this.runId = java.util.UUID.randomUUID().toString();
        this.share = share;
        this.microBatch = microBatch;
        String set = jsc.getCheckpointDir().orElse(null);
        if (set != null && !set.contains("/" + LINEAGE_DIR + "/")) {
            lineageDir = null; // the user's own checkpoint directory
        } else { // none, or an earlier run's in this Spark context, since removed
            lineageDir = runDirectory + "/" + LINEAGE_DIR;
            jsc.setCheckpointDir(lineageDir);
        }
        // The starting state goes out once, a broadcast per chunk read only by that chunk's partition (in tasks,
        // it would pass through Java serialization, which fails on a model of a few hundred MB).
        List<Integer> ids = new ArrayList<>();
        for (int k = 0; k < chunks.count(); k++) {
            ids.add(k);
            initial.add(jsc.broadcast(new ChunkState(k, chunks.slice(params, k),
                    chunks.slice(optimizer.firstMoment(), k), chunks.slice(optimizer.secondMoment(), k))));
        }
        List<Broadcast<ChunkState>> start = List.copyOf(initial);
        state = jsc.parallelize(ids, chunks.count()).map(k -> start.get(k).value()).persist(KEPT);
        optimizerSteps = optimizer.steps();
        stepsDone = startStep;
        gatheredAt = startStep;
    }

    /** Runs optimizer step {@code step} (0-based) with {@code objective}. */
    StepResult step(int step, Objective objective) {
        int partitions = chunks.count();
        ParameterChunks c = chunks;
        SharedObjective obj = broadcast(objective);
        JavaPairRDD<Integer, ChunkValues> everywhere = state.flatMapToPair(s -> {
            List<Tuple2<Integer, ChunkValues>> copies = new ArrayList<>(partitions);
            ChunkValues v = new ChunkValues(s.chunk(), s.values());
            for (int p = 0; p < partitions; p++) {
                copies.add(new Tuple2<>(p, v));
            }
            return copies.iterator();
        }).partitionBy(new HashPartitioner(partitions));
        JavaRDD<Tuple2<Integer, GradientPart>> parts = data.rdd().zipPartitions(everywhere,
                new PartitionGradient(runId, step, c, obj, options.seed(), share, microBatch));
        JavaRDD<ChunkSum> sums = JavaPairRDD.fromJavaRDD(parts).partitionBy(new HashPartitioner(partitions))
                .mapPartitionsWithIndex(new SumChunk(c, partitions, options.batch()), true).persist(KEPT);
        List<ChunkSum.Report> reports = sums.map(ChunkSum::report).collect();
        retire();
        retiring.add(sums);
        long exchanged = 2L * 4 * chunks.total() * partitions; // parameters to every partition, gradients back
        long collected = 0;
        for (ChunkSum.Report r : reports) {
            collected += 8L * r.tensorNorms().length + 20L * partitions;
        }
        // the step's figures, in the order the driver computes them under GRAD
        ChunkSum.Report first = reports.get(0);
        double loss = 0;
        String failure = null;
        for (int p = 0; p < partitions; p++) {
            loss += (double) first.sequences()[p] / options.batch() * first.losses()[p];
            if (failure == null && !(Double.isFinite(first.losses()[p]) && Double.isFinite(first.gradNorms()[p]))) {
                failure = "step " + (step + 1) + ": non-finite " + (Double.isFinite(first.losses()[p]) ? "gradient"
                        : "loss") + " in partition " + p + " of " + partitions + " (loss " + first.losses()[p]
                        + ", gradient norm " + first.gradNorms()[p] + ")";
            }
        }
        double squares = 0;
        for (ChunkSum.Report r : reports) {
            for (double n : r.tensorNorms()) {
                squares += n * n;
            }
        }
        double norm = Math.sqrt(squares);
        if (failure == null && !(Double.isFinite(loss) && Double.isFinite(norm))) {
            failure = "step " + (step + 1) + ": non-finite " + (Double.isFinite(loss) ? "gradient norm" : "loss")
                    + " (loss " + loss + ", gradient norm " + norm + ")";
        }
        if (failure != null) {
            return new StepResult(loss, norm, failure, collected, exchanged);
        }
        double max = options.maxGradNorm();
        double clip = max > 0 && norm > max ? max / (norm + 1e-6) : Double.NaN; // as AdamW.clipGlobalNorm
        JavaRDD<ChunkState> next = sums.zipPartitions(state, new ApplyUpdate(c, obj, options.adam(),
                optimizerSteps, options.schedule().at(step), step, clip)).persist(KEPT);
        retiring.add(state);
        state = next;
        optimizerSteps++;
        stepsDone = step + 1;
        if (stepsDone % LINEAGE_STEPS == 0) {
            state.checkpoint(); // written by the job that first computes it, the next step's
        }
        return new StepResult(loss, norm, null, collected, exchanged);
    }

    /** Puts the current parameter values into {@code params}, unless it holds them already. */
    void gather(Parameters params) {
        if (gatheredAt == stepsDone) {
            return;
        }
        fetch(0, params);
        gatheredAt = stepsDone;
    }

    /** The trained values as a method sees them: {@code params} once gathered, or results computed per chunk. */
    TrainedValues values(Parameters params) {
        return new TrainedValues() {
            @Override
            public Parameters all() {
                gather(params);
                return params;
            }

            @Override
            public <R extends Serializable> List<R> perPart(PartFunction<R> f) {
                ParameterChunks c = chunks;
                List<byte[]> results = state.map(s -> {
                    Parameters part = Workspaces.outside(() -> c.tensors(s.chunk(), s.values()));
                    R r = f.apply(part);
                    part.release();
                    return javaBytes(r);
                }).collect();
                List<R> out = new ArrayList<>();
                for (byte[] b : results) {
                    bytesGathered += b.length;
                    @SuppressWarnings("unchecked")
                    R r = (R) new JavaSerializer(jsc.getConf()).newInstance().deserialize(ByteBuffer.wrap(b),
                            Thread.currentThread().getContextClassLoader(), ClassTag$.MODULE$.apply(Object.class));
                    out.add(r);
                }
                return out;
            }
        };
    }

    /** Bytes the driver gathered from the executors since the last call. */
    long takeBytesGathered() {
        long b = bytesGathered;
        bytesGathered = 0;
        return b;
    }

    /** Java serialization (the results of a method's functions are any serializable class, which Kryo refuses). */
    private static byte[] javaBytes(Object o) {
        ByteBuffer b = new JavaSerializer(SparkEnv.get().conf()).newInstance().serialize(o,
                ClassTag$.MODULE$.apply(Object.class));
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /**
     * Puts the current parameters and moments into {@code params} and {@code optimizer}'s tensors (for a checkpoint)
     * and returns the optimizer as it now stands.
     */
    AdamW gather(Parameters params, AdamW optimizer, AdamW.Options adam) {
        if (gatheredAt != stepsDone) {
            fetch(0, params);
        }
        fetch(1, optimizer.firstMoment());
        fetch(2, optimizer.secondMoment());
        gatheredAt = stepsDone;
        return new AdamW(adam, optimizer.firstMoment(), optimizer.secondMoment(), optimizerSteps);
    }

    /**
     * Copies one array of the state (0: values, 1: first moment, 2: second moment) into {@code into}'s tensors, in
     * pieces of at most {@link #pieceValues} values, one small job each: a task result of a whole chunk (12 bytes per
     * parameter of a large model) would not fit the driver's heap, nor a single serialized result.
     */
    private void fetch(int array, Parameters into) {
        bytesGathered += 4L * chunks.total();
        for (int k = 0; k < chunks.count(); k++) {
            int length = chunks.length(k);
            int tensor = chunks.firstTensor()[k];
            float[] current = null;
            int filled = 0;
            int piece = pieceValues;
            for (int from = 0; from < length; from += piece) {
                int a = from;
                int b = Math.min(length, from + piece);
                int chunk = k;
                float[] values = state.map(c -> java.util.Arrays.copyOfRange(switch (array) {
                    case 0 -> c.values();
                    case 1 -> c.firstMoment();
                    default -> c.secondMoment();
                }, a, b)).collectPartitions(new int[] {chunk})[0].get(0);
                for (int i = 0; i < values.length; ) {
                    String name = chunks.names().get(tensor);
                    long[] shape = chunks.shapes().get(tensor);
                    if (current == null) {
                        current = new float[Math.toIntExact(into.get(name).length())];
                        filled = 0;
                    }
                    int n = Math.min(current.length - filled, values.length - i);
                    System.arraycopy(values, i, current, filled, n);
                    filled += n;
                    i += n;
                    if (filled == current.length) {
                        float[] whole = current;
                        Workspaces.outside(() -> {
                            INDArray tensorValues = Nd4j.create(whole, shape, 'c');
                            into.get(name).assign(tensorValues);
                            Parameters.release(tensorValues); // a tensor's worth each: freed now, not at a collection
                            return null;
                        });
                        current = null;
                        tensor++;
                    }
                }
            }
        }
    }

    /** The objective as a broadcast: each executor JVM deserializes it (AST's masks) once per change, not per task. */
    private SharedObjective broadcast(Objective objective) {
        if (objective != lastObjective) {
            objectives.add(SharedObjective.of(jsc, objective));
            lastObjective = objective;
        }
        return objectives.get(objectives.size() - 1);
    }

    /**
     * Drops the last step's cached RDDs now that the new state is computed; once a state is checkpointed, also the
     * older checkpoint and the objectives no longer reachable from it.
     */
    private void retire() {
        for (JavaRDD<?> r : retiring) {
            r.unpersist(false);
        }
        retiring.clear();
        if (state.isCheckpointed() && state.getCheckpointFile().isPresent()
                && !state.getCheckpointFile().get().equals(lineageFile)) {
            deleteLineageFile();
            lineageFile = state.getCheckpointFile().get();
            while (objectives.size() > 1) {
                objectives.remove(0).bytes().destroy(false);
            }
            initial.forEach(b -> b.destroy(false));
            initial.clear();
        }
    }

    private void deleteLineageFile() {
        if (lineageFile == null) {
            return;
        }
        try {
            Path p = new Path(lineageFile);
            p.getFileSystem(jsc.hadoopConfiguration()).delete(p, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + lineageFile, e);
        }
    }

    @Override
    public void close() {
        retiring.forEach(r -> r.unpersist(false));
        state.unpersist(false);
        objectives.forEach(b -> b.bytes().destroy(false));
        initial.forEach(b -> b.destroy(false));
        deleteLineageFile();
        if (lineageDir != null) {
            try {
                Path p = new Path(lineageDir);
                p.getFileSystem(jsc.hadoopConfiguration()).delete(p, true);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete " + lineageDir, e);
            }
        }
    }

    /**
     * An objective broadcast in Java-serialized form (objectives are any serializable class, which Kryo with
     * registration required would refuse), deserialized once per executor JVM.
     */
    private record SharedObjective(String id, Broadcast<byte[]> bytes) implements java.io.Serializable {
        /**
         * The latest objectives each JVM deserialized, by a random id (broadcast ids restart with every Spark
         * context, and a JVM can outlive one); a run uses one at a time.
         */
        private static final Map<String, Objective> DESERIALIZED = new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Objective> eldest) {
                return size() > 2;
            }
        };

        static SharedObjective of(JavaSparkContext jsc, Objective objective) {
            return new SharedObjective(java.util.UUID.randomUUID().toString(), jsc.broadcast(javaBytes(objective)));
        }

        Objective value() {
            synchronized (DESERIALIZED) {
                return DESERIALIZED.computeIfAbsent(id, k -> new JavaSerializer(SparkEnv.get().conf())
                        .newInstance().deserialize(ByteBuffer.wrap(bytes.value()),
                                Thread.currentThread().getContextClassLoader(),
                                ClassTag$.MODULE$.apply(Objective.class)));
            }
        }
    }

    /** Stage 2: a partition's mean gradient over its share, cut into chunks for the reduce-scatter. */
    private record PartitionGradient(String run, int step, ParameterChunks chunks, SharedObjective objective,
                                     long seed, int share, int microBatch)
            implements FlatMapFunction2<Iterator<Shard>, Iterator<Tuple2<Integer, ChunkValues>>,
            Tuple2<Integer, GradientPart>> {
        @Override
        public Iterator<Tuple2<Integer, GradientPart>> call(Iterator<Shard> shards,
                                                             Iterator<Tuple2<Integer, ChunkValues>> values) {
            TaskDevices.pin();
            int partition = TaskContext.getPartitionId();
            ShardBatches batches = new ShardBatches(shards.next(), seed, share, microBatch);
            Parameters grads;
            double loss;
            try (Replicas.Lease replica = Replicas.acquire(run, step,
                    () -> Parameters.fromFlat(chunks.spec(), join(values)))) {
                grads = Workspaces.outside(replica.trained()::zerosLike);
                loss = objective.value().accumulate(replica.trained(), step, batches.at(step), microBatch,
                        batches.seqLen(), grads);
            }
            double norm = AdamW.globalNorm(grads, grads.names());
            // each part is cut as the shuffle writes it, so the task holds the gradient once, not twice
            return new Iterator<>() {
                private int k;

                @Override
                public boolean hasNext() {
                    return k < chunks.count();
                }

                @Override
                public Tuple2<Integer, GradientPart> next() {
                    if (!hasNext()) {
                        throw new java.util.NoSuchElementException();
                    }
                    GradientPart part = new GradientPart(partition, share, loss, norm, chunks.slice(grads, k));
                    if (k == chunks.count() - 1) {
                        grads.release(); // off-heap memory goes back now, not at some later garbage collection
                    }
                    return new Tuple2<>(k++, part);
                }
            };
        }

        private float[] join(Iterator<Tuple2<Integer, ChunkValues>> values) {
            float[][] byChunk = new float[chunks.count()][];
            values.forEachRemaining(t -> byChunk[t._2().chunk()] = t._2().values());
            for (int k = 0; k < byChunk.length; k++) {
                if (byChunk[k] == null) {
                    throw new IllegalStateException("step " + (step + 1) + ": chunk " + k + " of the parameters"
                            + " did not arrive");
                }
            }
            return chunks.join(java.util.Arrays.asList(byChunk));
        }
    }

    /** Stage 3: chunk k's parts summed in partition-id order, and the chunk's tensor norms. */
    private record SumChunk(ParameterChunks chunks, int partitions, int batch)
            implements Function2<Integer, Iterator<Tuple2<Integer, GradientPart>>, Iterator<ChunkSum>> {
        @Override
        public Iterator<ChunkSum> call(Integer chunk, Iterator<Tuple2<Integer, GradientPart>> in) {
            int[] sequences = new int[partitions];
            double[] losses = new double[partitions];
            double[] norms = new double[partitions];
            INDArray sum = Workspaces.outside(() -> Nd4j.zeros(DataType.FLOAT, chunks.length(chunk)));
            // added in partition-id order as they arrive; a part that arrives before its turn waits here
            GradientPart[] waiting = new GradientPart[partitions];
            int next = 0;
            while (in.hasNext()) {
                GradientPart arrived = in.next()._2();
                waiting[arrived.partition()] = arrived;
                while (next < partitions && waiting[next] != null) {
                    GradientPart g = waiting[next];
                    waiting[next] = null;
                    double w = (double) g.sequences() / batch;
                    Workspaces.outside(() -> {
                        INDArray weighted = Nd4j.createFromArray(g.values()).muli(w);
                        sum.addi(weighted);
                        Parameters.release(weighted);
                        return null;
                    });
                    sequences[next] = g.sequences();
                    losses[next] = g.loss();
                    norms[next] = g.gradNorm();
                    next++;
                }
            }
            if (next < partitions) {
                throw new IllegalStateException("chunk " + chunk + ": no gradient from partition " + next);
            }
            float[] gradient = sum.data().asFloat();
            Parameters.release(sum);
            Parameters tensors = Workspaces.outside(() -> chunks.tensors(chunk, gradient));
            double[] tensorNorms = new double[tensors.names().size()];
            int i = 0;
            for (String n : tensors.names()) {
                tensorNorms[i++] = tensors.get(n).norm2Number().doubleValue();
            }
            tensors.release();
            return List.of(new ChunkSum(gradient, new ChunkSum.Report(chunk, tensorNorms, sequences, losses, norms)))
                    .iterator();
        }
    }

    /**
     * The update of chunk k, as {@link org.sparseft.train.TrainStep#update} does it for the whole model: clipping
     * (when {@code clip} is a number), the objective's regularisation, then AdamW.
     */
    private record ApplyUpdate(ParameterChunks chunks, SharedObjective objective, AdamW.Options adam,
                               long optimizerSteps, double lr, int step, double clip)
            implements FlatMapFunction2<Iterator<ChunkSum>, Iterator<ChunkState>, ChunkState> {
        @Override
        public Iterator<ChunkState> call(Iterator<ChunkSum> sums, Iterator<ChunkState> states) {
            TaskDevices.pin();
            ChunkSum sum = sums.next();
            ChunkState s = states.next();
            int k = s.chunk();
            ChunkState next = Workspaces.outside(() -> update(k, s, sum));
            return List.of(next).iterator();
        }

        /**
         * Tensor after tensor, so that off-heap there are four copies of one tensor (values, gradient, moments) at a
         * time rather than of the whole chunk: each tensor's update reads and writes that tensor alone, so the
         * order changes no bits.
         */
        private ChunkState update(int k, ChunkState s, ChunkSum sum) {
            float[] values = new float[s.values().length];
            float[] first = new float[values.length];
            float[] second = new float[values.length];
            int offset = 0;
            for (int t = chunks.firstTensor()[k]; t < chunks.firstTensor()[k + 1]; t++) {
                String name = chunks.names().get(t);
                Parameters params = chunks.tensor(t, s.values(), offset);
                Parameters grads = chunks.tensor(t, sum.gradient(), offset);
                AdamW optimizer = new AdamW(adam, chunks.tensor(t, s.firstMoment(), offset),
                        chunks.tensor(t, s.secondMoment(), offset), optimizerSteps);
                if (!Double.isNaN(clip)) {
                    grads.get(name).muli(clip);
                }
                objective.value().regularise(params, grads, step);
                optimizer.step(params, grads, params.names(), lr);
                int n = Math.toIntExact(params.get(name).length());
                System.arraycopy(HeapCopy.floats(params.get(name)), 0, values, offset, n);
                System.arraycopy(HeapCopy.floats(optimizer.firstMoment().get(name)), 0, first, offset, n);
                System.arraycopy(HeapCopy.floats(optimizer.secondMoment().get(name)), 0, second, offset, n);
                for (Parameters p : List.of(params, grads, optimizer.firstMoment(), optimizer.secondMoment())) {
                    p.release();
                }
                offset += n;
            }
            return new ChunkState(k, values, first, second);
        }
    }
}
