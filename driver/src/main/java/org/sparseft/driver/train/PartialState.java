package org.sparseft.driver.train;

/**
 * What one partition returns after a round of local steps (parameter averaging): its parameters and AdamW moments
 * (flat, in parameter order), its mean loss over the round, and the last step's gradient norm. A step that met a
 * non-finite loss or gradient ends the round early and reports it in {@code failure}.
 */
public record PartialState(int partition, int sequences, double loss, double gradNorm, float[] parameters,
                           float[] firstMoment, float[] secondMoment, String failure) {
}
