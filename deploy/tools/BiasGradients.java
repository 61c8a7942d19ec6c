import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.Fused;
import org.sparseft.numerics.NativeBlas;

/**
 * A linear's bias gradient (the column sums of dy) for one GPT-2-small block's four biased linears at 8 x 128 tokens:
 * libnd4j's {@code dy.sum(0)} against sparseft's fused column sums, three times each in turn, then the largest
 * difference between the two (docs/performance.md). A measuring tool, run with the jar on the class path:
 * <pre>
 * java $(grep -v '^#' deploy/conf/java17-flags) -cp "jobs/target/sparseft.jar:jobs/target/spark-lib/*" \
 *   deploy/tools/BiasGradients.java
 * </pre>
 */
public class BiasGradients {
    public static void main(String[] args) {
        NativeBlas.prepare();
        int[] outs = {2304, 768, 3072, 768};
        INDArray[] dys = new INDArray[outs.length];
        INDArray[] db = new INDArray[outs.length];
        for (int i = 0; i < outs.length; i++) {
            dys[i] = Nd4j.rand(DataType.FLOAT, 1024, outs[i]);
            db[i] = Nd4j.zeros(DataType.FLOAT, outs[i]);
        }
        int reps = 50;
        for (String mode : new String[]{"libnd4j", "fused", "libnd4j", "fused", "libnd4j", "fused"}) {
            boolean fused = mode.equals("fused");
            Runnable block = () -> { // the four bias gradients of one block
                for (int i = 0; i < outs.length; i++) {
                    if (fused) {
                        Fused.addColumnSums(dys[i], db[i]);
                    } else {
                        db[i].addi(dys[i].sum(0));
                    }
                }
            };
            for (int w = 0; w < 20; w++) {
                block.run();
            }
            long t0 = System.nanoTime();
            for (int r = 0; r < reps; r++) {
                block.run();
            }
            System.out.printf("%s: one GPT-2-small block's four bias gradients at 8 x 128 tokens: %.2f ms%n", mode,
                    (System.nanoTime() - t0) / 1e6 / reps);
        }
        INDArray a = Nd4j.zeros(DataType.FLOAT, 3072), b = Nd4j.zeros(DataType.FLOAT, 3072);
        a.addi(dys[2].sum(0));
        Fused.addColumnSums(dys[2], b);
        System.out.println("max difference " + a.sub(b).amaxNumber() + " of sums around " + a.meanNumber());
    }
}
