package org.sparseft;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class InvalidSettingExceptionTest {
    @Test
    void namesSettingsAsEachCallerWritesThem() {
        InvalidSettingException e = new InvalidSettingException("{batch} 3 is not a multiple of {partitions} 2");
        assertEquals("batch 3 is not a multiple of partitions 2", e.getMessage());
        assertEquals("--batch 3 is not a multiple of --partitions 2", e.render(k -> "--" + k));
        assertEquals("finetune.batch 3 is not a multiple of finetune.partitions 2", e.render(k -> "finetune." + k));
        assertEquals(List.of("batch", "partitions"), e.settings());
    }

    @Test
    void valuesRenderAsWrittenWhateverBracesTheyHold() {
        InvalidSettingException e = InvalidSettingException.of("run", "/tmp/{run}/{{x}", "cannot be written");
        assertEquals("--run /tmp/{run}/{{x}: cannot be written", e.render(k -> "--" + k));
        assertEquals(List.of("run"), e.settings());
        InvalidSettingException regex = new InvalidSettingException("{sparsity-per-layer} plan.json, key \""
                + InvalidSettingException.literal("h\\.0{2}") + "\": not a fraction, see {sparsity}");
        assertEquals("--sparsity-per-layer plan.json, key \"h\\.0{2}\": not a fraction, see --sparsity",
                regex.render(k -> "--" + k));
        // a literal brace just before a setting
        assertEquals("x{--seqlen", new InvalidSettingException(InvalidSettingException.literal("x{") + "{seqlen}")
                .render(k -> "--" + k));
        // braces that name no setting (JSON) are text
        assertEquals("expected {\"name regex\": 0.5}", new InvalidSettingException("expected {\"name regex\": 0.5}")
                .getMessage());
    }

    @Test
    void aTemplateNestsInAnother() {
        InvalidSettingException inner = InvalidSettingException.of("sparsity", 1.5, "expected a fraction in [0, 1)");
        InvalidSettingException outer = new InvalidSettingException("{sparsity-per-layer} "
                + InvalidSettingException.literal("{p}.json") + ": " + inner.template());
        assertEquals("--sparsity-per-layer {p}.json: --sparsity 1.5: expected a fraction in [0, 1)",
                outer.render(k -> "--" + k));
    }
}
