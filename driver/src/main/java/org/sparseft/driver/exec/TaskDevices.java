package org.sparseft.driver.exec;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;
import org.sparseft.BadInputException;
import org.sparseft.numerics.NativeBlas;

import java.util.OptionalInt;
import java.util.function.UnaryOperator;

/**
 * GPU executors: each task pins ND4J to the GPU Spark assigned it ({@code spark.task.resource.gpu.amount}, addresses
 * from the discovery script in {@code deploy/gpu/}), so tasks sharing an executor never share a device by accident.
 * Without a GPU resource (CPU executors, local mode) nothing happens.
 *
 * <p>Addresses are CUDA device ordinals as CUDA numbers them in the executor's own process. With
 * {@code CUDA_VISIBLE_DEVICES} set, CUDA renumbers the listed devices 0..k-1 (under {@code CUDA_VISIBLE_DEVICES=1}
 * physical GPU 1 is device 0, and there is no device 1), so the discovery script reports those positions, not
 * nvidia-smi's physical indices. That is right wherever the script and the tasks see the same variable: a
 * standalone worker's executors inherit its environment (the worker discovers, the executors use its addresses),
 * and YARN and Kubernetes executors run the script in their own container. Mapping physical indices to positions
 * here instead would be ambiguous ({@code CUDA_VISIBLE_DEVICES=2,0}: is "0" physical 0 or position 0?), so an
 * address is used as is, and one past the visible devices is refused, naming the variable.
 */
public final class TaskDevices {
    public static final String GPU = "gpu";
    static final String VISIBLE = "CUDA_VISIBLE_DEVICES";

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
        int device = device(gpu.get().addresses(), System::getenv);
        Nd4j.getAffinityManager().unsafeSetDevice(device);
        return OptionalInt.of(device);
    }

    /**
     * The CUDA ordinal of the first assigned address, checked against {@code CUDA_VISIBLE_DEVICES} as {@code getenv}
     * reports it (the executor's environment).
     */
    static int device(String[] addresses, UnaryOperator<String> getenv) {
        if (addresses.length == 0) {
            throw new BadInputException("Spark assigned this task a 'gpu' resource with no address; check"
                    + " spark.executor.resource.gpu.discoveryScript");
        }
        String address = addresses[0].trim();
        int device;
        try {
            device = Integer.parseInt(address);
        } catch (NumberFormatException e) {
            device = -1;
        }
        if (device < 0) {
            throw new BadInputException("GPU address '" + addresses[0] + "' from Spark is not a device number;"
                    + " the discovery script must list CUDA device ordinals (as deploy/gpu/discover-gpus.sh does)");
        }
        String visible = getenv.apply(VISIBLE);
        if (visible != null) {
            int count = visibleCount(visible);
            if (device >= count) {
                throw new BadInputException("GPU address '" + address + "' from Spark is not a CUDA device in this"
                        + " executor: " + VISIBLE + "='" + visible + "' "
                        + (count == 0 ? "hides every GPU"
                                : "makes CUDA number " + count + " device(s) 0.." + (count - 1))
                        + ". The discovery script must report ordinals as CUDA numbers them under the same "
                        + VISIBLE + " (deploy/gpu/discover-gpus.sh does; nvidia-smi's indices are physical), and"
                        + " the worker and its executors must see the same " + VISIBLE);
            }
        }
        return device;
    }

    /**
     * How many devices CUDA enumerates under this {@code CUDA_VISIBLE_DEVICES}: entries are indices, GPU UUIDs
     * ({@code GPU-...}) or MIG ids ({@code MIG-...}); as in CUDA, the list ends at the first entry that is neither.
     * Whether an index exists is not known here; deploy/gpu/discover-gpus.sh checks that against nvidia-smi.
     */
    static int visibleCount(String visible) {
        int count = 0;
        for (String entry : visible.split(",", -1)) {
            String e = entry.strip();
            if (!(e.matches("[0-9]+") || e.matches("(GPU|MIG)-\\S+"))) {
                break;
            }
            count++;
        }
        return count;
    }
}
