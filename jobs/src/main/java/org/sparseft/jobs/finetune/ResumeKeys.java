package org.sparseft.jobs.finetune;

import org.sparseft.sparsity.SparsityPattern;

/** Pieces of the methods' resume keys ({@link PstFinetune#resumeKey}, {@link AstFinetune#resumeKey}). */
final class ResumeKeys {
    private ResumeKeys() {
    }

    /** {@code Unstructured[ratio=0.5]} or {@code NOutOfM[n=2, m=4]}, as runs have recorded them. */
    static String pattern(SparsityPattern p) {
        if (p instanceof SparsityPattern.NOutOfM nm) {
            return "NOutOfM[n=" + nm.n() + ", m=" + nm.m() + "]";
        }
        return "Unstructured[ratio=" + p.ratio() + "]";
    }
}
