package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.sparseft.eval.Sampling;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.model.DecoderModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quality order of the one-shot methods on the shipped demo model. Its training text (Brown) is not in the
 * repository, so calibration and evaluation text is sampled from the dense model itself: in-distribution data on
 * which pruning is expected to lose.
 */
class PruneQualityTest {
    private static final Path DEMO = Path.of("..", "deploy", "demo", "model");

    @TempDir
    Path tmp;

    private static void writeIds(Path file, int[][] sequences) throws Exception {
        Files.writeString(file, Arrays.stream(sequences).map(s -> Arrays.stream(s).mapToObj(Integer::toString)
                .collect(Collectors.joining(" "))).collect(Collectors.joining("\n")) + "\n");
    }

    private double perplexity(Path model, Path tokens) {
        Cli r = Cli.run("evaluate", "--model", model.toString(), "--tokens", tokens.toString(), "--seqlen", "128",
                "--master", "local[2]");
        assertEquals(0, r.exitCode(), r.toString());
        return Double.parseDouble(r.out().lines().filter(l -> l.startsWith("perplexity")).findFirst().orElseThrow()
                .split("\\s+")[1]);
    }

    @Test
    void denseBeatsSparseGptBeatsWanda() throws Exception {
        DecoderModel dense;
        try (HfCheckpoint c = HfCheckpoint.open(HadoopStorage.withDefaults(), DEMO.toAbsolutePath().toString())) {
            dense = DecoderModel.of(c.parameters(DataType.FLOAT));
        }
        int[][] text = Sampling.sample(dense, 28, 128, 'T', 1);
        Path calib = tmp.resolve("calib.txt");
        Path eval = tmp.resolve("eval.txt");
        writeIds(calib, Arrays.copyOfRange(text, 0, 16));
        writeIds(eval, Arrays.copyOfRange(text, 16, 28));
        double densePpl = perplexity(DEMO, eval);
        Map<String, Double> ppl = new LinkedHashMap<>();
        for (String target : new String[] {"--sparsity=0.5", "--pattern=2:4"}) {
            for (String method : new String[] {"wanda", "sparsegpt"}) {
                Path out = tmp.resolve(method + target.replace(':', '-'));
                Cli r = Cli.run("prune", "--model", DEMO.toString(), "--out", out.toString(), "--method", method,
                        target, "--tokens", calib.toString(), "--nsamples", "16", "--seqlen", "128",
                        "--master", "local[2]");
                assertEquals(0, r.exitCode(), r.toString());
                ppl.put(method + " " + target, perplexity(out, eval));
            }
        }
        String table = "dense " + densePpl + ", " + ppl;
        for (String target : new String[] {"--sparsity=0.5", "--pattern=2:4"}) {
            double wanda = ppl.get("wanda " + target);
            double sparseGpt = ppl.get("sparsegpt " + target);
            assertTrue(densePpl < sparseGpt, "pruning loses something: " + table);
            assertTrue(sparseGpt < wanda, "SparseGPT reconstructs better than a mask alone: " + table);
        }
        // Wanda against magnitude is not asserted: on this model they are within 1% of each other and their order
        // changes with the data (docs/results.md)
        System.out.println(table);
    }
}
