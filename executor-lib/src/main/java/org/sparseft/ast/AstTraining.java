package org.sparseft.ast;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.BadInputException;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsFile;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.ModelSource;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.train.AdaptiveObjective;
import org.sparseft.train.TrainedValues;
import org.sparseft.sparsity.SparsityPattern;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AST's state on the driver: the masks in force, the initial masks (for the flip count against them), and their
 * re-selection by magnitude from the aggregated weights every {@link AstOptions#reselectEvery()} steps (computed where
 * the weights are, when they are sharded over executors). Masks travel to executors inside each step's
 * {@link AstObjective}, packed one bit per weight.
 */
public final class AstTraining implements AdaptiveObjective {
    private final ModelSource teacher;
    private final AstOptions options;
    private final int totalSteps;
    private final List<String> weights;
    private NmMasks initial;
    private NmMasks masks;
    /** The objective of {@link #masks}: one per re-selection, so its unpacked masks serve every step until then. */
    private AstObjective current;

    private AstTraining(ModelSource teacher, AstOptions options, int totalSteps, List<String> weights,
                        NmMasks initial) {
        this.teacher = teacher;
        this.options = options;
        this.totalSteps = totalSteps;
        this.weights = weights;
        this.initial = initial;
        this.masks = initial;
    }

    /**
     * The trained tensors of an AST run from the model's: all of them, plus S and P per masked weight with SLoRB;
     * the initial masks are the N:M magnitude masks of {@code model}.
     */
    public record Start(Parameters trained, AstTraining training) {
    }

    public static Start start(Parameters model, AstOptions options, int totalSteps, ModelSource teacher) {
        ModelConfig cfg = model.config();
        List<String> weights = cfg.prunableWeights();
        for (String w : weights) { // SLoRB's groups are checked where they are made
            options.pattern().checkFits(w, model.get(w).columns());
        }
        NmMasks initial = Workspaces.outside(() -> NmMasks.byMagnitude(model, weights, options.pattern()));
        Parameters trained = model;
        if (options.slorbGroup() > 0) {
            Map<String, INDArray> t = new LinkedHashMap<>();
            for (String n : model.names()) {
                t.put(n, model.get(n));
            }
            Workspaces.outside(() -> {
                for (String w : weights) {
                    Slorb.initialize(t, w, model.get(w), initial.keep(w), options.slorbGroup());
                }
                return null;
            });
            trained = Parameters.of(cfg, t);
        }
        return new Start(trained, new AstTraining(teacher, options, totalSteps, weights, initial));
    }

    /** The masks in force. */
    public NmMasks masks() {
        return masks;
    }

    /** The masks training started with. */
    public NmMasks initialMasks() {
        return initial;
    }

    @Override
    public AstObjective current() {
        if (current == null || current.masks() != masks) {
            current = new AstObjective(teacher, options, masks, totalSteps);
        }
        return current;
    }

    @Override
    public Map<String, Double> afterSteps(TrainedValues trained, int stepsBefore, int stepsDone) {
        if (!options.reselectAfter(stepsBefore, stepsDone)) {
            return Map.of();
        }
        // chosen where the weights are: only the masks, a bit per weight, travel
        List<String> masked = weights;
        SparsityPattern.NOutOfM pattern = options.pattern();
        NmMasks next = NmMasks.concat(trained.perPart(part -> Workspaces.outside(() -> NmMasks.byMagnitude(part,
                masked.stream().filter(part.names()::contains).toList(), pattern))), weights);
        Map<String, Double> figures = new LinkedHashMap<>();
        figures.put("mask_flip_rate", (double) next.changedFrom(masks) / next.size());
        figures.put("mask_flip_rate_initial", (double) next.changedFrom(initial) / next.size());
        masks = next;
        return figures;
    }

    @Override
    public List<SafetensorsWriter.Entry> checkpointed() {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        for (String w : weights) {
            out.add(new SafetensorsWriter.Entry("mask." + w, DType.U8, masks.shape(w), ByteBuffer.wrap(masks.bytes(w))));
            out.add(new SafetensorsWriter.Entry("initial_mask." + w, DType.U8, initial.shape(w),
                    ByteBuffer.wrap(initial.bytes(w))));
        }
        return out;
    }

    @Override
    public void restore(SafetensorsFile saved) throws IOException {
        masks = read(saved, "mask.");
        initial = read(saved, "initial_mask.");
    }

    private NmMasks read(SafetensorsFile file, String prefix) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, byte[]> values = new LinkedHashMap<>();
        for (String w : weights) {
            String name = prefix + w;
            long[] shape = masks.shape(w);
            if (!file.contains(name) || !java.util.Arrays.equals(file.info(name).shape(), shape)) {
                throw BadInputException.at(file.path(), "needs tensor '" + name + "' of shape "
                        + java.util.Arrays.toString(shape));
            }
            long[] v = file.readIntegers(name);
            byte[] b = new byte[v.length];
            for (int i = 0; i < v.length; i++) {
                b[i] = (byte) (v[i] != 0 ? 1 : 0);
            }
            shapes.put(w, shape);
            values.put(w, b);
        }
        return NmMasks.ofBytes(shapes, values);
    }
}
