package org.sparseft.driver;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.numerics.NativeBlas;

import java.util.OptionalInt;

/**
 * GPU executors: each task pins ND4J to the GPU Spark assigned it ({@code spark.task.resource.gpu.amount}, addresses
 * from the discovery script in {@code deploy/gpu/}), so tasks sharing an executor never share a device by accident.
 * Without a GPU resource (CPU executors, local mode) nothing happens.
 */
public final class TaskDevices {
    public static final String GPU = "gpu";

    private TaskDevices() {
    }

    /**
     * Checks the native BLAS/LAPACK once per executor JVM, then pins the calling task's thread to its assigned GPU;
     * returns the device, if one was assigned. Tasks call it before their first ND4J use.
     */
    public static OptionalInt pin() {
        NativeBlas.ensureCorrect(); // an executor may run on another processor than the driver
        TaskContext ctx = TaskContext.get();
        if (ctx == null) {
            return OptionalInt.empty();
        }
        scala.Option<ResourceInformation> gpu = ctx.resources().get(GPU);
        if (gpu.isEmpty()) {
            return OptionalInt.empty();
        }
        int device = device(gpu.get().addresses());
        Nd4j.getAffinityManager().unsafeSetDevice(device);
        return OptionalInt.of(device);
    }

    /** The device number of the first assigned address. */
    static int device(String[] addresses) {
        if (addresses.length == 0) {
            throw new BadInputException("Spark assigned this task a 'gpu' resource with no address; check"
                    + " spark.executor.resource.gpu.discoveryScript");
        }
        try {
            return Integer.parseInt(addresses[0].trim());
        } catch (NumberFormatException e) {
            throw new BadInputException("GPU address '" + addresses[0] + "' from Spark is not a device number;"
                    + " the discovery script must list CUDA device indices (as deploy/gpu/discover-gpus.sh does)");
        }
    }
}
