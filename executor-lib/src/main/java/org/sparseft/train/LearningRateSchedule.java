package org.sparseft.train;

/**
 * Linear warmup from 0 to the peak, then cosine or linear decay to {@code minRatio}·peak at {@code totalSteps}, as
 * Hugging Face's {@code get_cosine_schedule_with_warmup} / {@code get_linear_schedule_with_warmup} (0-based steps).
 */
public record LearningRateSchedule(double peak, int warmupSteps, int totalSteps, Decay decay, double minRatio)
        implements java.io.Serializable {
    public enum Decay { COSINE, LINEAR, CONSTANT }

    public LearningRateSchedule {
        if (!(peak > 0) || warmupSteps < 0 || totalSteps <= 0 || minRatio < 0 || minRatio > 1) {
            throw new IllegalArgumentException("schedule: peak " + peak + ", warmup " + warmupSteps + ", total "
                    + totalSteps + ", min ratio " + minRatio);
        }
    }

    /** The learning rate of 0-based step {@code step}. */
    public double at(int step) {
        if (step < warmupSteps) {
            return peak * step / Math.max(1, warmupSteps);
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
        double factor = switch (decay) {
            case COSINE -> 0.5 * (1 + Math.cos(Math.PI * progress));
            case LINEAR -> 1 - progress;
            case CONSTANT -> 1;
        };
        return peak * (minRatio + (1 - minRatio) * factor);
    }
}
