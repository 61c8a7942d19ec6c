package org.sparseft.deploy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.apache.hadoop.conf.Configuration;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.testing.TinyCheckpoints;

import javax.imageio.ImageIO;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Spark standalone cluster: {@code deploy/bin/sparseft-cluster} starts a Master and two 1-core Worker JVMs on
 * loopback, {@code deploy/bin/sparseft-submit} submits {@code pretrain} through Spark's SparkSubmit, and the results
 * are compared with a local run's, bit for bit: undisturbed, with a worker (and its executor) killed mid-run, and
 * with the driver killed mid-run then resumed; then {@code prune} on the cluster must choose the local run's masks,
 * and {@code finetune} with PST (a replacement worker added with {@code sparseft-cluster add-worker}, then killed
 * mid-run) and with AST, checkpointing to and (AST) writing its model on HDFS, must end with the local run's weights;
 * and {@code pretrain --sync sharded}, a worker killed and then the driver, must end with the local run's model.
 * Every JVM runs one BLAS/OpenMP thread, since libnd4j's reductions split their sums by thread count.
 */
class StandaloneClusterIT {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Path BIN = ROOT.resolve("deploy/bin");
    private static final int STEPS = 40;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static Path clusterDir;
    static String master;
    static Path config;
    static Path text;
    static Path hdfsDir;
    static Hdfs hdfs;

    /** The HDFS that {@code deploy/bin/sparseft-hdfs} started: its URI and a client. */
    record Hdfs(String uri, HadoopStorage storage) {
    }

    @BeforeAll
    static void startCluster() throws Exception {
        hdfsDir = tmp.resolve("hdfs");
        Result h = run(tmp.resolve("hdfs-start.log"), 180, BIN.resolve("sparseft-hdfs").toString(), "start",
                "--dir", hdfsDir.toString(), "--port", Integer.toString(freePort()));
        assertEquals(0, h.exitCode(), h.output());
        hdfs = new Hdfs(h.output().lines().filter(l -> l.startsWith("hdfs://")).findFirst().orElseThrow(),
                new HadoopStorage(new Configuration()));
        clusterDir = tmp.resolve("cluster");
        Result r = run(tmp.resolve("cluster-start.log"), 180, BIN.resolve("sparseft-cluster").toString(), "start",
                "--dir", clusterDir.toString(), "--workers", "2", "--cores", "1", "--memory", "2g", "--port",
                Integer.toString(freePort()));
        assertEquals(0, r.exitCode(), r.output());
        master = r.output().lines().filter(l -> l.startsWith("spark://")).findFirst().orElseThrow();
        config = tmp.resolve("config.json");
        Files.writeString(config, "{\"model_type\":\"llama\",\"vocab_size\":257,\"hidden_size\":32,"
                + "\"intermediate_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
                + "\"max_position_embeddings\":64,\"rms_norm_eps\":1e-5,\"rope_theta\":10000.0,"
                + "\"tie_word_embeddings\":true}");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 60; i++) {
            sb.append("The Fulton County Grand Jury said Friday an investigation of recent primary election number ")
                    .append(i).append(" produced no evidence that any irregularities took place.\n\n");
        }
        text = tmp.resolve("train.txt");
        Files.writeString(text, sb.toString());
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (clusterDir != null) {
            run(tmp.resolve("cluster-stop.log"), 60, BIN.resolve("sparseft-cluster").toString(), "stop", "--dir",
                    clusterDir.toString());
        }
        if (hdfsDir != null) {
            run(tmp.resolve("hdfs-stop.log"), 60, BIN.resolve("sparseft-hdfs").toString(), "stop", "--dir",
                    hdfsDir.toString(), "--clean");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static List<String> pretrain(Path out, String... extra) {
        List<String> args = new ArrayList<>(List.of("pretrain", "--config", config.toString(), "--data",
                text.toString(), "--out", out.toString(), "--steps", Integer.toString(STEPS), "--batch", "4",
                "--seqlen", "32", "--partitions", "2", "--warmup", "4", "--lr", "3e-3", "--eval-every", "0",
                "--log-every", "5", "--checkpoint-every", "5", "--keep", "3"));
        args.addAll(List.of(extra));
        return args;
    }

    /** {@code command} then {@code extra} through spark-submit to the test cluster. */
    private static List<String> submit(List<String> command, String... extra) {
        List<String> c = new ArrayList<>(List.of(BIN.resolve("sparseft-submit").toString(), "--master", master,
                "--conf", "spark.executor.memory=1g"));
        c.addAll(command);
        c.addAll(List.of(extra));
        return c;
    }

    /** {@code command} then {@code extra} through the launcher, in local mode (what a cluster run must equal). */
    private static String[] locally(List<String> command, String... extra) {
        List<String> c = new ArrayList<>(List.of(BIN.resolve("sparseft").toString()));
        c.addAll(command);
        c.addAll(List.of(extra));
        return c.toArray(String[]::new);
    }

    @Test
    void clusterRunsMatchTheLocalRunUndisturbedWithAKilledWorkerAndAfterAKilledDriverResumes() throws Exception {
        Path local = tmp.resolve("local");
        Result l = run(tmp.resolve("local.log"), 300, locally(pretrain(local, "--master", "local[2]")));
        assertEquals(0, l.exitCode(), l.output());
        byte[] expected = Files.readAllBytes(local.resolve("model.safetensors"));

        Path undisturbed = tmp.resolve("undisturbed");
        Result u = run(tmp.resolve("undisturbed.log"), 300, submit(pretrain(undisturbed)).toArray(String[]::new));
        assertEquals(0, u.exitCode(), u.output());
        assertArrayEquals(expected, Files.readAllBytes(undisturbed.resolve("model.safetensors")),
                "cluster run equals local run");

        // Kill worker 2 and its executor once training is under way; Spark reruns the lost tasks on worker 1.
        Path workerKilled = tmp.resolve("worker-killed");
        Process p = start(tmp.resolve("worker-killed.log"), submit(pretrain(workerKilled)));
        waitForStep(Path.of(workerKilled + ".run", "metrics.jsonl"), 5, p);
        killWorker("worker-2");
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "job finished after losing a worker");
        String workerKilledLog = Files.readString(tmp.resolve("worker-killed.log"));
        assertEquals(0, p.exitValue(), workerKilledLog);
        assertTrue(workerKilledLog.contains("Lost executor"), "the worker was lost mid-run: " + workerKilledLog);
        assertArrayEquals(expected, Files.readAllBytes(workerKilled.resolve("model.safetensors")),
                "a run that lost a worker equals the undisturbed run");

        // Kill the driver after a checkpoint, then resume.
        Path driverKilled = tmp.resolve("driver-killed");
        Process d = start(tmp.resolve("driver-killed.log"), submit(pretrain(driverKilled)));
        waitForStep(Path.of(driverKilled + ".run", "metrics.jsonl"), 12, d);
        d.destroyForcibly();
        d.waitFor(60, TimeUnit.SECONDS);
        assertTrue(!Files.exists(driverKilled.resolve("_SUCCESS")), "the killed run wrote no model");
        Result resumed = run(tmp.resolve("resumed.log"), 300,
                submit(pretrain(driverKilled, "--resume")).toArray(String[]::new));
        assertEquals(0, resumed.exitCode(), resumed.output());
        assertTrue(resumed.output().contains("resuming from"), resumed.output());
        assertArrayEquals(expected, Files.readAllBytes(driverKilled.resolve("model.safetensors")),
                "killed driver + --resume equals the undisturbed run");

        // One-shot pruning on the cluster chooses the same masks as locally.
        List<String> prune = List.of("prune", "--model", local.toString(), "--method", "dsnot", "--pattern", "2:4",
                "--dsnot-skip-layer", "none", "--calib", text.toString(), "--nsamples", "6", "--seqlen", "32",
                "--partitions", "2");
        Result pl = run(tmp.resolve("prune-local.log"), 300, locally(prune, "--out",
                tmp.resolve("pruned-local").toString(), "--master", "local[2]"));
        assertEquals(0, pl.exitCode(), pl.output());
        Result pc = run(tmp.resolve("prune-cluster.log"), 300, submit(prune, "--out",
                tmp.resolve("pruned-cluster").toString()).toArray(String[]::new));
        assertEquals(0, pc.exitCode(), pc.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("pruned-local").resolve("masks.safetensors")),
                Files.readAllBytes(tmp.resolve("pruned-cluster").resolve("masks.safetensors")),
                "the cluster's masks equal the local run's");

        // PST fine-tuning on the cluster (frozen model loaded by the executors) ends with the local run's weights,
        // though a worker (with its executor, which had loaded the frozen model) is killed mid-run: its replacement
        // loads the model again.
        List<String> finetune = List.of("finetune", "--model", local.toString(), "--method", "pst", "--sparsity",
                "0.5", "--data", text.toString(), "--seqlen", "32", "--steps", "12", "--batch", "4", "--partitions",
                "2", "--pst-weight-rank", "2", "--pst-mask-rank", "2", "--checkpoint-every", "4");
        Result tl = run(tmp.resolve("tune-local.log"), 300, locally(finetune, "--out",
                tmp.resolve("tuned-local").toString(), "--master", "local[2]"));
        assertEquals(0, tl.exitCode(), tl.output());
        Result added = run(tmp.resolve("add-worker.log"), 120, BIN.resolve("sparseft-cluster").toString(),
                "add-worker", "--dir", clusterDir.toString(), "--cores", "1", "--memory", "2g");
        assertEquals(0, added.exitCode(), added.output());
        String replacement = added.output().lines().filter(line -> line.startsWith("worker-")).findFirst()
                .orElseThrow();
        Process tc = start(tmp.resolve("tune-cluster.log"), submit(finetune, "--out",
                tmp.resolve("tuned-cluster").toString(), "--run", hdfs.uri() + "/runs/pst"));
        String pstMetrics = hdfs.uri() + "/runs/pst/metrics.jsonl";
        waitFor(() -> hdfs.storage().exists(pstMetrics) && new String(hdfs.storage().readAllBytes(pstMetrics),
                java.nio.charset.StandardCharsets.UTF_8).lines().count() >= 2, tc, "step 2 of the PST run");
        killWorker(replacement);
        assertTrue(tc.waitFor(300, TimeUnit.SECONDS), "PST finished after losing a worker");
        String tuneLog = Files.readString(tmp.resolve("tune-cluster.log"));
        assertEquals(0, tc.exitValue(), tuneLog);
        assertTrue(tuneLog.contains("Lost executor"), "the worker was lost mid-run: " + tuneLog);
        assertArrayEquals(Files.readAllBytes(tmp.resolve("tuned-local").resolve("model.safetensors")),
                Files.readAllBytes(tmp.resolve("tuned-cluster").resolve("model.safetensors")),
                "PST on the cluster, a worker lost mid-run, equals PST locally");
        assertTrue(hdfs.storage().exists(hdfs.uri() + "/runs/pst/checkpoints/step-0000012/state.json"));

        // AST on the cluster (the teacher on the executors, masks re-selected on the driver), run directory and
        // model on HDFS, ends with the local run's weights.
        List<String> ast = List.of("finetune", "--model", local.toString(), "--method", "ast", "--pattern", "2:4",
                "--data", text.toString(), "--seqlen", "32", "--steps", "6", "--batch", "4", "--partitions", "2",
                "--ast-reselect-every", "2", "--lr", "1e-3", "--checkpoint-every", "3");
        Result al = run(tmp.resolve("ast-local.log"), 300, locally(ast, "--out", tmp.resolve("ast-local").toString(),
                "--master", "local[2]"));
        assertEquals(0, al.exitCode(), al.output());
        Result ac = run(tmp.resolve("ast-cluster.log"), 300, submit(ast, "--out", hdfs.uri() + "/models/ast",
                "--run", hdfs.uri() + "/runs/ast").toArray(String[]::new));
        assertEquals(0, ac.exitCode(), ac.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("ast-local").resolve("model.safetensors")),
                hdfs.storage().readAllBytes(hdfs.uri() + "/models/ast/model.safetensors"),
                "AST on the cluster, to HDFS, equals AST locally");
        assertTrue(hdfs.storage().exists(hdfs.uri() + "/runs/ast/checkpoints/step-0000006/method.safetensors"),
                "the masks are checkpointed on HDFS");

        // Sharded synchronisation (state, sums and updates on the executors; lineage checkpointed at step 20) gives
        // the local gradient-sync run's model, though the worker of one executor is killed mid-run (Spark recomputes
        // its chunks from the lineage), and after a killed driver resumes.
        Result extra = run(tmp.resolve("add-worker-2.log"), 120, BIN.resolve("sparseft-cluster").toString(),
                "add-worker", "--dir", clusterDir.toString(), "--cores", "1", "--memory", "2g");
        assertEquals(0, extra.exitCode(), extra.output());
        String second = extra.output().lines().filter(line -> line.startsWith("worker-")).findFirst().orElseThrow();
        Path shardedKilled = tmp.resolve("sharded-worker-killed");
        Process sw = start(tmp.resolve("sharded-worker-killed.log"), submit(pretrain(shardedKilled, "--sync",
                "sharded")));
        waitForStep(Path.of(shardedKilled + ".run", "metrics.jsonl"), 8, sw);
        killWorker(second);
        assertTrue(sw.waitFor(300, TimeUnit.SECONDS), "sharded run finished after losing a worker");
        String shardedLog = Files.readString(tmp.resolve("sharded-worker-killed.log"));
        assertEquals(0, sw.exitValue(), shardedLog);
        assertTrue(shardedLog.contains("Lost executor"), "the worker was lost mid-run: " + shardedLog);
        assertArrayEquals(expected, Files.readAllBytes(shardedKilled.resolve("model.safetensors")),
                "sharded sync, a worker lost mid-run, equals gradient sync locally");
        Path shardedDriver = tmp.resolve("sharded-driver-killed");
        Process sd = start(tmp.resolve("sharded-driver-killed.log"), submit(pretrain(shardedDriver, "--sync",
                "sharded")));
        waitForStep(Path.of(shardedDriver + ".run", "metrics.jsonl"), 12, sd);
        sd.destroyForcibly();
        sd.waitFor(60, TimeUnit.SECONDS);
        Result shardedResumed = run(tmp.resolve("sharded-resumed.log"), 300,
                submit(pretrain(shardedDriver, "--sync", "sharded", "--resume")).toArray(String[]::new));
        assertEquals(0, shardedResumed.exitCode(), shardedResumed.output());
        assertTrue(shardedResumed.output().contains("resuming from"), shardedResumed.output());
        assertArrayEquals(expected, Files.readAllBytes(shardedDriver.resolve("model.safetensors")),
                "sharded sync, killed driver + --resume, equals gradient sync locally");
    }

    /**
     * What docs/deploy.md walks a user through: data and model put on HDFS with {@code sparseft-hdfs dfs}, a recipe
     * (itself on HDFS) run through {@code spark-submit} with a dated data path, its driver killed in the middle of
     * the fine-tune, the same command again: it skips the pruning, resumes the fine-tune from its last checkpoint on
     * HDFS, and ends with the model and report a local run of the recipe gives.
     */
    @Test
    void aRecipeRunsThroughSparkSubmitOnHdfsAndAfterAKilledDriverResumesToTheLocalRunsModel() throws Exception {
        Path model = tmp.resolve("recipe-model");
        TinyCheckpoints.write(new HadoopStorage(new Configuration()), model.toString(), TinyCheckpoints.llama(),
                DType.F32, 0, 11);
        Path validation = tmp.resolve("validation.txt");
        Files.writeString(validation, Files.readString(text).substring(0, 3000));
        Path recipe = tmp.resolve("ast-nightly.yaml");
        Files.writeString(recipe, """
                model: %s/models/base
                data:
                  path: %s/corpus/dt=2026-11-22
                  validation: %s/corpus/validation.txt
                  seqlen: 32
                prune:
                  method: wanda
                  pattern: "2:4"
                  nsamples: 4
                finetune:
                  method: ast
                  pattern: "2:4"
                  steps: 24
                  batch: 4
                  sync: average
                  every: 2
                  checkpoint-every: 2
                  ast-reselect-every: 4
                  eval-every: 8
                  eval-windows: 2
                evaluate:
                  max-windows: 4
                export: {}
                """.formatted(hdfs.uri(), hdfs.uri(), hdfs.uri()));
        String day = hdfs.uri() + "/corpus/dt=2026-11-23";
        for (List<String> dfs : List.of(List.of("-mkdir", "-p", day, hdfs.uri() + "/models", hdfs.uri() + "/recipes"),
                List.of("-put", text.toString(), day + "/train.txt"),
                List.of("-put", validation.toString(), hdfs.uri() + "/corpus/validation.txt"),
                List.of("-put", model.toString(), hdfs.uri() + "/models/base"),
                List.of("-put", recipe.toString(), hdfs.uri() + "/recipes/ast-nightly.yaml"))) {
            List<String> c = new ArrayList<>(List.of(BIN.resolve("sparseft-hdfs").toString(), "dfs", "--dir",
                    hdfsDir.toString()));
            c.addAll(dfs);
            Result r = run(tmp.resolve("dfs.log"), 120, c.toArray(String[]::new));
            assertEquals(0, r.exitCode(), r.output());
        }
        List<String> runArgs = List.of("run", hdfs.uri() + "/recipes/ast-nightly.yaml", "--set",
                "data.path=" + day + "/train.txt");

        Result l = run(tmp.resolve("recipe-local.log"), 300, locally(runArgs, "--out",
                tmp.resolve("recipe-local").toString(), "--set", "spark.master=local[2]"));
        assertEquals(0, l.exitCode(), l.output());

        String runDir = hdfs.uri() + "/runs/ast-nightly/dt=2026-11-23";
        List<String> cluster = submit(runArgs, "--out", runDir);
        Process killed = start(tmp.resolve("recipe-killed.log"), cluster);
        String checkpoint = runDir + "/finetune.run/checkpoints/step-0000008/state.json";
        waitFor(() -> hdfs.storage().exists(checkpoint), killed, checkpoint);
        killed.destroyForcibly();
        killed.waitFor(60, TimeUnit.SECONDS);
        assertTrue(!hdfs.storage().exists(runDir + "/finetune/_SUCCESS"), "the killed run finished no fine-tune");

        Result resumed = run(tmp.resolve("recipe-resumed.log"), 400, cluster.toArray(String[]::new));
        assertEquals(0, resumed.exitCode(), resumed.output());
        assertTrue(resumed.output().contains("[prune] finished earlier with the same configuration: skipped"),
                resumed.output());
        assertTrue(resumed.output().contains("resuming from"), resumed.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("recipe-local/export/model.safetensors")),
                hdfs.storage().readAllBytes(runDir + "/export/model.safetensors"),
                "killed, resumed on the cluster against HDFS: the local run's model");
        JsonNode localReport = JSON.readTree(tmp.resolve("recipe-local/report.json").toFile());
        JsonNode clusterReport = JSON.readTree(hdfs.storage().readAllBytes(runDir + "/report.json"));
        assertEquals(localReport.at("/stages/3/perplexity"), clusterReport.at("/stages/3/perplexity"),
                "the same perplexities in both reports");
        assertNotNull(ImageIO.read(new java.io.ByteArrayInputStream(
                hdfs.storage().readAllBytes(runDir + "/val_ppl.png"))), "the plot on HDFS decodes");
    }

    /** Kills a worker of the test cluster and its executors, as a machine failing would. */
    private static void killWorker(String name) throws IOException {
        long worker = Long.parseLong(Files.readString(clusterDir.resolve(name + ".pid")).trim());
        ProcessHandle.of(worker).ifPresent(h -> {
            h.children().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
    }

    private static void waitFor(java.util.concurrent.Callable<Boolean> condition, Process job, String what)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (System.nanoTime() < deadline) {
            if (!job.isAlive()) {
                throw new AssertionError("the job ended (exit " + job.exitValue() + ") before " + what + " existed");
            }
            if (condition.call()) {
                return;
            }
            Thread.sleep(100);
        }
        job.destroyForcibly();
        throw new AssertionError("no " + what + " within 240 s");
    }

    private static void waitForStep(Path metrics, int step, Process job) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (System.nanoTime() < deadline) {
            if (!job.isAlive()) {
                throw new AssertionError("the job ended before step " + step + " (exit " + job.exitValue() + ")");
            }
            if (Files.exists(metrics)) {
                long lines = Files.readAllLines(metrics).stream().filter(s -> !s.isBlank()).count();
                if (lines >= step) {
                    return;
                }
            }
            Thread.sleep(100);
        }
        job.destroyForcibly();
        throw new AssertionError("no step " + step + " in " + metrics + " within 240 s");
    }

    record Result(int exitCode, String output) {
    }

    private static Process start(Path log, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .directory(ROOT.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("SPARSEFT_DRIVER_MEMORY", "1g");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return pb.start();
    }

    private static Result run(Path log, int timeoutSeconds, String... command) throws Exception {
        Process p = start(log, List.of(command));
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s:\n"
                    + Files.readString(log));
        }
        return new Result(p.exitValue(), Files.readString(log));
    }

    static {
        // the scripts need a built jar: failsafe runs after package
        if (!new File(ROOT.toFile(), "jobs/target/sparseft.jar").exists()) {
            throw new IllegalStateException("jobs/target/sparseft.jar is missing: run through mvn verify");
        }
    }
}
