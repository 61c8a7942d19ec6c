import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.FloatByReference;
import com.sun.jna.ptr.IntByReference;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.numerics.NativeBlas;
import java.nio.file.*;

/**
 * The linear products of one training pass of the demo model (8 x 128 tokens: forward, dW and dx of its 7 linears,
 * 4 layers), timed alone in a loop through ND4J's gemm and through OpenBLAS's sgemm called directly, twice each,
 * then one product compared between the two (docs/performance.md, "Against PyTorch", AVX-512 Xeon). Arguments:
 * [REPS] [cold]; with "cold", a 32 MB buffer is rewritten before each product, as a pass's other work would evict
 * the caches, and that rewriting's own time is subtracted. A measuring tool; deploy/tools/linear_gemms.py times the
 * same products in PyTorch.
 */
public class LinearGemms {
    static Function sgemm;
    static void direct(boolean ta, boolean tb, int m, int n, int k, INDArray a, INDArray b, INDArray c, float beta) {
        // row-major C[m,n] = op(A)·op(B): column-major Cᵀ = op(B)ᵀ·op(A)ᵀ
        int lda = (int) a.columns(), ldb = (int) b.columns();
        sgemm.invoke(Void.class, new Object[]{new byte[]{(byte) (tb ? 'T' : 'N')}, new byte[]{(byte) (ta ? 'T' : 'N')},
            new IntByReference(n), new IntByReference(m), new IntByReference(k), new FloatByReference(1f),
            new Pointer(b.data().address()), new IntByReference(ldb), new Pointer(a.data().address()), new IntByReference(lda),
            new FloatByReference(beta), new Pointer(c.data().address()), new IntByReference(n)});
    }
    public static void main(String[] args) throws Exception {
        NativeBlas.prepare();
        NativeBlas.ensureCorrect();
        System.out.println(NativeBlas.library());
        String path = Files.lines(Path.of("/proc/self/maps")).filter(l -> l.contains("/libopenblas")).findFirst().get();
        sgemm = NativeLibrary.getInstance(path.substring(path.indexOf('/')).trim()).getFunction("sgemm_");
        int M = 1024;
        int[][] lin = {{256,256},{128,256},{128,256},{256,256},{688,256},{688,256},{256,688}};
        int reps = Integer.parseInt(args.length > 0 ? args[0] : "20");
        // "cold": a 32 MB buffer rewritten before each product (its own time subtracted), as a pass's other work would
        boolean cold = args.length > 1 && args[1].equals("cold");
        INDArray junk = Nd4j.rand(DataType.FLOAT, 8 * 1024 * 1024);
        for (String mode : new String[]{"nd4j", "direct", "nd4j", "direct"}) {
            double total = 0;
            StringBuilder per = new StringBuilder();
            for (int[] oi : lin) {
                int out = oi[0], in = oi[1];
                INDArray x = Nd4j.rand(DataType.FLOAT, M, in), w = Nd4j.rand(DataType.FLOAT, out, in), dy = Nd4j.rand(DataType.FLOAT, M, out);
                INDArray y = Nd4j.create(DataType.FLOAT, M, out), dW = Nd4j.create(DataType.FLOAT, out, in), dx = Nd4j.create(DataType.FLOAT, M, in);
                Runnable cool = () -> {
                    if (cold) {
                        junk.addi(1f);
                    }
                };
                Runnable r = mode.equals("nd4j") ? () -> {
                    cool.run();
                    Nd4j.gemm(x, w, y, false, true, 1.0, 0.0);
                    cool.run();
                    Nd4j.gemm(dy, x, dW, true, false, 1.0, 1.0);
                    cool.run();
                    Nd4j.gemm(dy, w, dx, false, false, 1.0, 0.0);
                } : () -> {
                    cool.run();
                    direct(false, true, M, out, in, x, w, y, 0f);
                    cool.run();
                    direct(true, false, out, in, M, dy, x, dW, 1f);
                    cool.run();
                    direct(false, false, M, in, out, dy, w, dx, 0f);
                };
                for (int i = 0; i < 5; i++) r.run();
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) r.run();
                double ms = (System.nanoTime() - t0) / 1e6 / reps;
                long t1 = System.nanoTime();
                for (int i = 0; i < reps; i++) {
                    cool.run();
                    cool.run();
                    cool.run();
                }
                ms -= (System.nanoTime() - t1) / 1e6 / reps;
                total += ms * 4; // 4 layers
                per.append(String.format(" %dx%d:%.2f", out, in, ms));
            }
            System.out.printf("%s: linears of a demo pass %.1f ms (%s)%n", mode, total, per);
        }
        // check equal results
        INDArray x = Nd4j.rand(DataType.FLOAT, M, 256), w = Nd4j.rand(DataType.FLOAT, 688, 256);
        INDArray y1 = Nd4j.create(DataType.FLOAT, M, 688), y2 = Nd4j.create(DataType.FLOAT, M, 688);
        Nd4j.gemm(x, w, y1, false, true, 1.0, 0.0); direct(false, true, M, 688, 256, x, w, y2, 0f);
        System.out.println("max diff " + y1.sub(y2).amaxNumber());
    }
}
