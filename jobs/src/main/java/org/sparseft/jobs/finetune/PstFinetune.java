package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;
import org.sparseft.pst.PstModel;
import org.sparseft.pst.PstObjective;
import org.sparseft.pst.PstOptions;
import org.sparseft.train.AdaptiveObjective;

import java.util.LinkedHashMap;
import java.util.Map;

/** PST in fine-tuning: the model stays frozen; the small importance and update tensors train. */
final class PstFinetune implements FinetuneMethod {
    private final PstOptions options;
    private double fraction;

    PstFinetune(PstOptions options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "pst";
    }

    @Override
    public Map<String, String> identity() {
        return Map.of("pst", resumeKey(options));
    }

    /**
     * PST's settings as a resume compares them: every one, in the text runs have recorded in their
     * {@code state.json} from the start (once {@code PstOptions}' record text), so that earlier runs stay resumable.
     * A setting added to {@link PstOptions} that changes the result must be added here.
     */
    static String resumeKey(PstOptions o) {
        return "PstOptions[target=" + ResumeKeys.pattern(o.target()) + ", weightRank=" + o.weightRank()
                + ", maskRank=" + o.maskRank() + ", alpha1=" + o.alpha1() + ", alpha2=" + o.alpha2() + ", beta="
                + o.beta() + ", initialWarmup=" + o.initialWarmup() + ", finalWarmup=" + o.finalWarmup() + "]";
    }

    @Override
    public Training start(DecoderModel dense, String modelPath, String contentHash, int steps, long seed) {
        Parameters trained = PstModel.initialize(dense.parameters(), options, seed);
        fraction = PstModel.trainableFraction(dense.parameters(), trained);
        PstObjective objective = new PstObjective(() -> ExecutorModels.get(modelPath, contentHash), options, steps);
        return new Training(trained, AdaptiveObjective.fixed(objective), String.format("%,d trained parameters"
                + " (%.2f%% of %,d)", trained.count(), 100 * fraction,
                dense.parameters().count()));
    }

    @Override
    public View at(DecoderModel dense, Parameters trained, int stepsDone, int totalSteps) {
        return new View(dense, PstModel.prepare(dense.parameters(), trained, options,
                options.sparsityAt(stepsDone, totalSteps)).weights());
    }

    @Override
    public Export export(DecoderModel dense, Parameters trained, int steps) {
        PstModel.Step last = PstModel.prepare(dense.parameters(), trained, options, options.sparsityAt(steps, steps));
        Map<String, INDArray> masks = new LinkedHashMap<>();
        Map<String, INDArray> updated = new LinkedHashMap<>();
        for (String w : dense.config().prunableWeights()) {
            masks.put(w, last.keep(w));
            updated.put(w, last.effective(w));
        }
        return new Export(masks, updated, Map.of(), Map.of());
    }

    @Override
    public void describe(ObjectNode sparsityJson, Parameters trained) {
        sparsityJson.putObject("pst").put("weight_rank", options.weightRank()).put("mask_rank", options.maskRank())
                .put("alpha1", options.alpha1()).put("alpha2", options.alpha2()).put("beta", options.beta())
                .put("initial_warmup", options.initialWarmup()).put("final_warmup", options.finalWarmup())
                .put("trained_parameters", trained.count()).put("trained_fraction", fraction);
    }
}
