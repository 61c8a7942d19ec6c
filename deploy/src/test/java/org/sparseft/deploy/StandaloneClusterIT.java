package org.sparseft.jobs;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Spark standalone cluster: {@code deploy/bin/sparseft-cluster} starts a Master and two 1-core Worker JVMs on
 * loopback, {@code deploy/bin/sparseft-submit} submits {@code pretrain} through Spark's SparkSubmit, and the results
 * are compared with a local run's, bit for bit: undisturbed, with a worker (and its executor) killed mid-run, and
 * with the driver killed mid-run then resumed; then {@code prune} on the cluster must choose the local run's masks,
 * and {@code finetune} with PST and with AST, checkpointing to and (AST) writing its model on a MiniDFSCluster, must
 * end with the local run's weights.
 * Every JVM runs one BLAS/OpenMP thread, since libnd4j's reductions split their sums by thread count.
 */
class StandaloneClusterIT {
    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();
    private static final Path BIN = ROOT.resolve("deploy/bin");
    private static final int STEPS = 40;

    @TempDir
    static Path tmp;
    static Path clusterDir;
    static String master;
    static Path config;
    static Path text;
    static org.sparseft.testing.MiniHdfs hdfs;

    @BeforeAll
    static void startCluster() throws Exception {
        hdfs = new org.sparseft.testing.MiniHdfs();
        clusterDir = tmp.resolve("cluster");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Result r = run(tmp.resolve("cluster-start.log"), 180, BIN.resolve("sparseft-cluster").toString(), "start",
                "--dir", clusterDir.toString(), "--workers", "2", "--cores", "1", "--memory", "2g", "--port",
                Integer.toString(port));
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
        if (hdfs != null) {
            hdfs.close();
        }
        if (clusterDir != null) {
            run(tmp.resolve("cluster-stop.log"), 60, BIN.resolve("sparseft-cluster").toString(), "stop", "--dir",
                    clusterDir.toString());
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

    private static List<String> submit(List<String> command) {
        List<String> c = new ArrayList<>(List.of(BIN.resolve("sparseft-submit").toString(), "--master", master,
                "--conf", "spark.executor.memory=1g"));
        c.addAll(command);
        return c;
    }

    @Test
    void clusterRunsMatchTheLocalRunUndisturbedWithAKilledWorkerAndAfterAKilledDriverResumes() throws Exception {
        Path local = tmp.resolve("local");
        List<String> localCmd = new ArrayList<>(List.of(BIN.resolve("sparseft").toString()));
        localCmd.addAll(pretrain(local, "--master", "local[2]"));
        Result l = run(tmp.resolve("local.log"), 300, localCmd.toArray(String[]::new));
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
        long worker = Long.parseLong(Files.readString(clusterDir.resolve("worker-2.pid")).trim());
        ProcessHandle.of(worker).ifPresent(h -> {
            h.children().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "job finished after losing a worker");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("worker-killed.log")));
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
        List<String> localPrune = new ArrayList<>(List.of(BIN.resolve("sparseft").toString()));
        localPrune.addAll(prune);
        localPrune.addAll(List.of("--out", tmp.resolve("pruned-local").toString(), "--master", "local[2]"));
        Result pl = run(tmp.resolve("prune-local.log"), 300, localPrune.toArray(String[]::new));
        assertEquals(0, pl.exitCode(), pl.output());
        List<String> clusterPrune = new ArrayList<>(prune);
        clusterPrune.addAll(List.of("--out", tmp.resolve("pruned-cluster").toString()));
        Result pc = run(tmp.resolve("prune-cluster.log"), 300, submit(clusterPrune).toArray(String[]::new));
        assertEquals(0, pc.exitCode(), pc.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("pruned-local").resolve("masks.safetensors")),
                Files.readAllBytes(tmp.resolve("pruned-cluster").resolve("masks.safetensors")),
                "the cluster's masks equal the local run's");

        // PST fine-tuning on the cluster (frozen model loaded by the executors) ends with the local run's weights.
        List<String> finetune = List.of("finetune", "--model", local.toString(), "--method", "pst", "--sparsity",
                "0.5", "--data", text.toString(), "--seqlen", "32", "--steps", "6", "--batch", "4", "--partitions", "2",
                "--pst-weight-rank", "2", "--pst-mask-rank", "2", "--checkpoint-every", "3");
        List<String> localTune = new ArrayList<>(List.of(BIN.resolve("sparseft").toString()));
        localTune.addAll(finetune);
        localTune.addAll(List.of("--out", tmp.resolve("tuned-local").toString(), "--master", "local[2]"));
        Result tl = run(tmp.resolve("tune-local.log"), 300, localTune.toArray(String[]::new));
        assertEquals(0, tl.exitCode(), tl.output());
        List<String> clusterTune = new ArrayList<>(finetune);
        clusterTune.addAll(List.of("--out", tmp.resolve("tuned-cluster").toString(), "--run",
                hdfs.uri() + "/runs/pst"));
        Result tc = run(tmp.resolve("tune-cluster.log"), 300, submit(clusterTune).toArray(String[]::new));
        assertEquals(0, tc.exitCode(), tc.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("tuned-local").resolve("model.safetensors")),
                Files.readAllBytes(tmp.resolve("tuned-cluster").resolve("model.safetensors")),
                "PST on the cluster equals PST locally");
        assertTrue(hdfs.storage().exists(hdfs.uri() + "/runs/pst/checkpoints/step-0000006/state.json"));

        // AST on the cluster (the teacher on the executors, masks re-selected on the driver), run directory and
        // model on HDFS, ends with the local run's weights.
        List<String> ast = List.of("finetune", "--model", local.toString(), "--method", "ast", "--pattern", "2:4",
                "--data", text.toString(), "--seqlen", "32", "--steps", "6", "--batch", "4", "--partitions", "2",
                "--ast-reselect-every", "2", "--lr", "1e-3", "--checkpoint-every", "3");
        List<String> localAst = new ArrayList<>(List.of(BIN.resolve("sparseft").toString()));
        localAst.addAll(ast);
        localAst.addAll(List.of("--out", tmp.resolve("ast-local").toString(), "--master", "local[2]"));
        Result al = run(tmp.resolve("ast-local.log"), 300, localAst.toArray(String[]::new));
        assertEquals(0, al.exitCode(), al.output());
        List<String> clusterAst = new ArrayList<>(ast);
        clusterAst.addAll(List.of("--out", hdfs.uri() + "/models/ast", "--run", hdfs.uri() + "/runs/ast"));
        Result ac = run(tmp.resolve("ast-cluster.log"), 300, submit(clusterAst).toArray(String[]::new));
        assertEquals(0, ac.exitCode(), ac.output());
        assertArrayEquals(Files.readAllBytes(tmp.resolve("ast-local").resolve("model.safetensors")),
                hdfs.storage().readAllBytes(hdfs.uri() + "/models/ast/model.safetensors"),
                "AST on the cluster, to HDFS, equals AST locally");
        assertTrue(hdfs.storage().exists(hdfs.uri() + "/runs/ast/checkpoints/step-0000006/method.safetensors"),
                "the masks are checkpointed on HDFS");
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
