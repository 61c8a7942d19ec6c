package org.sparseft.jobs.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Per-layer sparsity: a decoder layer's pruned weights over its prunable weights, for both families' names. */
class RunReportTest {
    @Test
    void layerSparsityPoolsEachLayersTensorsForLlamaAndGpt2Names() throws Exception {
        String json = """
                {"tensors": {
                  "model.layers.0.self_attn.q_proj.weight": {"pruned": 30, "total": 100},
                  "model.layers.0.mlp.up_proj.weight": {"pruned": 170, "total": 300},
                  "model.layers.10.mlp.down_proj.weight": {"pruned": 5, "total": 10},
                  "transformer.h.2.attn.c_attn.weight": {"pruned": 1, "total": 4},
                  "h.3.mlp.c_fc.weight": {"pruned": 3, "total": 4},
                  "lm_head.weight": {"pruned": 0, "total": 8}
                }}""";
        Map<String, Double> expected = new LinkedHashMap<>();
        expected.put("0", 200.0 / 400);
        expected.put("2", 0.25);
        expected.put("3", 0.75);
        expected.put("10", 0.5);
        expected.put("other", 0.0);
        Map<String, Double> layers = RunReport.layerSparsity(new ObjectMapper().readTree(json));
        assertEquals(expected, layers);
        assertEquals(java.util.List.of("0", "2", "3", "10", "other"), new java.util.ArrayList<>(layers.keySet()),
                "layers in numeric order, the tensors outside any layer last");
    }
}
