package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.databind.node.ObjectNode;
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

    @Override
    public void describe(ObjectNode sparsityJson, Parameters trained) {
        Distillation d = options.distillation();
        ObjectNode ast = sparsityJson.putObject("ast");
        ast.put("pattern", options.pattern().structure()).put("reselect_every", options.reselectEvery())
                .put("decay_max", options.decayMax()).put("decay_ramp", options.decayRamp())
                .put("temperature", d.temperature()).put("task_weight", d.taskWeight()).put("kl_weight", d.klWeight())
                .put("slorb_group", options.slorbGroup()).put("trained_parameters", trained.count())
                .put("mask_flip_rate_from_initial", (double) training.masks().changedFrom(training.initialMasks())
                        / training.masks().size());
        if (options.slorbGroup() > 0) {
            ast.put("slorb_file", SlorbBranch.FILE);
        }
    }
}
