package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.ast.AstObjective;
import org.sparseft.ast.AstOptions;
import org.sparseft.ast.AstTraining;
import org.sparseft.ast.Distillation;
import org.sparseft.ast.Slorb;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AST in fine-tuning: every weight trains under N:M masks re-selected by magnitude, pruned weights
 * decay, the dense input model is the teacher. With SLoRB the checkpoint holds the exactly N:M-sparse weights and
 * {@code slorb.safetensors} the boosting branch beside it: S·P is dense, so folding it in would undo the pattern
 * (docs/algorithms.md §8.4); {@code sparseft evaluate} applies the branch, other loaders see the plain N:M model.
 */
final class AstFinetune implements FinetuneMethod {
    private final AstOptions options;
    private AstTraining training;

    AstFinetune(AstOptions options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "ast";
    }

    @Override
    public Map<String, String> identity() {
        return Map.of("ast", resumeKey(options));
    }

    /**
     * AST's settings as a resume compares them: every one, in the text runs have recorded in their
     * {@code state.json} from the start (once {@code AstOptions}' record text), so that earlier runs stay resumable.
     * A setting added to {@link AstOptions} that changes the result must be added here.
     */
    static String resumeKey(AstOptions o) {
        Distillation d = o.distillation();
        return "AstOptions[pattern=" + ResumeKeys.pattern(o.pattern()) + ", reselectEvery=" + o.reselectEvery()
                + ", decayMax=" + o.decayMax() + ", decayRamp=" + o.decayRamp()
                + ", distillation=Distillation[temperature=" + d.temperature() + ", taskWeight=" + d.taskWeight()
                + ", klWeight=" + d.klWeight() + "], slorbGroup=" + o.slorbGroup() + "]";
    }

    @Override
    public Training start(DecoderModel dense, String modelPath, String contentHash, int steps, long seed) {
        Parameters copy = Workspaces.outside(() -> dense.parameters().castTo(DataType.FLOAT));
        AstTraining.Start s = AstTraining.start(copy, options, steps, () -> ExecutorModels.get(modelPath,
                contentHash));
        training = s.training();
        long extra = s.trained().count() - dense.parameters().count();
        return new Training(s.trained(), training, String.format("%,d trained parameters (all %,d of the model%s),"
                        + " %s masks re-selected every %d steps", s.trained().count(), dense.parameters().count(),
                extra > 0 ? String.format(" + %,d SLoRB", extra) : "", options.pattern().structure(),
                options.reselectEvery()));
    }

    @Override
    public View at(DecoderModel dense, Parameters trained, int stepsDone, int totalSteps) {
        AstObjective o = training.current();
        return new View(DecoderModel.of(trained), AstObjective.effective(o.keepMasks(), o.slorbTerms(trained)));
    }

    @Override
    public Export export(DecoderModel dense, Parameters trained, int steps) {
        Map<String, INDArray> masks = training.current().keepMasks();
        Map<String, INDArray> keep = new LinkedHashMap<>();
        Map<String, INDArray> updated = new LinkedHashMap<>();
        Map<String, INDArray> branch = new LinkedHashMap<>();
        List<SafetensorsWriter.Entry> slorb = new ArrayList<>();
        for (String n : dense.parameters().names()) {
            INDArray w = trained.get(n);
            INDArray k = masks.get(n);
            if (k != null) {
                keep.put(n, k);
                updated.put(n, w.mul(k));
                if (options.slorbGroup() > 0) {
                    branch.put(n, Slorb.term(trained, n));
                    for (String t : List.of(Slorb.s(n), Slorb.p(n))) {
                        INDArray v = trained.get(t);
                        slorb.add(SafetensorsWriter.Entry.ofFloats(t, DType.F32, v.shape(),
                                v.dup('c').data().asFloat()));
                    }
                }
            } else {
                updated.put(n, w);
            }
        }
        return new Export(keep, updated, slorb.isEmpty() ? Map.of() : Map.of(SlorbBranch.FILE, slorb), branch);
    }

    /**
     * AST's block of {@code sparsity.json}.
     *
     * @param ast the settings and what training did to the masks
     */
    record Block(Ast ast) implements Settings {
    }

    /**
     * AST's settings and what training did to the masks.
     *
     * @param pattern the N:M pattern
     * @param reselectEvery steps between mask re-selections
     * @param decayMax the pruned weights' decay at its peak
     * @param decayRamp fraction of the steps over which the decay ramps up
     * @param temperature the distillation temperature τ
     * @param taskWeight weight of the next-token loss
     * @param klWeight weight of the τ²-scaled KL to the teacher
     * @param slorbGroup SLoRB's group size (0: none)
     * @param trainedParameters values trained
     * @param maskFlipRateFromInitial share of mask bits that differ from the initial masks at the end
     * @param slorbFile the SLoRB branch's file beside the checkpoint, or null without SLoRB
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({"pattern", "reselect_every", "decay_max", "decay_ramp", "temperature", "task_weight",
            "kl_weight", "slorb_group", "trained_parameters", "mask_flip_rate_from_initial", "slorb_file"})
    record Ast(String pattern, @JsonProperty("reselect_every") int reselectEvery,
               @JsonProperty("decay_max") double decayMax, @JsonProperty("decay_ramp") double decayRamp,
               double temperature, @JsonProperty("task_weight") double taskWeight,
               @JsonProperty("kl_weight") double klWeight, @JsonProperty("slorb_group") int slorbGroup,
               @JsonProperty("trained_parameters") long trainedParameters,
               @JsonProperty("mask_flip_rate_from_initial") double maskFlipRateFromInitial,
               @JsonProperty("slorb_file") String slorbFile) {
    }

    @Override
    public Settings settings(Parameters trained) {
        Distillation d = options.distillation();
        return new Block(new Ast(options.pattern().structure(), options.reselectEvery(), options.decayMax(),
                options.decayRamp(), d.temperature(), d.taskWeight(), d.klWeight(), options.slorbGroup(),
                trained.count(), (double) training.masks().changedFrom(training.initialMasks())
                        / training.masks().size(), options.slorbGroup() > 0 ? SlorbBranch.FILE : null));
    }
}
