package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The weight a prunable linear computes with, given its stored weight: the identity for dense models, W ⊙ M for a
 * mask, or a method's own transform. The model's gradient for a prunable weight is the gradient with respect to this
 * effective weight; a sparse method maps it back onto what it trains (straight-through, masking, ...).
 */
@FunctionalInterface
public interface EffectiveWeights {
    EffectiveWeights DENSE = (name, stored) -> stored;

    INDArray of(String weightName, INDArray stored);
}
