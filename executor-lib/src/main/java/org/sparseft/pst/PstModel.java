package org.sparseft.pst;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Gradients;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.ModelConfig;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;
import org.sparseft.sparsity.MaskSelection;
import org.sparseft.sparsity.SparsityPattern;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PST over a frozen model (docs/algorithms.md §7): per prunable linear W [n, k], the trained tensors are U [n, r_w],
 * V [r_w, k] (weight update W' = W + β·U·V), A [n, r_m], B [r_m, k], R [n] and C [k] (importance
 * S = |W'| + α1·A·B + α2·(R·1ᵀ + 1·Cᵀ)). Each step's mask keeps the highest S at the scheduled sparsity, ties
 * broken by position, so every replica computes the same mask from the same values and masks never travel.
 * GPT-2's fused c_attn is three linears here, q, k and v, each with its own tensors and top-k, as the reference
 * splits it.
 */
public final class PstModel {
    private PstModel() {
    }

    /**
     * A block of a converted linear's rows that PST treats as one linear with its own tensors: the whole weight, or
     * for GPT-2's fused c_attn each of q, k and v, as the reference splits it (docs/algorithms.md §7.1).
     */
    record Part(String prefix, int firstRow, int rows) {
        String tensor(String suffix) {
            return prefix + "." + suffix;
        }
    }

    static List<Part> parts(ModelConfig config, String weight, long rows) {
        String prefix = weight.substring(0, weight.length() - ".weight".length());
        if (config instanceof Gpt2Config && weight.contains(".attn.c_attn.")) {
            int h = (int) rows / 3;
            return List.of(new Part(prefix + ".q", 0, h), new Part(prefix + ".k", h, h),
                    new Part(prefix + ".v", 2 * h, h));
        }
        return List.of(new Part(prefix, 0, (int) rows));
    }

    /**
     * The reference's initialisation: U and A ~ N(0, 1), V, B, R, C = 0, so step 0 is plain magnitude pruning of W.
     * Each tensor's stream depends on the seed and its name only.
     */
    public static Parameters initialize(Parameters base, PstOptions o, long seed) {
        Map<String, INDArray> t = new LinkedHashMap<>();
        for (String w : base.config().prunableWeights()) {
            long k = base.get(w).columns();
            for (Part p : parts(base.config(), w, base.get(w).rows())) {
                if (o.weightRank() > 0) {
                    t.put(p.tensor("pst_U"), gaussian(seed, p.tensor("pst_U"), p.rows(), o.weightRank()));
                    t.put(p.tensor("pst_V"), Nd4j.zeros(DataType.FLOAT, o.weightRank(), k));
                }
                t.put(p.tensor("pst_A"), gaussian(seed, p.tensor("pst_A"), p.rows(), o.maskRank()));
                t.put(p.tensor("pst_B"), Nd4j.zeros(DataType.FLOAT, o.maskRank(), k));
                t.put(p.tensor("pst_R"), Nd4j.zeros(DataType.FLOAT, p.rows()));
                t.put(p.tensor("pst_C"), Nd4j.zeros(DataType.FLOAT, k));
            }
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
        for (String w : base.config().prunableWeights()) {
            INDArray frozen = base.get(w);
            List<PartState> states = new java.util.ArrayList<>();
            for (Part p : parts(base.config(), w, frozen.rows())) {
                INDArray rows = frozen.get(NDArrayIndex.interval(p.firstRow(), p.firstRow() + p.rows()),
                        NDArrayIndex.all());
                states.add(PartState.of(p, rows, trained, o, o.sparsityOfBlock(base.config().layerOf(w), sparsity)));
            }
            linears.put(w, Linear.of(w, states));
        }
        return new Step(linears, o);
    }

    /** One part at one step: W' = W + βUV, and the mask chosen from S. */
    record PartState(Part part, INDArray updated, INDArray keep, INDArray u, INDArray v, INDArray a, INDArray b) {
        static PartState of(Part p, INDArray frozen, Parameters trained, PstOptions o, double sparsity) {
            INDArray u = o.weightRank() > 0 ? trained.get(p.tensor("pst_U")) : null;
            INDArray v = o.weightRank() > 0 ? trained.get(p.tensor("pst_V")) : null;
            INDArray updated = u == null ? frozen.dup('c') : frozen.add(u.mmul(v).muli(o.beta()));
            INDArray a = trained.get(p.tensor("pst_A"));
            INDArray b = trained.get(p.tensor("pst_B"));
            long n = updated.rows();
            long k = updated.columns();
            INDArray scores = Transforms.abs(updated, true).addi(a.mmul(b).muli(o.alpha1()))
                    .addiColumnVector(trained.get(p.tensor("pst_R")).reshape(n, 1).mul(o.alpha2()))
                    .addiRowVector(trained.get(p.tensor("pst_C")).reshape(1, k).mul(o.alpha2()));
            return new PartState(p, updated, select(scores, o.target(), sparsity), u, v, a, b);
        }
    }

    /** A converted linear at one step: its parts, and their W' and masks stacked back into the weight's shape. */
    record Linear(String weight, List<PartState> parts, INDArray updated, INDArray keep) {
        static Linear of(String w, List<PartState> parts) {
            if (parts.size() == 1) {
                return new Linear(w, parts, parts.get(0).updated(), parts.get(0).keep());
            }
            return new Linear(w, parts, Nd4j.vstack(parts.stream().map(PartState::updated).toArray(INDArray[]::new)),
                    Nd4j.vstack(parts.stream().map(PartState::keep).toArray(INDArray[]::new)));
        }
    }

    /** The keep-mask of {@code scores}: its lowest ⌊numel·sparsity⌋ pruned (ties by position), or N:M per row. */
    static INDArray select(INDArray scores, SparsityPattern target, double sparsity) {
        if (target.groupSize().isPresent()) { // N:M: the pattern's masks from the first step
            return target.select(scores, true);
        }
        return MaskSelection.whole(scores, (long) Math.floor(scores.length() * sparsity));
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
            linears.keySet().forEach(w -> effective.put(w, effective(w)));
            return (name, stored) -> effective.getOrDefault(name, stored);
        }

        /** M ⊙ W' of one converted weight: what the model computes with, and what is exported. */
        public INDArray effective(String weight) {
            Linear l = linears.get(weight);
            return l.updated().mul(l.keep());
        }

        public INDArray keep(String weight) {
            return linears.get(weight).keep();
        }

        /**
         * PST's gradients from the model's gradient G with respect to each effective weight (by weight name), as a
         * new set of tensors shaped like {@code trained}; see {@link #addGradients}.
         */
        public Parameters gradients(Parameters modelGradients, Parameters trained) {
            Parameters g = trained.zerosLike();
            linears.keySet().forEach(w -> addGradients(w, modelGradients.get(w), g));
            return g;
        }

        /**
         * Where a backward pass sends its gradients so that each converted linear's G is mapped onto its PST tensors
         * in {@code grads} as soon as the pass has finished it: the task holds one G buffer per distinct linear shape
         * (reused, zeroed before each use) instead of a whole-model gradient, and frozen tensors (embeddings, norms,
         * the head) get no gradient at all. Close it after the last pass to free those buffers.
         */
        public Sink sinkInto(Parameters grads) {
            return new Sink(grads);
        }

        /** See {@link #sinkInto}. */
        public final class Sink implements Gradients, AutoCloseable {
            private final Parameters grads;
            private final Map<List<Long>, INDArray> buffers = new LinkedHashMap<>();
            private final Map<String, INDArray> open = new LinkedHashMap<>();

            private Sink(Parameters grads) {
                this.grads = grads;
            }

            @Override
            public INDArray buffer(String name) {
                Linear l = linears.get(name);
                if (l == null) {
                    return null;
                }
                INDArray b = buffers.computeIfAbsent(List.of(l.updated().size(0), l.updated().size(1)),
                        shape -> Workspaces.outside(() -> Nd4j.create(l.updated().dataType(), shape.get(0),
                                shape.get(1))));
                if (open.values().stream().anyMatch(v -> v == b)) {
                    throw new IllegalStateException(name + " needs a gradient buffer while another linear of its"
                            + " shape is still open");
                }
                open.put(name, b.assign(0));
                return b;
            }

            @Override
            public void finished(String weightName) {
                INDArray g = open.remove(weightName);
                if (g != null) {
                    // a workspace of its own, reset per linear: the mapping's temporaries never add up over a pass
                    Workspaces.inStep("pst-gradients", () -> {
                        addGradients(weightName, g, grads);
                        return null;
                    });
                }
            }

            @Override
            public void close() {
                if (!open.isEmpty()) {
                    throw new IllegalStateException("gradients of " + open.keySet() + " were never finished");
                }
                buffers.values().forEach(Parameters::release);
                buffers.clear();
            }
        }

        /**
         * Adds PST's gradients for converted weight {@code w} into {@code into}, from the model's gradient G with
         * respect to its effective weight, through the straight-through binariser (∂L/∂S := ∂L/∂M = G ⊙ W';
         * docs/algorithms.md §7.4): ∂A = α1·(G⊙W')·Bᵀ, ∂B = α1·Aᵀ·(G⊙W'), ∂R = α2·Σ_j (G⊙W'),
         * ∂C = α2·Σ_i (G⊙W'), ∂W' = G ⊙ M + (G⊙W') ⊙ sign(W') (|W'| is part of S), ∂U = β·∂W'·Vᵀ, ∂V = β·Uᵀ·∂W'.
         * Linear in G, so mapping each pass's G and summing equals mapping the sum (up to float rounding).
         */
        void addGradients(String w, INDArray full, Parameters into) {
            Linear l = linears.get(w);
            for (PartState ps : l.parts()) {
                Part p = ps.part();
                INDArray grad = l.parts().size() == 1 ? full : full.get(NDArrayIndex.interval(p.firstRow(),
                        p.firstRow() + p.rows()), NDArrayIndex.all()).dup('c');
                INDArray gs = grad.mul(ps.updated());
                into.get(p.tensor("pst_A")).addi(gs.mmul(ps.b().transpose()).muli(o.alpha1()));
                into.get(p.tensor("pst_B")).addi(ps.a().transpose().mmul(gs).muli(o.alpha1()));
                into.get(p.tensor("pst_R")).addi(gs.sum(1).muli(o.alpha2()));
                into.get(p.tensor("pst_C")).addi(gs.sum(0).muli(o.alpha2()));
                if (ps.u() != null) {
                    INDArray dUpdated = grad.mul(ps.keep()).addi(gs.mul(Transforms.sign(ps.updated(), true)));
                    into.get(p.tensor("pst_U")).addi(dUpdated.mmul(ps.v().transpose()).muli(o.beta()));
                    into.get(p.tensor("pst_V")).addi(ps.u().transpose().mmul(dUpdated).muli(o.beta()));
                }
            }
        }
    }
}
