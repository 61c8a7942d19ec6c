package org.sparseft.numerics;

import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.DoubleByReference;
import com.sun.jna.ptr.FloatByReference;
import com.sun.jna.ptr.IntByReference;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.RuntimeFailure;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Keeps the numbers right whatever the processor, and the native libraries fast on it. The OpenBLAS that ND4J
 * 1.0.0-M2.1 bundles (0.3.19) is slow or wrong on recent AVX-512 processors: left to itself it does not recognise an
 * Emerald Rapids Xeon and loads its generic Prescott kernels; with its Cooperlake kernels double-precision GEMM is
 * wrong; with its SkylakeX kernels LAPACK's dpotrf and dtrtri are, while those kernels' GEMMs are right and train
 * 1.3-1.7 times faster than the AVX2 (Haswell) ones. So:
 * <ul>
 *   <li>{@link #prepare()}, called before ND4J loads in a JVM, sets {@code OPENBLAS_CORETYPE=SkylakeX} in the process
 *       environment on a processor with AVX-512, unless the user chose a core type, and lets idle OpenMP threads
 *       sleep at once ({@code OMP_WAIT_POLICY=PASSIVE}) unless the user chose a policy: see
 *       {@link #waitPolicyToSet};</li>
 *   <li>sparseft never calls dpotrf or dtrtri: {@link Cholesky} factors and inverts by dgemm;</li>
 *   <li>{@link #ensureCorrect()} checks, once per JVM, single- and double-precision GEMM as sparseft calls them,
 *       sparseft's Cholesky factorisation and triangular inverse, which SparseGPT uses, and the Gram matrices of its
 *       statistics (ssyrk), on matrices whose answers are known, and refuses to go on (a {@link RuntimeFailure},
 *       exit 3) naming the library, its kernels and the setting to change, rather than compute wrong numbers.</li>
 * </ul>
 * The driver calls both before its first ND4J use, every Spark task before its own, so executors on other
 * processors are covered without any cluster setting.
 */
public final class NativeBlas {
    public static final String CORE_TYPE = "OPENBLAS_CORETYPE";
    /** The kernels chosen on AVX-512 processors. */
    public static final String AVX512_CORE = "SkylakeX";
    /** The kernels a refusal suggests: AVX2, right wherever they run (every AVX2 or AVX-512 x86-64 processor). */
    public static final String SAFE_CORE = "Haswell";
    public static final String WAIT_POLICY = "OMP_WAIT_POLICY";
    static final String SPIN_COUNT = "GOMP_SPINCOUNT";
    static final String PASSIVE = "PASSIVE";
    /** Where {@link #prepare()} reads the processor's flags; a system property so that tests can show it another. */
    static final String CPUINFO_PROPERTY = "sparseft.cpuinfo";

    private static boolean prepared;
    private static volatile boolean checked;

    private NativeBlas() {
    }

    /** The C library's environment, which OpenBLAS reads when it loads (Java's own view is a copy). */
    private interface LibC extends Library {
        LibC C = Native.loadLibrary("c", LibC.class);

        int setenv(String name, String value, int overwrite);

        String getenv(String name);

        int unsetenv(String name);
    }

    /**
     * Chooses right and fast kernels and the OpenMP wait policy before the native libraries load (a no-op once they
     * have, and on later calls).
     */
    public static synchronized void prepare() {
        if (prepared) {
            return;
        }
        prepared = true;
        try {
            String coreType = coreTypeToSet(System.getenv(CORE_TYPE), cpuFlags());
            if (coreType != null) {
                LibC.C.setenv(CORE_TYPE, coreType, 1);
            } else if ("".equals(System.getenv(CORE_TYPE))) {
                LibC.C.unsetenv(CORE_TYPE); // an empty value is no choice (a build's default): OpenBLAS detects
            }
            if (waitPolicyToSet(System.getenv(WAIT_POLICY), System.getenv(SPIN_COUNT)) != null) {
                LibC.C.setenv(WAIT_POLICY, PASSIVE, 1);
            }
        } catch (LinkageError | RuntimeException noJna) {
            // no way to set them in-process here: ensureCorrect() still refuses wrong results, naming the setting
        }
    }

    /**
     * {@code PASSIVE} unless the user chose a wait policy or spin count. libnd4j's OpenMP threads and the BLAS's
     * threads take turns on the same cores; by default an idle OpenMP thread spins for a while before it sleeps, and
     * those spins steal the cores from the next GEMM or element-wise op. Sleeping at once trained the demo model 1.8
     * times faster (docs/performance.md, "Threads that wait").
     */
    static String waitPolicyToSet(String policy, String spinCount) {
        boolean unset = (policy == null || policy.isEmpty()) && (spinCount == null || spinCount.isEmpty());
        return unset ? PASSIVE : null;
    }

    /** {@link #AVX512_CORE} when the processor has AVX-512 and no core type was chosen, else null. */
    static String coreTypeToSet(String current, String cpuFlags) {
        boolean avx512 = Pattern.compile("\\bavx512f\\b").matcher(cpuFlags).find();
        return avx512 && (current == null || current.isEmpty()) ? AVX512_CORE : null;
    }

    private static String cpuFlags() {
        Path cpuinfo = Path.of(System.getProperty(CPUINFO_PROPERTY, "/proc/cpuinfo"));
        try {
            return Files.isReadable(cpuinfo) ? Files.readString(cpuinfo) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** The core type OpenBLAS was told to use, by the user or {@link #prepare()}; null when unset (it chooses). */
    public static String coreTypeInEffect() {
        try {
            return LibC.C.getenv(CORE_TYPE);
        } catch (LinkageError | RuntimeException noJna) {
            return System.getenv(CORE_TYPE);
        }
    }

    /** Runs the checks once per JVM; throws {@link RuntimeFailure} naming the library and the setting if one fails. */
    public static void ensureCorrect() {
        if (checked) {
            return;
        }
        synchronized (NativeBlas.class) {
            if (checked) {
                return;
            }
            prepare();
            List<String> problems = problems();
            if (!problems.isEmpty()) {
                throw new RuntimeFailure(failureMessage(problems, library(), coreTypeInEffect()));
            }
            checked = true;
        }
    }

    static String failureMessage(List<String> problems, String library, String coreType) {
        String setting = coreType == null
                ? "set " + CORE_TYPE + "=" + SAFE_CORE + " in the environment"
                : "the environment sets " + CORE_TYPE + "=" + coreType + "; try " + CORE_TYPE + "=" + SAFE_CORE;
        return "the native BLAS/LAPACK computes wrong results on this processor (" + library + "): "
                + String.join("; ", problems) + ". Refusing to run: " + setting
                + " (for Spark executors: spark.executorEnv." + CORE_TYPE + "=" + SAFE_CORE + ") and run again";
    }

    /**
     * What ND4J's OpenBLAS says of itself, e.g. "OpenBLAS 0.3.19 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64, kernels
     * Zen", asked through the copy this process loaded (the JavaCPP presets do not map these functions); the ND4J
     * backend's name where there is no OpenBLAS (the CUDA backend) or no /proc.
     */
    public static String library() {
        String backend = Nd4j.getBackend().getClass().getSimpleName(); // loads the native libraries
        try {
            Optional<NativeLibrary> openblas = openblas();
            if (openblas.isEmpty()) {
                return backend;
            }
            return openblas.get().getFunction("openblas_get_config").invokeString(new Object[0], false)
                    + ", kernels " + openblas.get().getFunction("openblas_get_corename").invokeString(new Object[0],
                    false);
        } catch (RuntimeException | LinkageError e) {
            return backend;
        }
    }

    /** The OpenBLAS this process loaded for ND4J, if any (none under the CUDA backend, or without /proc). */
    private static Optional<NativeLibrary> openblas() {
        // ND4J's BLAS must have run once before OpenBLAS is called through JNA: ND4J loads two copies of OpenBLAS,
        // and when the copy called here ran first, ND4J's next GEMM aborted the JVM ("BLAS : Bad memory
        // unallocation!"; seen in a fresh JVM, NativeBlasTest). Why the copies interfere was not established.
        if (Nd4j.getEnvironment().isCPU()) {
            Nd4j.gemm(Nd4j.ones(DataType.FLOAT, 2, 2), Nd4j.ones(DataType.FLOAT, 2, 2), false, false);
        }
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            Optional<String> path = maps.map(l -> l.substring(l.indexOf('/') < 0 ? l.length() : l.indexOf('/')))
                    .filter(l -> l.contains("/libopenblas")).findFirst();
            return path.map(p -> NativeLibrary.getInstance(p.trim()));
        } catch (IOException | RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /**
     * BLAS routines that ND4J does not offer in place or on blocks of a matrix, called in the loaded
     * OpenBLAS on matrices in column-major order (a row-major matrix seen transposed), at raw addresses: the caller
     * keeps the arrays behind them reachable until the call returns. The same library and kernels as ND4J's own
     * calls, so {@link #ensureCorrect()}'s checks cover them.
     */
    public static final class Lapack {
        private final Function gemm;
        private final Function syrk;

        private Lapack(NativeLibrary openblas) {
            gemm = openblas.getFunction("dgemm_");
            syrk = openblas.getFunction("ssyrk_");
        }

        /**
         * The lower triangle (with the diagonal) of xᵀx for the row-major float32 x [k, n] at {@code x}, written
         * row-major into the n × n float32 matrix at {@code c} (ssyrk; the other triangle is left as it was): half
         * the multiply-adds of the full product.
         */
        public void gramLower(int k, int n, long x, long c) {
            syrk.invoke(Void.class, new Object[] {upper(), new byte[] {'N'}, size(n), size(k),
                new FloatByReference(1f), new Pointer(x), size(n), new FloatByReference(0f), new Pointer(c),
                size(n)});
        }

        /**
         * C = α·A·B + β·C (dgemm, no transposes) on column-major operands at the given addresses: A m × k, B k × n,
         * C m × n, with their leading dimensions, so that C may be a block of a larger matrix.
         */
        public void gemm(int m, int n, int k, double alpha, long a, int lda, long b, int ldb, double beta, long c,
                         int ldc) {
            gemm(false, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }

        /** C = α·op(A)·op(B) + β·C, op transposing where asked: op(A) m × k, op(B) k × n, column-major as above. */
        public void gemm(boolean transposeA, boolean transposeB, int m, int n, int k, double alpha, long a, int lda,
                         long b, int ldb, double beta, long c, int ldc) {
            gemm.invoke(Void.class, new Object[] {new byte[] {(byte) (transposeA ? 'T' : 'N')},
                new byte[] {(byte) (transposeB ? 'T' : 'N')}, size(m), size(n), size(k), new DoubleByReference(alpha),
                new Pointer(a), size(lda), new Pointer(b), size(ldb), new DoubleByReference(beta), new Pointer(c),
                size(ldc)});
        }

        private static byte[] upper() {
            return new byte[] {'U'};
        }

        private static IntByReference size(int n) {
            return new IntByReference(n);
        }
    }

    private static volatile Optional<Lapack> lapack;

    /**
     * Whether {@code a} is all of its buffer, of {@code type} and row-major with default strides (a reshape of such an
     * array too), so that its memory can be handed to {@link Lapack} as it lies.
     */
    public static boolean isWholeRowMajor(INDArray a, DataType type) {
        return a.dataType() == type && a.ordering() == 'c' && a.offset() == 0 && a.data().length() == a.length()
                && Shape.hasDefaultStridesForShape(a);
    }

    /** The float64 values of an array that {@link #isWholeRowMajor} accepts, as a view of its native memory. */
    public static java.nio.DoubleBuffer doubles(INDArray a) {
        return a.data().asNio().order(java.nio.ByteOrder.nativeOrder()).asDoubleBuffer();
    }

    /**
     * In-place LAPACK through the loaded OpenBLAS, when there is one built with 32-bit integers (its usual build; a
     * 64-bit-integer build or the CUDA backend gets the copying path).
     */
    public static Optional<Lapack> lapack() {
        Optional<Lapack> l = lapack;
        if (l == null) {
            try {
                l = openblas().filter(o -> !o.getFunction("openblas_get_config").invokeString(new Object[0], false)
                        .contains("USE64BITINT")).map(Lapack::new);
            } catch (RuntimeException | LinkageError e) {
                l = Optional.empty();
            }
            lapack = l;
        }
        return l;
    }

    /** Each check that failed, as a short phrase; empty when all are right. */
    static List<String> problems() {
        List<String> problems = new ArrayList<>();
        Random random = new Random(20261203);
        for (int[] shape : new int[][] {{64, 96, 80}, {517, 300, 385}, {2048, 256, 768}}) {
            for (boolean[] t : new boolean[][] {{false, true}, {false, false}, {true, false}}) {
                for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
                    String p = checkGemm(random, type, shape[0], shape[1], shape[2], t[0], t[1]);
                    if (p != null) {
                        problems.add(p);
                    }
                }
            }
        }
        for (int n : new int[] {48, 130, 300, 600}) {
            String p = checkCholesky(random, n);
            if (p != null) {
                problems.add(p);
            }
        }
        Optional<Lapack> lapack = lapack();
        if (lapack.isPresent()) {
            for (int[] shape : new int[][] {{40, 24}, {1024, 600}}) {
                String p = checkGram(lapack.get(), random, shape[0], shape[1]);
                if (p != null) {
                    problems.add(p);
                }
            }
        }
        return problems;
    }

    /** The lower triangle of xᵀx by ssyrk on small integers (exact), over a NaN-filled output: β = 0 ignores it. */
    private static String checkGram(Lapack lapack, Random random, int k, int n) {
        float[] x = smallIntegers(random, k * n);
        INDArray xs = Nd4j.create(x, new long[] {k, n}, 'c');
        INDArray c = Nd4j.valueArrayOf(new long[] {n, n}, Float.NaN, DataType.FLOAT);
        lapack.gramLower(k, n, xs.data().address(), c.data().address());
        java.lang.ref.Reference.reachabilityFence(xs);
        float[] got = c.data().asFloat();
        for (int e = 0; e < 20_000; e++) {
            int i = random.nextInt(n);
            int j = random.nextInt(i + 1);
            long exact = 0;
            for (int t = 0; t < k; t++) {
                exact += (long) x[t * n + i] * (long) x[t * n + j];
            }
            if (got[i * n + j] != exact) {
                return "ssyrk " + k + "x" + n + " gave " + got[i * n + j] + " for " + exact + " at (" + i + ", " + j
                        + ")";
            }
        }
        return null;
    }

    /**
     * out = op(x)·op(w) on small integers, where float32 and float64 are exact: x·wᵀ as every linear computes it, x·w
     * and xᵀ·w as their backward passes do (in float64: SparseGPT's updates, the factorisation, the gradient
     * checks). x holds the m × k operand and w the k × n one, each stored transposed where it is transposed.
     */
    private static String checkGemm(Random random, DataType type, int m, int k, int n, boolean transposeX,
                                    boolean transposeW) {
        float[] x = smallIntegers(random, m * k);
        float[] w = smallIntegers(random, n * k);
        INDArray out = Nd4j.createUninitialized(type, m, n);
        INDArray xs = Nd4j.create(x, new long[] {m, k}, 'c').castTo(type);
        INDArray ws = Nd4j.create(w, new long[] {n, k}, 'c').castTo(type);
        Nd4j.gemm(transposeX ? xs.transpose().dup('c') : xs, transposeW ? ws : ws.transpose().dup('c'), out,
                transposeX, transposeW, 1.0, 0.0);
        double[] got = out.dup('c').data().asDouble();
        // every entry of small products; 20,000 random ones of large products (each is k multiply-adds in Java)
        long entries = (long) m * n;
        for (long e = 0; e < Math.min(entries, 20_000); e++) {
            long at = entries <= 20_000 ? e : (long) (random.nextDouble() * entries);
            int i = (int) (at / n);
            int j = (int) (at % n);
            long exact = 0;
            for (int t = 0; t < k; t++) {
                exact += (long) x[i * k + t] * (long) w[j * k + t];
            }
            if (got[i * n + j] != exact) {
                return (type == DataType.FLOAT ? "sgemm " : "dgemm ") + (transposeX ? "T" : "N") + (transposeW ? "T" : "N") + " " + m + "x" + k + "x" + n
                        + " gave " + got[i * n + j] + " for " + exact
                        + " at (" + i + ", " + j + ")";
            }
        }
        return null;
    }

    private static float[] smallIntegers(Random random, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = random.nextInt(7) - 3;
        }
        return v;
    }

    /**
     * A = L·Lᵀ for a known lower-triangular L: {@link Cholesky} must give L back, and SparseGPT's upper Cholesky factor
     * U of A⁻¹ (the factorisation and the triangular inverse) must satisfy Uᵀ·U·A = I.
     */
    private static String checkCholesky(Random random, int n) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                l[i * n + j] = (random.nextDouble() - 0.5) / Math.sqrt(n);
            }
            l[i * n + i] = 1 + random.nextDouble();
        }
        double[] a = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int t = 0; t <= j; t++) {
                    s += l[i * n + t] * l[j * n + t];
                }
                a[i * n + j] = s;
                a[j * n + i] = s;
            }
        }
        INDArray matrix = Nd4j.create(a, new long[] {n, n}, 'c');
        INDArray factor;
        try {
            factor = Cholesky.lowerFactor(matrix);
        } catch (Cholesky.NotPositiveDefinite e) {
            return "Cholesky factor of a positive definite " + n + "x" + n + " matrix failed (" + e.getMessage() + ")";
        }
        double[] f = factor.dup('c').data().asDouble();
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                worst = Math.max(worst, Math.abs(f[i * n + j] - l[i * n + j]));
            }
        }
        if (!(worst < 1e-9)) {
            return "Cholesky " + n + "x" + n + " factor off by " + worst;
        }
        INDArray u;
        try {
            u = Cholesky.upperFactorOfInverse(matrix);
        } catch (Cholesky.NotPositiveDefinite e) {
            return "the Cholesky factor of a " + n + "x" + n + " inverse failed (" + e.getMessage() + ")";
        }
        double residual = u.transpose().mmul(u).mmul(matrix).subi(Nd4j.eye(n).castTo(DataType.DOUBLE))
                .amaxNumber().doubleValue();
        return residual < 1e-9 ? null : "triangular inverse " + n + "x" + n + ": |UᵀUA - I| = " + residual;
    }
}
