package org.sparseft.jobs.bench;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import org.sparseft.model.Gpt2Config;
import org.sparseft.model.Parameters;
import org.sparseft.numerics.Workspaces;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The measurement behind the engine's design decision: the same GPT-2 model and batch as a SameDiff graph (ND4J's
 * automatic differentiation) and through sparseft's hand-written backward, timed alike. The graph uses the same
 * weights; only the activation differs (SameDiff's built-in GELU), which does not change the cost. The graph starts
 * from the embedded input: in ND4J 1.0.0-M2.1, differentiating two {@code gather} ops (token and position tables)
 * fails ("Unable to replace samediff namespace"), and the lookups are a negligible part of a step.
 */
public final class SameDiffComparison {
    private SameDiffComparison() {
    }

    public record Timing(String engine, double forwardSeconds, double trainSeconds, long peakResidentBytes) {
    }

    public static List<Timing> run(Gpt2Config cfg, int batch, int seqLen, int reps) {
        Parameters p = Parameters.initialize(cfg, 1, DataType.FLOAT);
        int[] tokens = BenchRuns.randomTokens(cfg.vocabSize(), batch * seqLen);
        int[] targets = DecoderModel.shiftedTargets(tokens, batch, seqLen);
        for (int i = 0; i < targets.length; i++) {
            targets[i] = Math.max(targets[i], 0); // the graph's loss has no ignore index; cost is the same
        }
        List<Timing> out = new ArrayList<>();

        DecoderModel m = DecoderModel.of(p);
        Parameters grads = p.zerosLike();
        DecoderModel model = m;
        Parameters g = grads;
        Runnable forwardPass = () -> Workspaces.inStep("bench-forward",
                () -> model.logits(tokens, batch, seqLen, EffectiveWeights.DENSE));
        Runnable trainPass = () -> Workspaces.inStep("bench-train",
                () -> model.lossAndGradients(tokens, targets, batch, seqLen, EffectiveWeights.DENSE, g));
        forwardPass.run();
        trainPass.run();
        PeakMemory peak = new PeakMemory();
        double fwd = BenchRuns.meanSeconds(forwardPass, reps);
        double train = BenchRuns.meanSeconds(trainPass, reps);
        peak.close();
        out.add(new Timing("hand-written backward (sparseft)", fwd, train, peak.bytes()));

        SameDiff sd = graph(cfg, p, batch, seqLen);
        Map<String, INDArray> feed = new HashMap<>();
        int[] positions = new int[tokens.length];
        for (int i = 0; i < positions.length; i++) {
            positions[i] = i % seqLen;
        }
        feed.put("x0", Nd4j.pullRows(p.get("transformer.wte.weight"), 1, tokens)
                .addi(Nd4j.pullRows(p.get("transformer.wpe.weight"), 1, positions)));
        feed.put("labels", Nd4j.createFromArray(targets));
        String[] vars = p.names().stream().filter(name -> !name.equals("transformer.wpe.weight"))
                .map(SameDiffComparison::varName).toArray(String[]::new);
        sd.output(feed, "logits");
        sd.calculateGradients(feed, vars);
        peak = new PeakMemory();
        fwd = BenchRuns.meanSeconds(() -> sd.output(feed, "logits"), reps);
        train = BenchRuns.meanSeconds(() -> sd.calculateGradients(feed, vars), reps);
        peak.close();
        out.add(new Timing("SameDiff autodiff", fwd, train, peak.bytes()));
        return out;
    }

    private static String varName(String parameter) {
        return parameter.replace('.', '_');
    }

    private static SameDiff graph(Gpt2Config cfg, Parameters p, int batch, int seqLen) {
        SameDiff sd = SameDiff.create();
        Map<String, SDVariable> v = new HashMap<>();
        for (String name : p.names()) {
            if (!name.equals("transformer.wpe.weight")) {
                v.put(name, sd.var(varName(name), p.get(name).dup()));
            }
        }
        int d = cfg.hiddenSize();
        int h = cfg.numHeads();
        int hd = cfg.headDim();
        long n = (long) batch * seqLen;
        SDVariable labels = sd.placeHolder("labels", DataType.INT, n);
        SDVariable x = sd.placeHolder("x0", DataType.FLOAT, n, d);
        double[][] mask = new double[seqLen][seqLen];
        for (int i = 0; i < seqLen; i++) {
            for (int j = i + 1; j < seqLen; j++) {
                mask[i][j] = -1e9;
            }
        }
        SDVariable maskC = sd.constant(Nd4j.createFromArray(mask).castTo(DataType.FLOAT));
        for (int l = 0; l < cfg.numLayers(); l++) {
            String pre = "transformer.h." + l + ".";
            SDVariable h1 = sd.nn.layerNorm(x, v.get(pre + "ln_1.weight"), v.get(pre + "ln_1.bias"), false, 1);
            SDVariable qkv = sd.mmul(h1, v.get(pre + "attn.c_attn.weight"), false, true, false)
                    .add(v.get(pre + "attn.c_attn.bias"));
            SDVariable[] heads = new SDVariable[3];
            for (int i = 0; i < 3; i++) {
                SDVariable part = qkv.get(SDIndex.all(), SDIndex.interval((long) i * d, (long) (i + 1) * d));
                heads[i] = sd.reshape(sd.permute(sd.reshape(part, batch, seqLen, h, hd), 0, 2, 1, 3),
                        (long) batch * h, seqLen, hd);
            }
            SDVariable scores = sd.mmul(heads[0], heads[1], false, true, false).mul(1.0 / Math.sqrt(hd)).add(maskC);
            SDVariable att = sd.mmul(sd.nn.softmax(scores, 2), heads[2]);
            SDVariable merged = sd.reshape(sd.permute(sd.reshape(att, batch, h, seqLen, hd), 0, 2, 1, 3), n, d);
            SDVariable x2 = x.add(sd.mmul(merged, v.get(pre + "attn.c_proj.weight"), false, true, false)
                    .add(v.get(pre + "attn.c_proj.bias")));
            SDVariable h2 = sd.nn.layerNorm(x2, v.get(pre + "ln_2.weight"), v.get(pre + "ln_2.bias"), false, 1);
            SDVariable fc = sd.mmul(h2, v.get(pre + "mlp.c_fc.weight"), false, true, false).add(v.get(pre + "mlp.c_fc.bias"));
            x = x2.add(sd.mmul(sd.nn.gelu(fc), v.get(pre + "mlp.c_proj.weight"), false, true, false)
                    .add(v.get(pre + "mlp.c_proj.bias")));
        }
        SDVariable hf = sd.nn.layerNorm(x, v.get("transformer.ln_f.weight"), v.get("transformer.ln_f.bias"), false, 1);
        SDVariable logits = sd.mmul("logits", hf, v.get("transformer.wte.weight"), false, true, false);
        SDVariable loss = sd.math.mean(sd.loss.sparseSoftmaxCrossEntropy(logits, labels));
        sd.setLossVariables(loss);
        return sd;
    }
}
