package org.sparseft.pst;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.MaskSelection;
import org.sparseft.sparsity.SparsityPattern;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PST over a frozen model (ALGORITHMS.md §4): for every prunable linear W [n, k], the trained tensors are U [n, r_w],
 * V [r_w, k] (weight update W' = W + β·U·V), A [n, r_m], B [r_m, k], R [n] and C [k] (importance
 * S = |W'| + α1·A·B + α2·(R·1ᵀ + 1·Cᵀ)). Each step's mask keeps the highest S at the scheduled sparsity, ties
 * broken by position, so every replica computes the same mask from the same values and masks never travel.
 * GPT-2's fused c_attn is ranked per q, k and v third, as the reference splits it before ranking.
 */
public final class PstModel {
    public static final List<String> SUFFIXES = List.of("pst_U", "pst_V", "pst_A", "pst_B", "pst_R", "pst_C");

    private PstModel() {
    }

    /** The linear weight names PST converts: every prunable linear of every block. */
    public static List<String> linears(ModelConfig config) {
        List<String> out = new java.util.ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            config.prunableLinears(l).forEach(n -> out.add(n + ".weight"));
        }
        return out;
    }

    private static String name(String weight, String suffix) {
        return weight.substring(0, weight.length() - ".weight".length()) + "." + suffix;
    }

    /**
     * The reference's initialisation: U and A ~ N(0, 1), V, B, R, C = 0, so step 0 is plain magnitude pruning of W.
     * Each tensor's stream depends on the seed and its name only.
     */
    public static Parameters initialize(Parameters base, PstOptions o, long seed) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (String w : linears(base.config())) {
            long n = base.get(w).rows();
            long k = base.get(w).columns();
            if (o.weightRank() > 0) {
                t.put(name(w, "pst_U"), gaussian(seed, name(w, "pst_U"), n, o.weightRank()));
                t.put(name(w, "pst_V"), Nd4j.zeros(DataType.FLOAT, o.weightRank(), k));
            }
            t.put(name(w, "pst_A"), gaussian(seed, name(w, "pst_A"), n, o.maskRank()));
            t.put(name(w, "pst_B"), Nd4j.zeros(DataType.FLOAT, o.maskRank(), k));
            t.put(name(w, "pst_R"), Nd4j.zeros(DataType.FLOAT, n));
            t.put(name(w, "pst_C"), Nd4j.zeros(DataType.FLOAT, k));
        }
        return Parameters.of(base.config(), t);
    }

    private static INDArray gaussian(long seed, String name, long rows, long cols) {
        Nd4j.getRandom().setSeed(seed * 1_000_003L + name.hashCode());
        return Nd4j.randn(DataType.FLOAT, rows, cols);
    }

    /** Trained over frozen: the fraction of parameters PST trains. */
    public static double trainableFraction(Parameters base, Parameters trained) {
        return (double) trained.count() / base.count();
    }

    /**
     * One step's view of every converted linear: W', S and the mask M at {@code sparsity}, fixed for the step (the
     * reference recomputes them each forward; within a step the values do not change, so this is the same).
     */
    public static Step prepare(Parameters base, Parameters trained, PstOptions o, double sparsity) {
        Map<String, Linear> linears = new LinkedHashMap<>();
        for (String w : linears(base.config())) {
            linears.put(w, Linear.of(w, base.get(w), trained, o, sparsity, rowGroups(base.config(), w)));
        }
        return new Step(linears, o);
    }

    /** GPT-2's c_attn holds q, k and v as thirds of its rows; each is ranked on its own. */
    static int rowGroups(ModelConfig config, String weight) {
        return config instanceof Gpt2Config && weight.contains(".attn.c_attn.") ? 3 : 1;
    }

    /** A converted linear at one step. */
    record Linear(String weight, INDArray frozen, INDArray updated, INDArray keep, INDArray u, INDArray v,
                  INDArray a, INDArray b) {
        static Linear of(String w, INDArray frozen, Parameters trained, PstOptions o, double sparsity, int groups) {
            INDArray u = o.weightRank() > 0 ? trained.get(name(w, "pst_U")) : null;
            INDArray v = o.weightRank() > 0 ? trained.get(name(w, "pst_V")) : null;
            INDArray updated = u == null ? frozen : frozen.add(u.mmul(v).muli(o.beta()));
            INDArray a = trained.get(name(w, "pst_A"));
            INDArray b = trained.get(name(w, "pst_B"));
            long n = frozen.rows();
            long k = frozen.columns();
            INDArray scores = Transforms.abs(updated, true).addi(a.mmul(b).muli(o.alpha1()))
                    .addiColumnVector(trained.get(name(w, "pst_R")).reshape(n, 1).mul(o.alpha2()))
                    .addiRowVector(trained.get(name(w, "pst_C")).reshape(1, k).mul(o.alpha2()));
            return new Linear(w, frozen, updated, select(scores, o.target(), sparsity, groups), u, v, a, b);
        }
    }

    /** The keep-mask of {@code scores}: the lowest ⌊numel·sparsity⌋ of each row group pruned, or N:M per row. */
    static INDArray select(INDArray scores, SparsityPattern target, double sparsity, int groups) {
        if (target instanceof SparsityPattern.NOutOfM nm) {
            return MaskSelection.perGroup(scores, nm.n(), nm.m());
        }
        long rows = scores.rows();
        long per = rows / groups;
        INDArray keep = Nd4j.zeros(DataType.FLOAT, rows, scores.columns());
        for (int g = 0; g < groups; g++) {
            INDArray part = scores.get(NDArrayIndex.interval(g * per, (g + 1) * per), NDArrayIndex.all());
            long prune = (long) Math.floor(part.length() * sparsity);
            keep.get(NDArrayIndex.interval(g * per, (g + 1) * per), NDArrayIndex.all())
                    .assign(MaskSelection.whole(part, prune));
        }
        return keep;
    }

    /** The masks and updated weights of one step, and the map from the model's gradients to PST's. */
    public static final class Step {
        private final Map<String, Linear> linears;
        private final PstOptions o;

        Step(Map<String, Linear> linears, PstOptions o) {
            this.linears = linears;
            this.o = o;
        }

        /** The forward pass's weights: M ⊙ W' for converted linears, the frozen tensors otherwise. */
        public EffectiveWeights weights() {
            Map<String, INDArray> effective = new LinkedHashMap<>();
            linears.forEach((w, l) -> effective.put(w, l.updated().mul(l.keep())));
            return (name, stored) -> effective.getOrDefault(name, stored);
        }

        public INDArray keep(String weight) {
            return linears.get(weight).keep();
        }

        /**
         * PST's gradients from the model's gradient G with respect to each effective weight, through the
         * straight-through binariser (∂L/∂S := ∂L/∂M = G ⊙ W'; §4.2):
         * ∂A = α1·(G⊙W')·Bᵀ, ∂B = α1·Aᵀ·(G⊙W'), ∂R = α2·Σ_j (G⊙W'), ∂C = α2·Σ_i (G⊙W'),
         * ∂W' = G ⊙ M + (G⊙W') ⊙ sign(W') (|W'| is part of S), ∂U = β·∂W'·Vᵀ, ∂V = β·Uᵀ·∂W'.
         *
         * @param modelGradients gradients with respect to the effective weights, by weight name
         */
        public Parameters gradients(Parameters modelGradients, Parameters trained) {
            Parameters g = trained.zerosLike();
            linears.forEach((w, l) -> {
                INDArray grad = modelGradients.get(w);
                INDArray gs = grad.mul(l.updated());
                g.get(name(w, "pst_A")).assign(gs.mmul(l.b().transpose()).muli(o.alpha1()));
                g.get(name(w, "pst_B")).assign(l.a().transpose().mmul(gs).muli(o.alpha1()));
                g.get(name(w, "pst_R")).assign(gs.sum(1).muli(o.alpha2()));
                g.get(name(w, "pst_C")).assign(gs.sum(0).muli(o.alpha2()));
                if (l.u() != null) {
                    INDArray dUpdated = grad.mul(l.keep()).addi(gs.mul(Transforms.sign(l.updated(), true)));
                    g.get(name(w, "pst_U")).assign(dUpdated.mmul(l.v().transpose()).muli(o.beta()));
                    g.get(name(w, "pst_V")).assign(l.u().transpose().mmul(dUpdated).muli(o.beta()));
                }
            });
            return g;
        }

        /** The exported model: M ⊙ W' in place of each converted weight (U, V, A, B, R, C dropped). */
        public Parameters export(Parameters base) {
            Parameters out = base.castTo(DataType.FLOAT);
            linears.forEach((w, l) -> out.get(w).assign(l.updated().mul(l.keep())));
            return out;
        }
    }
}
