package org.sparseft.jobs.pipeline;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.node.ObjectNode;

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
}
