package org.sparseft.jobs.finetune;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
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
                + o.beta() + ", initialWarmup=" + o.initialWarmup() + ", finalWarmup=" + o.finalWarmup()
                + (o.blockSparsity().isEmpty() ? "" : ", blockSparsity=" + o.blockSparsity()) + "]";
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

    /**
     * PST's block of {@code sparsity.json}.
     *
     * @param pst the settings and how much trained
     */
    record Block(Pst pst) implements Settings {
    }

    /**
     * PST's settings and how much trained.
     *
     * @param weightRank rank of the weight update
     * @param maskRank rank of the importance's low-rank term
     * @param alpha1 weight of the row vector in the importance
     * @param alpha2 weight of the column vector in the importance
     * @param beta weight of the low-rank term in the importance
     * @param initialWarmup fraction of the steps before the sparsity schedule starts
     * @param finalWarmup fraction of the steps at the final sparsity
     * @param trainedParameters values trained
     * @param trainedFraction trained values over the model's
     */
    @JsonPropertyOrder({"weight_rank", "mask_rank", "alpha1", "alpha2", "beta", "initial_warmup", "final_warmup",
            "trained_parameters", "trained_fraction"})
    record Pst(@JsonProperty("weight_rank") int weightRank, @JsonProperty("mask_rank") int maskRank, double alpha1,
               double alpha2, double beta, @JsonProperty("initial_warmup") double initialWarmup,
               @JsonProperty("final_warmup") double finalWarmup,
               @JsonProperty("trained_parameters") long trainedParameters,
               @JsonProperty("trained_fraction") double trainedFraction) {
    }

    @Override
    public Settings settings(Parameters trained) {
        return new Block(new Pst(options.weightRank(), options.maskRank(), options.alpha1(), options.alpha2(),
                options.beta(), options.initialWarmup(), options.finalWarmup(), trained.count(), fraction));
    }
}
