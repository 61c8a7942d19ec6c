package org.sparseft.driver;

import com.esotericsoftware.kryo.Kryo;
import org.apache.spark.serializer.KryoRegistrator;

import java.util.List;

/**
 * Every class sparseft ships between JVMs, registered up front: with {@code spark.kryo.registrationRequired=true}
 * an unregistered class fails loudly instead of silently writing its full name with every record. Tensors travel as
 * plain arrays (not INDArrays), which keeps this list short and free of ND4J's Kryo module.
 */
public final class KryoRegistration implements KryoRegistrator {
    static final Class<?>[] CLASSES = {
            float[].class, float[][].class, int[].class, int[][].class, long[].class, long[][].class,
            double[].class, byte[].class, byte[][].class, boolean[].class, short[].class,
            Object[].class, String[].class,
            scala.Tuple2.class, scala.Tuple2[].class, scala.Tuple3.class,
            java.util.ArrayList.class, java.util.HashMap.class, java.util.LinkedHashMap.class,
            org.sparseft.driver.data.Document[].class, org.sparseft.driver.data.TokenBlocks.Piece[].class,
            org.sparseft.driver.train.Shard[].class, org.sparseft.sparsity.FeatureStats[].class,
            // Spark's own classes that reach Kryo in collect() and sorting
            org.apache.spark.sql.catalyst.InternalRow[].class,
            org.apache.spark.sql.catalyst.expressions.UnsafeRow.class,
            org.apache.spark.sql.catalyst.expressions.GenericInternalRow.class,
            org.apache.spark.sql.Row[].class,
            org.apache.spark.sql.catalyst.expressions.GenericRow.class,
            org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema.class,
            org.apache.spark.sql.types.StructType.class, org.apache.spark.sql.types.StructType[].class,
            org.apache.spark.sql.types.StructField.class, org.apache.spark.sql.types.StructField[].class,
            org.apache.spark.sql.types.Metadata.class,
            org.apache.spark.unsafe.types.UTF8String.class,
    };

    /** Records shipped between JVMs; each gets a {@link RecordSerializer}. */
    static final List<Class<? extends Record>> RECORDS = List.of(
            org.sparseft.driver.data.Document.class, org.sparseft.driver.data.TokenBlocks.Piece.class,
            org.sparseft.driver.train.Shard.class, org.sparseft.driver.train.PartialGradient.class,
            org.sparseft.driver.train.PartialState.class, org.sparseft.driver.train.ChunkState.class,
            org.sparseft.driver.train.ChunkValues.class, org.sparseft.driver.train.GradientPart.class,
            org.sparseft.driver.train.ChunkSum.class, org.sparseft.driver.train.ChunkSum.Report.class,
            org.sparseft.driver.prune.CalibrationShard.class,
            org.sparseft.driver.prune.PartialStats.class, org.sparseft.sparsity.FeatureStats.class,
            org.sparseft.driver.prune.RecoveryShard.class, org.sparseft.driver.prune.PartialBlockGradient.class,
            org.sparseft.driver.eval.DistributedPerplexity.WindowStates.class);

    @Override
    public void registerClasses(Kryo kryo) {
        for (Class<?> c : CLASSES) {
            kryo.register(c);
        }
        for (Class<? extends Record> r : RECORDS) {
            register(kryo, r);
        }
        registerByName(kryo, "org.apache.spark.sql.types.StringType$");
        registerByName(kryo, "org.apache.spark.sql.types.LongType$");
        registerByName(kryo, "org.apache.spark.sql.types.IntegerType$");
        registerByName(kryo, "scala.math.Ordering$Reverse");
        registerByName(kryo, "scala.math.Ordering$Long$");
        registerByName(kryo, "scala.math.Ordering$Int$");
        registerByName(kryo, "scala.reflect.ClassTag$GenericClassTag");
        registerByName(kryo, "scala.reflect.ManifestFactory$ObjectManifest");
        registerByName(kryo, "scala.reflect.ManifestFactory$LongManifest");
        registerByName(kryo, "scala.reflect.ManifestFactory$IntManifest");
        registerByName(kryo, "scala.math.Ordering$String$");
        registerByName(kryo, "scala.collection.mutable.WrappedArray$ofRef");
        registerByName(kryo, "org.apache.spark.util.collection.CompactBuffer");
        registerByName(kryo, "[Lorg.apache.spark.util.collection.CompactBuffer;");
    }

    private static <T extends Record> void register(Kryo kryo, Class<T> type) {
        kryo.register(type, new RecordSerializer<>(type));
    }

    private static void registerByName(Kryo kryo, String name) {
        try {
            kryo.register(Class.forName(name, false, KryoRegistration.class.getClassLoader()));
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("Kryo registration: class " + name + " not found on this Spark version", e);
        }
    }
}
