package org.sparseft.driver.train;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A checkpoint's {@code state.json}: where the run is and what it must not change on resume. The data cursor is the
 * step itself: step s of partition p reads positions [s·share, (s + 1)·share) of the shard's seeded order
 * ({@link org.sparseft.train.ShardOrder}), so no sampler state needs saving.
 *
 * @param step optimizer steps done
 * @param identity what a resumed run must repeat exactly: seed, batch, partitions, schedule, data and model
 *                 fingerprints; any difference would change the result
 */
public record TrainingState(@JsonProperty("format") int format, @JsonProperty("step") int step,
                            @JsonProperty("optimizer_steps") long optimizerSteps,
                            @JsonProperty("identity") Map<String, String> identity) {
    public static final int FORMAT = 1;

    /** The identity fields of a run, in a fixed order. */
    public static Map<String, String> identity(Object... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], String.valueOf(keyValues[i + 1]));
        }
        return m;
    }
}
