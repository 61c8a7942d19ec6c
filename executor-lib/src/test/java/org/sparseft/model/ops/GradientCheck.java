package org.sparseft.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.function.BiFunction;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Central finite differences in float64 against an op's backward pass. The scalar checked is L = Σ f(x) ⊙ R for a
 * fixed random R, so dL/df = R is what the backward receives.
 */
final class GradientCheck {
    /** |analytic − numeric| / max(|analytic| + |numeric|, 1e-8) must stay below this for every element. */
    static final double MAX_RELATIVE_ERROR = 1e-6;
    private static final double H = 1e-6;

    private GradientCheck() {
    }

    static INDArray random(long seed, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.randn(DataType.DOUBLE, shape);
    }

    static void check(String name, INDArray[] inputs, Function<INDArray[], INDArray> f,
                      BiFunction<INDArray[], INDArray, INDArray[]> backward) {
        INDArray r = random(99, f.apply(inputs).shape());
        INDArray[] analytic = backward.apply(inputs, r);
        for (int a = 0; a < inputs.length; a++) {
            INDArray x = inputs[a];
            for (long i = 0; i < x.length(); i++) {
                double orig = x.getDouble(i);
                x.putScalar(i, orig + H);
                double plus = f.apply(inputs).mul(r).sumNumber().doubleValue();
                x.putScalar(i, orig - H);
                double minus = f.apply(inputs).mul(r).sumNumber().doubleValue();
                x.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * H);
                double got = analytic[a].getDouble(i);
                double err = Math.abs(got - numeric) / Math.max(Math.abs(got) + Math.abs(numeric), 1e-8);
                // a difference of sums of magnitude |L| cannot resolve below about eps·|L|/H: tiny gradients are held
                // to that instead
                double roundOff = 1e-15 * (Math.abs(plus) + Math.abs(minus)) / H;
                assertTrue(err < MAX_RELATIVE_ERROR || Math.abs(got - numeric) < roundOff, name + ": input " + a + " element " + i + ": analytic " + got
                        + " numeric " + numeric + " (relative error " + err + ")");
            }
        }
    }
}
