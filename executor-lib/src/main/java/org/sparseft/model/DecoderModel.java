package org.sparseft.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.model.ops.CrossEntropy;
import org.sparseft.model.ops.Embedding;
import org.sparseft.model.ops.Linear;

import java.util.HashMap;
import java.util.Map;

/**
 * A decoder-only transformer: token embedding, blocks, final norm, LM head, next-token cross-entropy. The families
 * differ in their embedding (learned positions or none), norms and blocks; the flow and the backward pass through
 * it are shared here.
 *
 * <p>Backward is written by hand rather than with SameDiff: measured faster and smaller, see the package
 * documentation of {@code model.ops}.
 */
public abstract sealed class DecoderModel permits Gpt2Model, LlamaModel, OptModel {
    protected final Parameters params;

    protected DecoderModel(Parameters params) {
        this.params = params;
    }

    public static DecoderModel of(Parameters params) {
        if (params.config() instanceof Gpt2Config g) {
            return new Gpt2Model(params, g);
        }
        if (params.config() instanceof OptConfig o) {
            return new OptModel(params, o);
        }
        return new LlamaModel(params, (LlamaConfig) params.config());
    }

    public Parameters parameters() {
        return params;
    }

    public ModelConfig config() {
        return params.config();
    }

    /** Sees the input of every prunable linear during a forward pass: where calibration statistics come from. */
    @FunctionalInterface
    public interface LinearInputs {
        /** @param input [batch·seqLen, in]; shared linears (q/k/v, gate/up) report the same array */
        void accept(String weightName, INDArray input);
    }

    /**
     * One pass's shape and weights; each effective weight is computed once and reused by the backward pass.
     * {@code observer} may be null.
     */
    protected record Context(int batch, int seqLen, EffectiveWeights weights, Map<String, INDArray> effective,
                             LinearInputs observer) {
        int rows() {
            return batch * seqLen;
        }
    }

    /** Next-token targets for sequences laid out row after row: the last position of each sequence has none. */
    public static int[] shiftedTargets(int[] tokens, int batch, int seqLen) {
        int[] t = new int[tokens.length];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < seqLen; i++) {
                int r = b * seqLen + i;
                t[r] = i + 1 < seqLen ? tokens[r + 1] : CrossEntropy.IGNORE;
            }
        }
        return t;
    }

    /** Logits [batch·seqLen, vocab] for token ids laid out row after row. */
    public INDArray logits(int[] tokens, int batch, int seqLen, EffectiveWeights weights) {
        Context ctx = context(tokens, batch, seqLen, weights);
        INDArray x = embed(tokens, ctx);
        for (int l = 0; l < config().numLayers(); l++) {
            x = block(l, x, ctx, null);
        }
        return headLogits(x);
    }

    /** Logits [rows, vocab] of the last block's output [rows, hidden]: final norm, then the LM head. */
    public INDArray headLogits(INDArray x) {
        return Linear.forward(finalNorm(x, null), head(), null);
    }

    /**
     * Mean cross-entropy against {@code targets}, with every parameter's gradient added into {@code grads} (for
     * prunable linears: the gradient with respect to the effective weight).
     */
    public CrossEntropy.Result lossAndGradients(int[] tokens, int[] targets, int batch, int seqLen,
                                                EffectiveWeights weights, Gradients grads) {
        CrossEntropy.Result[] result = new CrossEntropy.Result[1];
        lossAndGradients(tokens, batch, seqLen, weights, grads, logits -> {
            result[0] = CrossEntropy.compute(logits, targets, true);
            return new LogitsLoss.Value(result[0].loss(), result[0].dLogits());
        });
        return result[0];
    }

    /**
     * {@code loss} of the logits, with every parameter's gradient added into {@code grads} (for prunable linears:
     * the gradient with respect to the effective weight).
     */
    public double lossAndGradients(int[] tokens, int batch, int seqLen, EffectiveWeights weights, Gradients grads,
                                   LogitsLoss loss) {
        Context ctx = context(tokens, batch, seqLen, weights);
        int layers = config().numLayers();
        Object[] saved = new Object[layers];
        INDArray x = embed(tokens, ctx);
        for (int l = 0; l < layers; l++) {
            Object[] slot = new Object[1];
            x = block(l, x, ctx, slot);
            saved[l] = slot[0];
        }
        Object[] normSaved = new Object[1];
        INDArray h = finalNorm(x, normSaved);
        LogitsLoss.Value value = loss.compute(Linear.forward(h, head(), null));
        INDArray dx = Linear.backward(h, head(), value.dLogits(), grads.buffer(headName()), null);
        dx = finalNormBackward(dx, normSaved[0], grads);
        for (int l = layers - 1; l >= 0; l--) {
            dx = blockBackward(l, dx, ctx, saved[l], grads);
        }
        embedBackward(tokens, dx, ctx, grads);
        return value.loss();
    }

    protected Context context(int[] tokens, int batch, int seqLen, EffectiveWeights weights) {
        if (tokens.length != batch * seqLen) {
            throw new IllegalArgumentException(tokens.length + " tokens for batch " + batch + " x " + seqLen);
        }
        if (seqLen > config().maxPositions()) {
            throw new IllegalArgumentException("sequence length " + seqLen + " exceeds the model's "
                    + config().maxPositions() + " positions");
        }
        int v = config().vocabSize();
        for (int t : tokens) {
            if (t < 0 || t >= v) {
                throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + v + ")");
            }
        }
        return new Context(batch, seqLen, weights, new HashMap<>(), null);
    }

    /** Token (and, for GPT-2, position) embeddings: the input of block 0, [batch·seqLen, hidden]. */
    public INDArray embedTokens(int[] tokens, int batch, int seqLen) {
        return embed(tokens, context(tokens, batch, seqLen, EffectiveWeights.DENSE));
    }

    /**
     * One block's forward pass on its input hidden states [batch·seqLen, hidden], as the layer-by-layer pruning loop
     * runs it; {@code observer} (may be null) sees each prunable linear's input.
     */
    public INDArray forwardBlock(int layer, INDArray x, int batch, int seqLen, EffectiveWeights weights,
                                 LinearInputs observer) {
        if (x.rows() != (long) batch * seqLen) {
            throw new IllegalArgumentException(x.rows() + " hidden rows for batch " + batch + " x " + seqLen);
        }
        return block(layer, x, new Context(batch, seqLen, weights, new HashMap<>(), observer), null);
    }

    /**
     * Block {@code layer}'s sum of squared differences from {@code target} [batch·seqLen, hidden] on its input
     * {@code x}, with the gradient of that sum for each of the block's tensors added into {@code grads}, which holds
     * them by name (for prunable linears: the gradient with respect to the effective weight). What block-wise recovery
     * after pruning minimises (docs/algorithms.md §3.7).
     */
    public double blockSquaredError(int layer, INDArray x, INDArray target, int batch, int seqLen,
                                    EffectiveWeights weights, Gradients grads) {
        if (x.rows() != (long) batch * seqLen || !java.util.Arrays.equals(x.shape(), target.shape())) {
            throw new IllegalArgumentException("input " + java.util.Arrays.toString(x.shape()) + " and target "
                    + java.util.Arrays.toString(target.shape()) + " for batch " + batch + " x " + seqLen);
        }
        Context ctx = new Context(batch, seqLen, weights, new HashMap<>(), null);
        Object[] saved = new Object[1];
        INDArray diff = block(layer, x, ctx, saved).subi(target);
        double squared = diff.norm2Number().doubleValue();
        blockBackward(layer, diff.muli(2), ctx, saved[0], grads);
        return squared * squared;
    }

    /** Reports a prunable linear's input to the pass's observer, if it has one. */
    protected static void observe(Context ctx, String weightName, INDArray input) {
        if (ctx.observer() != null) {
            ctx.observer().accept(weightName, input);
        }
    }

    /** The stored weight of a linear, as the method sees it (masked, transformed). */
    protected INDArray weight(Context ctx, String name) {
        return ctx.effective().computeIfAbsent(name, n -> ctx.weights().of(n, params.get(n)));
    }

    /** A linear {@code name} ({@code name.weight}, {@code name.bias} if the model has it), its input observed. */
    protected INDArray linear(Context ctx, INDArray x, String name) {
        observe(ctx, name + ".weight", x);
        return Linear.forward(x, weight(ctx, name + ".weight"), bias(name + ".bias"));
    }

    /** {@link #linear}'s backward: accumulates its weight's (and bias's) gradient, returns the input's. */
    protected INDArray linearBackward(Context ctx, INDArray x, INDArray dy, String name, Gradients grads) {
        INDArray dx = Linear.backward(x, weight(ctx, name + ".weight"), dy, grads.buffer(name + ".weight"),
                grads.buffer(name + ".bias"));
        grads.finished(name + ".weight");
        return dx;
    }

    protected INDArray bias(String name) {
        return params.names().contains(name) ? params.get(name) : null;
    }

    protected abstract String embeddingName();

    /** The LM head's weight name (the embedding when tied). */
    protected abstract String headName();

    protected INDArray head() {
        return params.get(headName());
    }

    protected INDArray embed(int[] tokens, Context ctx) {
        return Embedding.forward(params.get(embeddingName()), tokens);
    }

    protected void embedBackward(int[] tokens, INDArray dx, Context ctx, Gradients grads) {
        Embedding.backward(tokens, dx, grads.buffer(embeddingName()));
    }

    protected abstract INDArray block(int layer, INDArray x, Context ctx, Object[] saved);

    protected abstract INDArray blockBackward(int layer, INDArray dOut, Context ctx, Object saved, Gradients grads);

    protected abstract INDArray finalNorm(INDArray x, Object[] saved);

    protected abstract INDArray finalNormBackward(INDArray dy, Object saved, Gradients grads);

    /** Row r's position: r mod seqLen. */
    protected static int[] positions(Context ctx) {
        int[] p = new int[ctx.rows()];
        for (int r = 0; r < p.length; r++) {
            p[r] = r % ctx.seqLen();
        }
        return p;
    }

    protected static INDArray columns(INDArray x, long from, long to) {
        return x.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to))
                .dup('c');
    }

    protected static INDArray concatColumns(INDArray... parts) {
        return Nd4j.concat(1, parts);
    }
}
