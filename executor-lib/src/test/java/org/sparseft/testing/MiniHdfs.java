package org.sparseft.testing;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.sparseft.io.HadoopStorage;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;

/** A real in-JVM HDFS (NameNode + one DataNode) for tests; URIs look like {@code hdfs://127.0.0.1:PORT/...}. */
public final class MiniHdfs implements AutoCloseable {
    private final MiniDFSCluster cluster;
    private final File baseDir;

    public MiniHdfs() throws IOException {
        baseDir = Files.createTempDirectory("sparseft-minidfs").toFile();
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.getAbsolutePath());
        conf.set("dfs.namenode.rpc-address", "127.0.0.1:0");
        conf.setBoolean("dfs.permissions.enabled", true);
        cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        cluster.waitActive();
    }

    /** hdfs://host:port (no trailing slash). */
    public String uri() {
        return "hdfs://127.0.0.1:" + cluster.getNameNodePort();
    }

    public Configuration configuration() {
        return cluster.getConfiguration(0);
    }

    public HadoopStorage storage() {
        return new HadoopStorage(configuration());
    }

    public MiniDFSCluster cluster() {
        return cluster;
    }

    @Override
    public void close() throws IOException {
        cluster.shutdown(true);
        org.apache.hadoop.fs.FileUtil.fullyDelete(baseDir);
    }
}
