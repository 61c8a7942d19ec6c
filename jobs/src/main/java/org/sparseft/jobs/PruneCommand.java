package org.sparseft.jobs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.sparseft.BadInputException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.driver.prune.LayerwisePruner;
import org.sparseft.driver.train.TrainingShards;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.hf.HfCheckpoint;
import org.sparseft.io.hf.HfConfig;
import org.sparseft.io.hf.SlorbBranch;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.TensorCodec;
import org.sparseft.model.DecoderModel;
import org.sparseft.model.Parameters;
import org.sparseft.sparsity.DSnoT;
import org.sparseft.sparsity.MaskCriterion;
import org.sparseft.sparsity.SparseExport;
import org.sparseft.sparsity.SparseGPT;
import org.sparseft.sparsity.SparsityPattern;
import org.sparseft.sparsity.SparsityPlan;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** {@code sparseft prune}: one-shot, training-free pruning of a dense checkpoint with calibration data on Spark. */
@Command(name = "prune", mixinStandardHelpOptions = true, showDefaultValues = true,
        description = {"Prune a GPT-2 or LLaMA-family checkpoint once, without training: magnitude, Wanda, or DSnoT's"
                + " prune-and-grow on top of Wanda. Calibration sequences run block by block on the executors; the"
                + " driver sums their statistics and chooses each block's masks.",
                "The output keeps the input's files, names and dtypes with pruned weights exactly zero, plus"
                        + " sparsity.json, masks.safetensors and a compressed-tensors sparsity block in config.json."})
public final class PruneCommand implements Callable<Integer>, MethodOptions.Owner {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The dense checkpoint directory.")
    String model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output checkpoint directory.")
    String out;

    @Option(names = "--force", description = "Replace an existing --out.")
    boolean force;

    @Option(names = "--method", required = true, paramLabel = "NAME", description = "magnitude, wanda, dsnot or sparsegpt.")
    String method;

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Sparsity, one of:%n")
    Target target = new Target();

    static final class Target {
        @Option(names = "--sparsity", paramLabel = "R",
                description = "Unstructured: the fraction pruned (Wanda, DSnoT: of each row; magnitude, SparseGPT's"
                        + " blocks and PST: of each matrix).")
        Double sparsity;

        @Option(names = "--pattern", paramLabel = "N:M", description = "N pruned in every M consecutive inputs of a row.")
        String pattern;

        SparsityPattern pattern() {
            return pattern != null ? SparsityPattern.parseNOutOfM(pattern) : new SparsityPattern.Unstructured(sparsity);
        }
    }

    @ArgGroup(exclusive = true, multiplicity = "1", heading = "Calibration data, one of:%n")
    Calibration calibration = new Calibration();

    static final class Calibration {
        @Option(names = "--calib", paramLabel = "URI", description = "Calibration text on any Hadoop FS.")
        String calib;

        @Option(names = "--tokens", paramLabel = "FILE", description = "Pre-tokenized calibration (.txt or .safetensors).")
        String tokens;
    }

    @Option(names = "--sparsity-per-layer", paramLabel = "FILE", description = "JSON {\"name regex\": ratio or"
            + " \"N:M\"}: per-layer targets, first match wins; other weights get --sparsity/--pattern.")
    String perLayer;

    @Option(names = "--nsamples", defaultValue = "128", description = "Calibration sequences.")
    int nsamples;

    @Option(names = "--seqlen", paramLabel = "T", description = "Tokens per calibration sequence (default: the"
            + " model's positions, at most 2048).")
    Integer seqLen;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the calibration sample.")
    long seed;

    @Option(names = "--ignore", paramLabel = "REGEX", description = "Weights whose name matches are left dense.")
    String ignore;

    @Option(names = "--partitions", paramLabel = "P", description = "Calibration partitions (default: Spark's"
            + " default parallelism, at most --nsamples). Masks depend on P only through float summation order.")
    Integer partitions;

    @Option(names = "--calib-batch", defaultValue = "8", paramLabel = "N", description = "Sequences per forward pass.")
    int calibBatch;

    @Option(names = "--tokenizer", paramLabel = "byte|DIR", description = "Tokenizer for --calib (default: the model's).")
    String tokenizer;

    @Option(names = "--dsnot-initial", defaultValue = "wanda", paramLabel = "wanda|magnitude",
            description = "The mask DSnoT starts from.")
    String dsnotInitial;

    @Option(names = "--dsnot-max-cycles", defaultValue = "50", description = "DSnoT prune-and-grow cycles.")
    int dsnotMaxCycles;

    @Option(names = "--dsnot-update-threshold", defaultValue = "0.1", description = "DSnoT stops a row when its"
            + " |reconstruction error| is at most this.")
    double dsnotThreshold;

    @Option(names = "--dsnot-pow-of-var-regrowing", defaultValue = "1", description = "Growth ranks by d / var^this.")
    double dsnotPow;

    @Option(names = "--dsnot-skip-layer", defaultValue = "mlp", paramLabel = "mlp|attn|none",
            description = "Linears DSnoT leaves at the initial mask (the reference skips mlp).")
    String dsnotSkip;

    @Option(names = "--dsnot-sign-check", arity = "1", paramLabel = "true|false", description = "Stop a row when a swap would flip"
            + " its error's sign (default as the reference code: off for unstructured, on for N:M).")
    Boolean dsnotSignCheck;

    @Option(names = "--sparsegpt-percdamp", defaultValue = "0.01", description = "SparseGPT adds this fraction of"
            + " the mean Hessian diagonal to the diagonal.")
    double sparseGptPercDamp;

    @Option(names = "--sparsegpt-blocksize", defaultValue = "128", description = "SparseGPT's columns per lazy"
            + " update block.")
    int sparseGptBlockSize;

    @CommandLine.Mixin
    SparkOptions sparkOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public String methodName() {
        return method;
    }

    @Override
    public List<String> methods() {
        return List.of("magnitude", "wanda", "dsnot", "sparsegpt");
    }

    @Override
    public List<String> methodsWithOptions() {
        return List.of("dsnot", "sparsegpt");
    }

    @Override
    public Integer call() throws Exception {
        MethodOptions.refuseForeign(spec.commandLine().getParseResult(), this);
        LayerwisePruner.Method m = switch (method.toLowerCase(Locale.ROOT)) {
            case "magnitude" -> LayerwisePruner.Method.MAGNITUDE;
            case "wanda" -> LayerwisePruner.Method.WANDA;
            case "dsnot" -> LayerwisePruner.Method.DSNOT;
            case "sparsegpt" -> LayerwisePruner.Method.SPARSEGPT;
            default -> throw new BadInputException("--method " + method
                    + ": expected magnitude, wanda, dsnot or sparsegpt");
        };
        SparsityPattern pattern = target.pattern();
        MaskCriterion initial = switch (dsnotInitial.toLowerCase(Locale.ROOT)) {
            case "wanda" -> MaskCriterion.WANDA;
            case "magnitude" -> MaskCriterion.MAGNITUDE;
            default -> throw new BadInputException("--dsnot-initial " + dsnotInitial + ": expected wanda or magnitude");
        };
        Pattern ignorePattern;
        try {
            ignorePattern = ignore == null ? null : Pattern.compile(ignore);
        } catch (PatternSyntaxException e) {
            throw new BadInputException("--ignore " + ignore + ": not a regular expression (" + e.getDescription() + ")");
        }
        if (nsamples < 1 || calibBatch < 1 || (partitions != null && partitions < 1)) {
            throw new BadInputException("--nsamples, --calib-batch and --partitions must be at least 1");
        }
        if (method.equalsIgnoreCase("sparsegpt")) {
            SparseGPT.checkBlockSize(sparseGptBlockSize, pattern);
        }
        SparsityPlan plan = SparsityPlan.uniform(pattern);
        if (perLayer != null) {
            Storage files = HadoopStorage.withDefaults();
            if (!files.exists(perLayer)) {
                throw new BadInputException("--sparsity-per-layer " + perLayer + ": no such file");
            }
            plan = SparsityPlan.parse(perLayer, files.readAllBytes(perLayer), pattern);
        }
        LayerwisePruner.Options options = new LayerwisePruner.Options(m, plan, initial,
                new DSnoT.Options(dsnotMaxCycles, dsnotThreshold, dsnotPow, dsnotSignCheck),
                DSnoT.SkipLayers.parse(dsnotSkip.toLowerCase(Locale.ROOT)),
                new SparseGPT.Options(sparseGptPercDamp, sparseGptBlockSize), ignorePattern, calibBatch);
        Progress progress = new Progress(spec.commandLine().getErr());
        progress.step("starting Spark");
        SparkSession spark = sparkOptions.session("sparseft prune");
        try {
            Storage storage = SparkSessions.storage(spark);
            Outputs.refuseOverlap(storage, "--out", out, "--model", model);
            Outputs.check(storage, "--out", out, force);
            String modelPath = storage.qualify(model);
            String contentHash;
            DecoderModel dense;
            HfConfig config;
            Map<String, DType> storedTypes;
            try (HfCheckpoint c = HfCheckpoint.open(storage, modelPath)) {
                c.validateAgainstConfig();
                SlorbBranch.refuseAsInput(storage, modelPath);
                config = c.config();
                Map<String, long[]> shapes = Parameters.computeShapes(c.model());
                for (String w : c.model().prunableWeights()) {
                    plan.patternFor(w).checkFits(w, shapes.get(w)[1]);
                }
                progress.step("loading " + modelPath);
                contentHash = c.contentHash();
                storedTypes = c.dtypesByCanonicalName();
                dense = DecoderModel.of(Parameters.load(c, DataType.FLOAT));
            }
            var cfg = dense.config();
            int t = seqLen != null ? seqLen : Math.min(cfg.maxPositions(), 2048);
            if (t < 2 || t > cfg.maxPositions()) {
                throw new BadInputException("--seqlen " + t + ": expected 2.." + cfg.maxPositions()
                        + " (the model's positions)");
            }
            InputOptions input = calibration.calib != null ? InputOptions.text(calibration.calib)
                    : InputOptions.tokens(calibration.tokens);
            String tokSpec = input.tokenizerFor(storage, tokenizer, model, modelPath);
            InputOptions.Blocks blocks = input.blocks(spark, tokSpec, cfg.vocabSize(), t, progress);
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int n = (int) Math.min(nsamples, blocks.count());
            if (n < nsamples) {
                progress.step("the calibration data has " + blocks.count() + " blocks of " + t + " tokens; using all");
            }
            Set<Long> chosen = sample(blocks.count(), n, seed);
            JavaRDD<int[]> sampled = blocks.blocks().zipWithIndex().filter(b -> chosen.contains(b._2()))
                    .map(b -> b._1());
            int p = partitions != null ? Math.min(partitions, n) : Math.max(1, Math.min(jsc.defaultParallelism(), n));
            TrainingShards shards = TrainingShards.of(sampled, p);
            blocks.blocks().unpersist(false);
            progress.step(String.format("pruning %s (%d blocks) with %s, %s, on %d calibration sequences of %d tokens"
                    + " in %d partitions", cfg.modelType(), cfg.numLayers(), m.name().toLowerCase(Locale.ROOT),
                    pattern.label(), n, t, p));
            long started = System.nanoTime();
            LayerwisePruner.Result result;
            try {
                LayerwisePruner.StoredRounding rounding = (name, values) -> TensorCodec.roundTrip(values,
                        storedTypes.get(name));
                result = LayerwisePruner.run(jsc, shards.rdd(), modelPath, contentHash, dense, options, rounding,
                        (block, total, timing) -> progress.step(String.format("block %d/%d: calibration %.2f s (statistics"
                                + " %.2f s), masks %.2f s", block + 1, total, timing.calibrationSeconds(),
                                timing.statisticsSeconds(), timing.maskSeconds())));
            } finally {
                shards.unpersist();
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            Map<String, INDArray> masks = new LinkedHashMap<>();
            Map<String, INDArray> updated = new LinkedHashMap<>();
            List<String> ignored = new ArrayList<>();
            long swaps = 0;
            for (LayerwisePruner.TensorMask tm : result.masks().values()) {
                if (tm.pruned()) {
                    masks.put(tm.weight(), tm.keep());
                    if (tm.updated() != null) {
                        updated.put(tm.weight(), tm.updated());
                    }
                    swaps += tm.swaps();
                } else {
                    ignored.add(tm.weight().substring(0, tm.weight().length() - ".weight".length()));
                }
            }
            ObjectNode sparsity = HfConfig.JSON.createObjectNode();
            sparsity.put("producer", "sparseft prune");
            sparsity.put("command", "sparseft " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
            sparsity.put("model", modelPath);
            sparsity.put("model_content_sha256", contentHash);
            sparsity.put("method", m.name().toLowerCase(Locale.ROOT));
            String structure = plan.structure(masks.keySet());
            sparsity.put("structure", structure);
            sparsity.put("target_sparsity", pattern.ratio());
            if (!plan.rules().isEmpty()) {
                ObjectNode rules = sparsity.putObject("per_layer");
                rules.put("file", perLayer);
                for (SparsityPlan.Rule r : plan.rules()) {
                    rules.put(r.names().pattern(), r.pattern() instanceof SparsityPattern.Unstructured u
                            ? Double.toString(u.ratio()) : r.pattern().structure());
                }
            }
            ObjectNode calib = sparsity.putObject("calibration");
            calib.put("source", input.uri()).put("nsamples", n).put("seqlen", t).put("seed", seed)
                    .put("partitions", p).put("data_fingerprint", shards.fingerprint());
            if (m == LayerwisePruner.Method.SPARSEGPT) {
                sparsity.putObject("sparsegpt").put("percdamp", sparseGptPercDamp).put("blocksize", sparseGptBlockSize)
                        .put("weights_updated", true);
            }
            if (m == LayerwisePruner.Method.DSNOT) {
                sparsity.putObject("dsnot").put("initial", initial.name().toLowerCase(Locale.ROOT))
                        .put("max_cycles", dsnotMaxCycles).put("update_threshold", dsnotThreshold)
                        .put("pow_of_var_regrowing", dsnotPow).put("skip_layer", options.dsnotSkip().key())
                        .put("sign_check", dsnotSignCheck == null ? "reference default" : dsnotSignCheck.toString())
                        .put("swaps", swaps);
            }
            sparsity.put("seconds", seconds);
            progress.step("writing " + out);
            ObjectNode written = SparseExport.write(storage, modelPath, out, masks, updated, structure, sparsity,
                    ignored, force);
            PrintWriter w = spec.commandLine().getOut();
            w.printf("model      %s (%s, %d blocks)%n", modelPath, cfg.modelType(), cfg.numLayers());
            w.printf("method     %s, %s%s%n", m.name().toLowerCase(Locale.ROOT), pattern.label(),
                    m == LayerwisePruner.Method.DSNOT ? ", " + swaps + " DSnoT swaps" : "");
            w.printf("calibrated %d sequences of %d tokens, %d partitions, %.1f s%n", n, t, p, seconds);
            w.printf("sparsity   %.4f over %d pruned linears%n", written.get("global_sparsity").asDouble(),
                    masks.size());
            w.printf("wrote      %s%n", out);
            w.flush();
            return Main.OK;
        } finally {
            SparkSessions.stop(spark);
        }
    }

    /** {@code n} distinct block indices of {@code count}, drawn with the seed. */
    static Set<Long> sample(long count, int n, long seed) {
        List<Long> all = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            all.add(i);
        }
        Collections.shuffle(all, new Random(seed));
        return new HashSet<>(all.subList(0, n));
    }
}
