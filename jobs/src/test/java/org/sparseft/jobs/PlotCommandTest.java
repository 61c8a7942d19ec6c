package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlotCommandTest {
    @TempDir
    Path tmp;

    @Test
    void plotsValidationPerplexityOfRunsWithReferenceLines() throws Exception {
        Path a = tmp.resolve("a.jsonl");
        Files.writeString(a, "{\"step\":1,\"loss\":3.0}\n{\"step\":50,\"val_ppl\":6.1}\n{\"step\":100,\"val_ppl\":5.4}\n");
        Path b = tmp.resolve("b.jsonl");
        Files.writeString(b, "{\"step\":50,\"val_ppl\":5.9}\n{\"step\":100,\"val_ppl\":5.3}\n");
        Path png = tmp.resolve("ppl.png");
        Cli r = Cli.run("plot", "--series", "AST=" + a, "--series", "PST=" + b, "--reference", "dense=5.16",
                "--out", png.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("2 series, 1 references"), r.out());
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, "a PNG that decodes");
        assertEquals(900, image.getWidth());
        assertEquals(560, image.getHeight());
    }

    @Test
    void aRunWithoutTheFieldIsABadInput() throws Exception {
        Path a = tmp.resolve("a.jsonl");
        Files.writeString(a, "{\"step\":1,\"loss\":3.0}\n");
        Path png = tmp.resolve("ppl.png");
        Cli r = Cli.run("plot", "--series", "AST=" + a, "--out", png.toString());
        assertEquals(2, r.exitCode(), r.toString());
        assertTrue(r.err().contains("a.jsonl") && r.err().contains("no line with field 'val_ppl'"), r.err());
        assertFalse(Files.exists(png));
    }
}
