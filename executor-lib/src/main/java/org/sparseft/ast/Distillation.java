package org.sparseft.ast;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.LogitsLoss;
import org.sparseft.model.ops.CrossEntropy;

/**
 * AST's loss (docs/algorithms.md §8.3): w_task·CE(student, next token) + w_kl·(τ²/N)·Σ_rows KL(softmax(z_t/τ) ‖
 * softmax(z_s/τ)), with the frozen dense teacher's logits z_t for the same rows, N the number of rows (every position
 * of every sequence; the cross-entropy counts the positions that have a next token). Its gradient with respect to
 * the student's logits is w_task·∂CE + w_kl·τ·(softmax(z_s/τ) − softmax(z_t/τ))/N.
 *
 * @param temperature τ (2 in both reference paths)
 * @param taskWeight w_task (GPT-2 path 0.33, LLaMA path 1)
 * @param klWeight w_kl (GPT-2 path 0.67, LLaMA path 0.5)
 */
public record Distillation(double temperature, double taskWeight, double klWeight) implements java.io.Serializable {
    public static final Distillation GPT2 = new Distillation(2, 0.33, 0.67);

    public Distillation {
        if (!(temperature > 0) || !(taskWeight >= 0) || !(klWeight >= 0) || taskWeight + klWeight == 0) {
            throw new org.sparseft.InvalidSettingException("distillation: {ast-temperature} must be positive and"
                    + " {ast-task-weight}, {ast-kl-weight} non-negative, not both 0 (got " + temperature + ", "
                    + taskWeight + ", " + klWeight + ")");
        }
    }

    /** The loss, its two parts, and the gradient with respect to the student's logits. */
    public record Result(double loss, double crossEntropy, double kl, INDArray dLogits) {
    }

    /**
     * @param student [rows, vocab]
     * @param teacher [rows, vocab], the same rows through the dense teacher
     * @param targets next-token ids per row, {@link CrossEntropy#IGNORE} where there is none
     */
    public Result compute(INDArray student, INDArray teacher, int[] targets) {
        if (!java.util.Arrays.equals(student.shape(), teacher.shape())) {
            throw new IllegalArgumentException("student logits " + java.util.Arrays.toString(student.shape())
                    + " and teacher logits " + java.util.Arrays.toString(teacher.shape()) + " differ");
        }
        CrossEntropy.Result ce = CrossEntropy.compute(student, targets, true);
        long rows = student.rows();
        INDArray logPs = logSoftmax(student.div(temperature));
        INDArray logPt = logSoftmax(teacher.div(temperature));
        INDArray pt = Transforms.exp(logPt, true);
        double kl = pt.mul(logPt.sub(logPs)).sumNumber().doubleValue() * temperature * temperature / rows;
        INDArray ps = Transforms.exp(logPs, false);
        INDArray dLogits = ce.dLogits().muli(taskWeight)
                .addi(ps.subi(pt).muli(klWeight * temperature / rows));
        return new Result(taskWeight * ce.loss() + klWeight * kl, ce.loss(), kl, dLogits);
    }

    /**
     * As a training pass's loss for one micro-batch; {@code teacher} may be null when the KL weight is 0 (then no
     * teacher forward is needed and the loss is w_task·CE).
     */
    public LogitsLoss loss(INDArray teacher, int[] targets) {
        if (klWeight == 0) {
            return logits -> {
                CrossEntropy.Result ce = CrossEntropy.compute(logits, targets, true);
                return new LogitsLoss.Value(taskWeight * ce.loss(), ce.dLogits().muli(taskWeight));
            };
        }
        return logits -> {
            Result r = compute(logits, teacher, targets);
            return new LogitsLoss.Value(r.loss(), r.dLogits());
        };
    }

    private static INDArray logSoftmax(INDArray z) {
        INDArray shifted = z.subColumnVector(z.max(true, 1));
        INDArray lse = Transforms.log(Transforms.exp(shifted, true).sum(true, 1), false);
        return shifted.subiColumnVector(lse);
    }
}
