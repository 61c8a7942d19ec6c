package org.sparseft.driver.train;

import org.sparseft.BadInputException;
import org.sparseft.InvalidSettingException;
import org.sparseft.io.AtomicOutput;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.HeapCopy;
import org.sparseft.train.AdamW;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Training checkpoints under {@code <run>/checkpoints/step-NNNNNNN/}: {@code parameters.safetensors} (float32, compute
 * layout, every trained tensor), {@code optimizer.safetensors} (AdamW's {@code exp_avg.*} and {@code exp_avg_sq.*}),
 * {@code state.json} and, for a method with state of its own (AST's masks), {@code method.safetensors}. Each is built
 * under a temporary name and renamed, so a directory with the final name is complete; only the newest {@code keep}
 * are kept.
 */
public final class CheckpointStore {
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{7,})");
    /** A method's own state beside the parameters, when it has one. */
    public static final String METHOD_STATE = "method.safetensors";

    private final Storage storage;
    private final String dir;
    private final int keep;

    public CheckpointStore(Storage storage, String runDir, int keep) {
        if (keep < 1) {
            throw InvalidSettingException.of("keep", keep, "expected at least 1");
        }
        this.storage = storage;
        this.dir = Storage.join(runDir, "checkpoints");
        this.keep = keep;
    }

    public String directory() {
        return dir;
    }

    public String path(int step) {
        return Storage.join(dir, String.format("step-%07d", step));
    }

    /** A loaded checkpoint. */
    public record Loaded(String path, TrainingState state) {
    }

    /** Writes the checkpoint of {@code state.step()}, then deletes all but the newest {@code keep}. */
    public String write(TrainingState state, Parameters params, AdamW optimizer) throws IOException {
        return write(state, params, optimizer, List.of());
    }

    /**
     * As {@link #write(TrainingState, Parameters, AdamW)}, with a method's own state (e.g. AST's masks) in
     * {@code method.safetensors} when {@code methodState} is not empty.
     */
    public String write(TrainingState state, Parameters params, AdamW optimizer,
                        List<SafetensorsWriter.Entry> methodState) throws IOException {
        String target = path(state.step());
        AtomicOutput.writeDirectory(storage, target, true, tmp -> {
            SafetensorsWriter.write(storage, Storage.join(tmp, "parameters.safetensors"), entries("", params),
                    Map.of("format", "sparseft-training-checkpoint", "layout", "compute"));
            List<SafetensorsWriter.Entry> moments = new ArrayList<>(entries("exp_avg.", optimizer.firstMoment()));
            moments.addAll(entries("exp_avg_sq.", optimizer.secondMoment()));
            SafetensorsWriter.write(storage, Storage.join(tmp, "optimizer.safetensors"), moments,
                    Map.of("optimizer", "adamw", "steps", Long.toString(optimizer.steps())));
            if (!methodState.isEmpty()) {
                SafetensorsWriter.write(storage, Storage.join(tmp, METHOD_STATE), methodState,
                        Map.of("format", "sparseft-method-state"));
            }
            try (var out = storage.create(Storage.join(tmp, "state.json"))) {
                out.write(Json.PRETTY.writeValueAsBytes(state));
            }
        });
        List<Integer> steps = steps();
        for (int i = 0; i < steps.size() - keep; i++) {
            storage.delete(path(steps.get(i)));
        }
        return target;
    }

    /** Steps of the complete checkpoints, ascending. */
    public List<Integer> steps() throws IOException {
        List<Integer> steps = new ArrayList<>();
        if (!storage.isDirectory(dir)) {
            return steps;
        }
        for (String name : storage.list(dir)) {
            Matcher m = STEP_DIR.matcher(name);
            if (m.matches() && storage.exists(Storage.join(Storage.join(dir, name), "state.json"))) {
                steps.add(Integer.parseInt(m.group(1)));
            }
        }
        steps.sort(null);
        return steps;
    }

    /**
     * Removes what an interrupted writer left in the run directory and its checkpoints: temporary directories and
     * files ({@code .NAME.inprogress-*}), outputs set aside for replacement ({@code .NAME.replaced-*}) and step
     * directories without their {@code state.json} (written last; a file system without atomic directory rename can
     * leave such a directory half copied).
     */
    public void removeIncomplete() throws IOException {
        for (String d : new String[] {dir, dir.substring(0, dir.length() - "/checkpoints".length())}) {
            if (!storage.isDirectory(d)) {
                continue;
            }
            for (String name : storage.list(d)) {
                String child = Storage.join(d, name);
                boolean leftOver = name.startsWith(".")
                        && (name.contains(AtomicOutput.TEMP_MARK) || name.contains(AtomicOutput.REPLACED_MARK));
                boolean halfCopied = d.equals(dir) && STEP_DIR.matcher(name).matches()
                        && !storage.exists(Storage.join(child, "state.json"));
                if (leftOver || halfCopied) {
                    storage.delete(child);
                }
            }
        }
    }

    /** The newest complete checkpoint's state, if any. */
    public Optional<Loaded> latest() throws IOException {
        List<Integer> steps = steps();
        if (steps.isEmpty()) {
            return Optional.empty();
        }
        String path = path(steps.get(steps.size() - 1));
        String statePath = Storage.join(path, "state.json");
        TrainingState state;
        try {
            state = Json.MAPPER.readValue(storage.readAllBytes(statePath), TrainingState.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw BadInputException.at(statePath, "is not a sparseft training state: " + e.getOriginalMessage());
        }
        if (state.identity() == null || state.step() < 0 || state.optimizerSteps() < 0) {
            throw BadInputException.at(statePath, "needs fields 'step' and 'optimizer_steps' (non-negative) and"
                    + " 'identity'");
        }
        if (state.format() != TrainingState.FORMAT) {
            throw BadInputException.at(statePath, "field 'format' is " + state.format() + ", this sparseft reads "
                    + TrainingState.FORMAT);
        }
        return Optional.of(new Loaded(path, state));
    }

    /** Reads a checkpoint's tensors into {@code params} and returns the optimizer state it saved. */
    public AdamW restore(Loaded checkpoint, Parameters params, AdamW.Options adam) throws IOException {
        Parameters m = params.zerosLike();
        Parameters v = params.zerosLike();
        try (SafetensorsFile p = SafetensorsFile.open(storage, Storage.join(checkpoint.path(), "parameters.safetensors"));
             SafetensorsFile o = SafetensorsFile.open(storage, Storage.join(checkpoint.path(), "optimizer.safetensors"))) {
            for (String name : params.names()) {
                read(p, name, params, name);
                read(o, "exp_avg." + name, m, name);
                read(o, "exp_avg_sq." + name, v, name);
            }
        }
        return new AdamW(adam, m, v, checkpoint.state().optimizerSteps());
    }

    /** Restores a method's state from the checkpoint's {@code method.safetensors}. */
    public void restore(Loaded checkpoint, org.sparseft.train.AdaptiveObjective method) throws IOException {
        String path = Storage.join(checkpoint.path(), METHOD_STATE);
        if (!storage.exists(path)) {
            if (method.checkpointed().isEmpty()) {
                return;
            }
            throw BadInputException.at(path, "is missing: this method keeps state beside the parameters");
        }
        try (SafetensorsFile f = SafetensorsFile.open(storage, path)) {
            method.restore(f);
        }
    }

    private static void read(SafetensorsFile file, String tensor, Parameters into, String name) throws IOException {
        if (!file.contains(tensor)) {
            throw BadInputException.at(file.path(), "has no tensor '" + tensor + "'");
        }
        var target = into.get(name);
        if (!java.util.Arrays.equals(file.info(tensor).shape(), target.shape())) {
            throw BadInputException.at(file.path(), "tensor '" + tensor + "' has shape "
                    + java.util.Arrays.toString(file.info(tensor).shape()) + ", expected "
                    + java.util.Arrays.toString(target.shape()));
        }
        target.assign(org.nd4j.linalg.factory.Nd4j.create(file.readFloats(tensor), target.shape(), 'c'));
    }

    private static List<SafetensorsWriter.Entry> entries(String prefix, Parameters params) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        for (String name : params.names()) {
            var t = params.get(name);
            out.add(SafetensorsWriter.Entry.ofFloats(prefix + name, DType.F32, t.shape(),
                    HeapCopy.floats(t)));
        }
        return out;
    }
}
