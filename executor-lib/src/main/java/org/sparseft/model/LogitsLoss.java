package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.model.ops.CrossEntropy;

/**
 * The loss a training pass ends in, as a function of the LM head's output: its value and its gradient with respect
 * to the logits. Next-token cross-entropy for plain training; AST adds distillation from a teacher's logits.
 */
@FunctionalInterface
public interface LogitsLoss {
    record Value(double loss, INDArray dLogits) {
    }

    /** @param logits [batch·seqLen, vocab] */
    Value compute(INDArray logits);

    /** Mean next-token cross-entropy against {@code targets} ({@link CrossEntropy#IGNORE} where there is none). */
    static LogitsLoss crossEntropy(int[] targets) {
        return logits -> {
            CrossEntropy.Result r = CrossEntropy.compute(logits, targets, true);
            return new Value(r.loss(), r.dLogits());
        };
    }
}
