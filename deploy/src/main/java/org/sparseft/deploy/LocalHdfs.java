package org.sparseft.deploy;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FsShell;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.util.ToolRunner;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * A real HDFS on this machine for trying sparseft by hand: Hadoop's MiniDFSCluster (one NameNode, DataNodes on
 * loopback) as a long-running process, started and stopped by {@code deploy/bin/sparseft-hdfs}. Its blocks live
 * under {@code DIR/data} and survive a restart; {@code dfs} runs Hadoop's own {@code hdfs dfs} shell against it.
 * <pre>
 *   LocalHdfs serve --dir DIR [--port 9000] [--datanodes 1]
 *   LocalHdfs dfs --dir DIR -put demo-out/tokens /corpus     (any 'hdfs dfs' command)
 * </pre>
 */
public final class LocalHdfs {
    /** The line {@code serve} prints (and the script waits for) once the file system accepts clients. */
    static final String READY = "sparseft-hdfs ready at ";
    private static final String URI_FILE = "uri";
    private static final String DATANODES_FILE = "datanodes";

    private LocalHdfs() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3 || !args[1].equals("--dir")) {
            usage("expected 'serve --dir DIR [--port P] [--datanodes N]' or 'dfs --dir DIR <hdfs dfs arguments>'");
        }
        Path dir = Path.of(args[2]).toAbsolutePath();
        String[] rest = Arrays.copyOfRange(args, 3, args.length);
        switch (args[0]) {
            case "serve" -> serve(dir, rest);
            case "dfs" -> System.exit(dfs(dir, rest));
            default -> usage("unknown command '" + args[0] + "'");
        }
    }

    private static void serve(Path dir, String[] options) throws IOException, InterruptedException {
        int port = 9000;
        int datanodes = 1;
        for (int i = 0; i < options.length; i += 2) {
            if (i + 1 >= options.length) {
                usage("option " + options[i] + " needs a value");
            }
            switch (options[i]) {
                case "--port" -> port = positive(options[i], options[i + 1]);
                case "--datanodes" -> datanodes = positive(options[i], options[i + 1]);
                default -> usage("unknown option " + options[i]);
            }
        }
        File base = dir.resolve("data").toFile();
        // A second start keeps the blocks of the first: format only a fresh directory.
        boolean fresh = !new File(base, "name-0-1/current").isDirectory();
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath());
        conf.set("dfs.namenode.rpc-address", "127.0.0.1:" + port);
        conf.set("dfs.namenode.http-address", "127.0.0.1:0");
        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).nameNodePort(port).numDataNodes(datanodes)
                .format(fresh).manageNameDfsDirs(true).manageDataDfsDirs(true).build();
        cluster.waitActive();
        String uri = "hdfs://127.0.0.1:" + cluster.getNameNodePort();
        Files.writeString(dir.resolve(URI_FILE), uri + "\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(DATANODES_FILE), datanodes + "\n", StandardCharsets.UTF_8);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            cluster.shutdown();
            stopped.countDown();
        }, "sparseft-hdfs-shutdown"));
        System.out.println(READY + uri + (fresh ? " (formatted " : " (reopened ") + base + ")");
        System.out.flush();
        stopped.await();
    }

    private static int dfs(Path dir, String[] shellArgs) throws Exception {
        Path uriFile = dir.resolve(URI_FILE);
        if (!Files.exists(uriFile)) {
            System.err.println("sparseft-hdfs: no HDFS started in " + dir + " (" + uriFile + " is missing)");
            return 2;
        }
        Configuration conf = new Configuration();
        conf.set("fs.defaultFS", Files.readString(uriFile, StandardCharsets.UTF_8).trim());
        // files the shell writes get no more replicas than there are DataNodes (HDFS's default is 3)
        Path datanodes = dir.resolve(DATANODES_FILE);
        if (Files.exists(datanodes)) {
            int n = Integer.parseInt(Files.readString(datanodes, StandardCharsets.UTF_8).trim());
            conf.setInt("dfs.replication", Math.min(3, n));
        }
        return ToolRunner.run(conf, new FsShell(conf), shellArgs);
    }

    private static int positive(String option, String value) {
        try {
            int v = Integer.parseInt(value);
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        usage(option + " expects a positive integer, got '" + value + "'");
        return 0;
    }

    private static void usage(String problem) {
        System.err.println("sparseft-hdfs: " + problem);
        System.exit(2);
    }
}
