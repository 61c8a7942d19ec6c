package org.sparseft.driver.train;

import org.sparseft.InvalidSettingException;
import org.sparseft.io.Storage;
import org.sparseft.model.Parameters;
import org.sparseft.train.AdamW;
import org.sparseft.train.AdaptiveObjective;
import org.sparseft.io.safetensors.SafetensorsWriter;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A run directory: its checkpoints, its {@code metrics.jsonl}, and where training starts: step 0 with a fresh
 * optimizer, or (with resume) the newest complete checkpoint, whose identity must match this run's.
 */
public final class TrainingRun implements Closeable {
    private final String dir;
    private final CheckpointStore checkpoints;
    private final MetricsLog metrics;
    private final Map<String, String> identity;
    private final int startStep;
    private final String resumedFrom;
    private final AdamW optimizer;

    private TrainingRun(String dir, CheckpointStore checkpoints, MetricsLog metrics, Map<String, String> identity,
                        int startStep, String resumedFrom, AdamW optimizer) {
        this.dir = dir;
        this.checkpoints = checkpoints;
        this.metrics = metrics;
        this.identity = identity;
        this.startStep = startStep;
        this.resumedFrom = resumedFrom;
        this.optimizer = optimizer;
    }

    /**
     * Opens {@code dir} for training {@code params} (initial values, replaced by the checkpoint's when resuming).
     *
     * @param resume continue from the newest complete checkpoint, if there is one
     * @param force without resume, discard an earlier run's checkpoints and metrics
     */
    public static TrainingRun open(Storage storage, String dir, int keep, boolean resume, boolean force,
                                   Map<String, String> identity, Parameters params, AdamW.Options adam)
            throws IOException {
        return open(storage, dir, keep, resume, force, identity, params, adam, AdaptiveObjective.fixed(null));
    }

    /**
     * As {@link #open(Storage, String, int, boolean, boolean, Map, Parameters, AdamW.Options)}, restoring
     * {@code method}'s state too when resuming.
     */
    public static TrainingRun open(Storage storage, String dir, int keep, boolean resume, boolean force,
                                   Map<String, String> identity, Parameters params, AdamW.Options adam,
                                   AdaptiveObjective method) throws IOException {
        CheckpointStore store = new CheckpointStore(storage, dir, keep);
        String metricsPath = Storage.join(dir, "metrics.jsonl");
        if (!resume) {
            if (!store.steps().isEmpty() && !force) {
                throw InvalidSettingException.of("run", dir, "holds checkpoints of an earlier run; continue it with"
                        + " {resume}, or discard it with {force}");
            }
            storage.delete(store.directory());
            storage.mkdirs(dir);
            return new TrainingRun(dir, store, new MetricsLog(storage, metricsPath, 0), identity, 0, null,
                    new AdamW(params, adam));
        }
        store.removeIncomplete();
        Optional<CheckpointStore.Loaded> latest = store.latest();
        if (latest.isEmpty()) {
            storage.mkdirs(dir);
            return new TrainingRun(dir, store, new MetricsLog(storage, metricsPath, 0), identity, 0, null,
                    new AdamW(params, adam));
        }
        CheckpointStore.Loaded c = latest.get();
        for (Map.Entry<String, String> e : identity.entrySet()) {
            String saved = c.state().identity().get(e.getKey());
            if (!e.getValue().equals(saved)) {
                throw new InvalidSettingException(InvalidSettingException.literal(Storage.join(c.path(), "state.json")
                        + ": field 'identity." + e.getKey() + "' is " + saved + ", this run's is " + e.getValue())
                        + "; resume with the original run's settings and data, or start a new {run} directory");
            }
        }
        AdamW optimizer = store.restore(c, params, adam);
        store.restore(c, method);
        return new TrainingRun(dir, store, new MetricsLog(storage, metricsPath, c.state().step()), identity,
                c.state().step(), c.path(), optimizer);
    }

    public String directory() {
        return dir;
    }

    public int startStep() {
        return startStep;
    }

    /** The checkpoint this run resumed from, if it did. */
    public Optional<String> resumedFrom() {
        return Optional.ofNullable(resumedFrom);
    }

    public AdamW optimizer() {
        return optimizer;
    }

    public MetricsLog metrics() {
        return metrics;
    }

    public CheckpointStore checkpoints() {
        return checkpoints;
    }

    /** Writes the checkpoint after {@code step} optimizer steps, with a method's own state (may be empty). */
    public String checkpoint(int step, Parameters params, AdamW optimizer, List<SafetensorsWriter.Entry> methodState)
            throws IOException {
        return checkpoints.write(new TrainingState(TrainingState.FORMAT, step, optimizer.steps(), identity), params,
                optimizer, methodState);
    }

    /** The newest checkpoint's path, for messages. */
    public String lastCheckpoint() throws IOException {
        var steps = checkpoints.steps();
        return steps.isEmpty() ? "none" : checkpoints.path(steps.get(steps.size() - 1));
    }

    @Override
    public void close() throws IOException {
        metrics.close();
    }
}
