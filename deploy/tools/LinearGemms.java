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
 * [REPS] [cold|split]; with "cold", a 32 MB buffer is rewritten before each product, as a pass's other work would
 * evict the caches, and that rewriting's own time is subtracted. With "split", instead: the same products through
 * sgemm with OpenBLAS on two threads, against OpenBLAS on one thread with each product's output rows split in two
 * halves, the second half computed on a second Java thread (one thread pool for products and element-wise work would
 * split them so), three times each in turn, then whether the two give the same bits. A measuring tool;
 * deploy/tools/linear_gemms.py times the same products in PyTorch.
 */
public class LinearGemms {
    static Function sgemm;
    static void direct(boolean ta, boolean tb, int m, int n, int k, INDArray a, INDArray b, INDArray c, float beta) {
        rows(ta, tb, 0, m, n, k, a, b, c, beta);
    }

    /** Rows [r0, r1) of row-major C[m,n] = op(A)·op(B), as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. */
    static void rows(boolean ta, boolean tb, int r0, int r1, int n, int k, INDArray a, INDArray b, INDArray c, float beta) {
        int lda = (int) a.columns(), ldb = (int) b.columns();
        long aOffset = ta ? r0 : (long) r0 * lda;
        sgemm.invoke(Void.class, new Object[]{new byte[]{(byte) (tb ? 'T' : 'N')}, new byte[]{(byte) (ta ? 'T' : 'N')},
            new IntByReference(n), new IntByReference(r1 - r0), new IntByReference(k), new FloatByReference(1f),
            new Pointer(b.data().address()), new IntByReference(ldb), new Pointer(a.data().address() + 4 * aOffset),
            new IntByReference(lda), new FloatByReference(beta), new Pointer(c.data().address() + 4L * r0 * n),
            new IntByReference(n)});
    }

    static final java.util.concurrent.ExecutorService SECOND = java.util.concurrent.Executors.newSingleThreadExecutor();

    /** The product with its output rows in two halves, the second on another Java thread. */
    static void halves(boolean ta, boolean tb, int m, int n, int k, INDArray a, INDArray b, INDArray c, float beta)
            throws Exception {
        int h = m / 2;
        var f = SECOND.submit(() -> rows(ta, tb, h, m, n, k, a, b, c, beta));
        rows(ta, tb, 0, h, n, k, a, b, c, beta);
        f.get();
    }

    interface Gemm {
        void run(boolean ta, boolean tb, int m, int n, int k, INDArray a, INDArray b, INDArray c, float beta)
                throws Exception;
    }

    /** OpenBLAS on two threads against one thread per half of each product's rows, three times in turn. */
    static void split(int M, int[][] lin, int reps) throws Exception {
        for (String mode : new String[]{"two BLAS threads", "halves", "two BLAS threads", "halves", "two BLAS threads",
                "halves"}) {
            boolean halves = mode.equals("halves");
            Nd4j.factory().blas().setMaxThreads(halves ? 1 : 2);
            Gemm g = halves ? LinearGemms::halves : LinearGemms::direct;
            double total = 0;
            for (int[] oi : lin) {
                int out = oi[0], in = oi[1];
                INDArray x = Nd4j.rand(DataType.FLOAT, M, in), w = Nd4j.rand(DataType.FLOAT, out, in), dy = Nd4j.rand(DataType.FLOAT, M, out);
                INDArray y = Nd4j.create(DataType.FLOAT, M, out), dW = Nd4j.create(DataType.FLOAT, out, in), dx = Nd4j.create(DataType.FLOAT, M, in);
                for (int i = 0; i < 5 + reps; i++) {
                    long t0 = System.nanoTime();
                    g.run(false, true, M, out, in, x, w, y, 0f);
                    g.run(true, false, out, in, M, dy, x, dW, 1f);
                    g.run(false, false, M, in, out, dy, w, dx, 0f);
                    if (i >= 5) {
                        total += (System.nanoTime() - t0) / 1e6 / reps * 4; // 4 layers
                    }
                }
            }
            System.out.printf("%s: linears of a demo pass %.1f ms%n", mode, total);
        }
        for (int[] oi : lin) { // each linear's forward product, both ways
            int out = oi[0], in = oi[1];
            INDArray x = Nd4j.rand(DataType.FLOAT, M, in), w = Nd4j.rand(DataType.FLOAT, out, in);
            INDArray y1 = Nd4j.create(DataType.FLOAT, M, out), y2 = Nd4j.create(DataType.FLOAT, M, out);
            Nd4j.factory().blas().setMaxThreads(2);
            direct(false, true, M, out, in, x, w, y1, 0f);
            Nd4j.factory().blas().setMaxThreads(1);
            halves(false, true, M, out, in, x, w, y2, 0f);
            System.out.printf("[%d, %d] forward: same bits %s, max difference %s%n", out, in,
                    java.util.Arrays.equals(y1.data().asFloat(), y2.data().asFloat()), y1.sub(y2).amaxNumber());
        }
        SECOND.shutdown();
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
        if (args.length > 1 && args[1].equals("split")) {
            split(M, lin, reps);
            return;
        }
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
