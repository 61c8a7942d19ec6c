package org.sparseft.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.driver.ExecutorModels;
import org.sparseft.driver.train.DataParallelTrainer;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;
import org.sparseft.pst.PstModel;
import org.sparseft.pst.PstObjective;
import org.sparseft.pst.PstOptions;
import org.sparseft.train.AdaptiveObjective;

import java.util.LinkedHashMap;
import java.util.Map;

/** PST in {@code sparseft finetune}: the model stays frozen; the small importance and update tensors train. */
final class PstFinetune implements FinetuneMethod {
    /**
     * PST's defaults here: AdamW without weight decay and β2 0.999 as the reference; lr 1e-3 with no warm-up and a
     * cosine decay to 10% suit the small models this service trains in its demo (the reference's GPT-2-medium
     * setting is lr 1e-4, a linear schedule with 500 warm-up steps and no clipping: pass --lr, --warmup, --clip 0).
     */
    static final TrainingOptions.Defaults DEFAULTS = new TrainingOptions.Defaults(1e-3, 0, 0, 0.999,
            DataParallelTrainer.Sync.GRAD);

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
    public TrainingOptions.Defaults defaults() {
        return DEFAULTS;
    }

    @Override
    public Map<String, String> identity() {
        return Map.of("pst", options.toString());
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
