package org.sparseft.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;
import org.sparseft.io.safetensors.DType;
import org.sparseft.io.safetensors.SafetensorsWriter;
import org.sparseft.io.safetensors.TensorCodec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenFilesTest {
    @TempDir
    Path tmp;
    private final Storage storage = HadoopStorage.withDefaults();

    @Test
    void readsIdLinesAndSkipsBlankLines() throws Exception {
        Path p = tmp.resolve("ids.txt");
        Files.writeString(p, "1 2 3\n\n  4\t5 \n");
        List<int[]> rows = TokenFiles.read(storage, p.toString(), 10);
        assertEquals(2, rows.size());
        assertArrayEquals(new int[] {1, 2, 3}, rows.get(0));
        assertArrayEquals(new int[] {4, 5}, rows.get(1));
    }

    @Test
    void outOfVocabularyIdNamesTheLine() throws Exception {
        Path p = tmp.resolve("ids.txt");
        Files.writeString(p, "1 2\n3 10 4\n");
        BadInputException e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, p.toString(), 10));
        assertTrue(e.getMessage().contains("ids.txt line 2") && e.getMessage().contains("token 2 is id 10"), e.getMessage());
        Files.writeString(p, "1 x\n");
        e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, p.toString(), 10));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("\"x\""), e.getMessage());
        Files.writeString(p, "\n\n");
        e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, p.toString(), 10));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, tmp.resolve("nope.txt").toString(), 10));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void safetensorsBlocksRoundTripAndAreChecked() throws Exception {
        String p = tmp.resolve("blocks.safetensors").toString();
        TokenFiles.writeBlocks(storage, p, List.of(new int[] {1, 2, 3}, new int[] {4, 5, 6}), Map.of());
        List<int[]> rows = TokenFiles.read(storage, p, 7);
        assertArrayEquals(new int[] {4, 5, 6}, rows.get(1));
        BadInputException e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, p, 6));
        assertTrue(e.getMessage().contains("input_ids row 1") && e.getMessage().contains("position 2"), e.getMessage());

        String i64 = tmp.resolve("tokens.safetensors").toString();
        SafetensorsWriter.write(storage, i64, List.of(new SafetensorsWriter.Entry("tokens", DType.I64,
                new long[] {1, 2}, TensorCodec.encodeI64(new long[] {9, 8}))), Map.of());
        assertArrayEquals(new int[] {9, 8}, TokenFiles.read(storage, i64, 10).get(0));

        String floats = tmp.resolve("floats.safetensors").toString();
        SafetensorsWriter.write(storage, floats, List.of(SafetensorsWriter.Entry.ofFloats("input_ids", DType.F32,
                new long[] {1, 2}, new float[2])), Map.of());
        e = assertThrows(BadInputException.class, () -> TokenFiles.read(storage, floats, 10));
        assertTrue(e.getMessage().contains("expected an integer type"), e.getMessage());
    }
}
