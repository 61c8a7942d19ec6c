package org.sparseft.jobs.finetune;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Parameters;
import org.sparseft.train.AdaptiveObjective;

import java.util.List;
import java.util.Map;

/**
 * What fine-tuning needs from a method (PST, AST): the tensors it trains and their objective, how the model computes
 * with them part-way (validation) and at the end (export). Spark, data, runs and the export itself are
 * {@link FinetuneService}'s.
 */
interface FinetuneMethod {
    /** The trained tensors, their objective, and the line describing them. */
    record Training(Parameters trained, AdaptiveObjective objective, String summary) {
    }

    /** The model as it computes after some steps: its parameters and the effective weights of its prunable ones. */
    record View(DecoderModel model, EffectiveWeights weights) {
    }

    /**
     * The export: keep-masks and the new values (compute layout, float32; rounded to the stored dtypes by the
     * service) of the weights the method changed; extra files written beside the checkpoint; and the dense term
     * those files add to a prunable weight's output (SLoRB's S·P), empty when the checkpoint alone is the model.
     */
    record Export(Map<String, INDArray> masks, Map<String, INDArray> updated,
                  Map<String, List<SafetensorsWriter.Entry>> extraFiles, Map<String, INDArray> branch) {
    }

    String name();

    /** Settings a resume must repeat, beside the training settings. */
    Map<String, String> identity();

    /** @param dense the input model, loaded on the driver (not modified) */
    Training start(DecoderModel dense, String modelPath, String contentHash, int steps, long seed);

    View at(DecoderModel dense, Parameters trained, int stepsDone, int totalSteps);

    Export export(DecoderModel dense, Parameters trained, int steps);

    /**
     * The method's block of {@code sparsity.json}: a record with one component named after the method, so that the
     * block appears under that name.
     */
    interface Settings {
    }

    /** The method's settings and figures, for {@code sparsity.json}. */
    Settings settings(Parameters trained);

    /** The method a spec names, with its settings. */
    static FinetuneMethod of(FinetuneSpec spec) {
        return switch (spec.method()) {
            case PST -> new PstFinetune(spec.pst());
            case AST -> new AstFinetune(spec.ast());
        };
    }
}
