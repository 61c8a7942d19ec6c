package org.sparseft.jobs.pipeline;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.sparseft.BadInputException;
import org.sparseft.io.Json;
import org.sparseft.io.Storage;

import java.io.IOException;
import java.util.Map;

/**
 * {@code <run>/stages/NAME.json}: what a finished stage ran, so that a later run of the recipe skips it when its
 * configuration hash is the same.
 *
 * @param stage the stage's name
 * @param kind its kind (data, prune, finetune, evaluate, export)
 * @param configSha256 the hash of its settings and inputs
 * @param seconds how long it ran
 * @param output its output directory
 * @param jobs the settings each of its jobs ran with, by job
 */
@JsonIgnoreProperties(ignoreUnknown = true) // a record from another version still gives its hash
@JsonPropertyOrder({"stage", "kind", "config_sha256", "seconds", "output", "jobs"})
public record StageRecord(String stage, String kind, @JsonProperty("config_sha256") String configSha256,
                          double seconds, String output, Map<String, ObjectNode> jobs) {
    /** The record at {@code path}; one that cannot be read is bad input naming it. */
    public static StageRecord read(Storage storage, String path) throws IOException {
        try {
            return Json.MAPPER.readValue(storage.readAllBytes(path), StageRecord.class);
        } catch (JacksonException e) {
            throw BadInputException.at(path, "not a stage record: " + e.getOriginalMessage());
        }
    }
}
