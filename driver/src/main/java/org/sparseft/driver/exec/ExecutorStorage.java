package org.sparseft.driver.exec;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkEnv;
import org.sparseft.io.HadoopStorage;
import scala.Tuple2;

/**
 * Storage inside a task: a Hadoop configuration with the job's {@code spark.hadoop.*} settings applied, made once per
 * executor JVM.
 */
public final class ExecutorStorage {
    private static volatile HadoopStorage storage;

    private ExecutorStorage() {
    }

    public static HadoopStorage get() {
        HadoopStorage s = storage;
        if (s == null) {
            synchronized (ExecutorStorage.class) {
                if (storage == null) {
                    Configuration conf = new Configuration();
                    SparkEnv env = SparkEnv.get();
                    if (env != null) {
                        for (Tuple2<String, String> kv : env.conf().getAllWithPrefix("spark.hadoop.")) {
                            conf.set(kv._1(), kv._2());
                        }
                    }
                    storage = new HadoopStorage(conf);
                }
                s = storage;
            }
        }
        return s;
    }
}
