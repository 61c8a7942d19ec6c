package org.sparseft.driver.eval;

import org.apache.spark.api.java.JavaRDD;
import org.sparseft.driver.exec.ExecutorModels;
import org.sparseft.eval.Perplexity;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.EffectiveWeights;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.List;

/**
 * Perplexity with the windows spread over executors: each partition evaluates its windows with the model its
 * executor loaded from {@code modelPath} (cached by content hash); the driver puts the window results back in window
 * order before summing, so the figure does not depend on the partitioning.
 */
public final class DistributedPerplexity {
    private DistributedPerplexity() {
    }

    public static Perplexity.Result evaluate(JavaRDD<int[]> windows, String modelPath, String contentHash, int batch,
                                             int seqLen) {
        List<Tuple2<Long, Double>> results = new ArrayList<>(windows.zipWithIndex().mapPartitions(it -> {
            List<Long> index = new ArrayList<>();
            List<int[]> ws = new ArrayList<>();
            while (it.hasNext()) {
                Tuple2<int[], Long> w = it.next();
                ws.add(w._1());
                index.add(w._2());
            }
            List<Tuple2<Long, Double>> out = new ArrayList<>(ws.size());
            if (ws.isEmpty()) {
                return out.iterator();
            }
            org.sparseft.driver.exec.TaskDevices.pin();
            DecoderModel model = ExecutorModels.get(modelPath, contentHash);
            double[] nll = Perplexity.windowNlls(model, ws, batch, EffectiveWeights.DENSE);
            for (int i = 0; i < nll.length; i++) {
                out.add(new Tuple2<>(index.get(i), nll[i]));
            }
            return out.iterator();
        }).collect());
        results.sort((a, b) -> Long.compare(a._1(), b._1()));
        double[] ordered = new double[results.size()];
        for (int i = 0; i < ordered.length; i++) {
            ordered[i] = results.get(i)._2();
        }
        return Perplexity.of(ordered, seqLen);
    }
}
