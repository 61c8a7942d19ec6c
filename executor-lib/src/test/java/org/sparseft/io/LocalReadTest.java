package org.sparseft.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Positioned reads of local files: whole ranges, across the reader's internal chunks, little-endian. */
class LocalReadTest {
    @Test
    void readsRangesLargerThanOneChunkExactly(@TempDir Path dir) throws Exception {
        int n = 5_000_000; // 20 MB of ints: more than two 8 MB chunks
        ByteBuffer content = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            content.putInt(i * 31 + 7);
        }
        Path file = dir.resolve("data.bin");
        Files.write(file, content.array());
        Storage storage = HadoopStorage.withDefaults();
        try (Storage.RandomAccessInput in = storage.openRandomAccess(file.toUri().toString())) {
            assertEquals(n * 4L, in.length());
            ByteBuffer all = in.read(0, n * 4);
            assertEquals(n * 4, all.remaining());
            assertEquals(ByteOrder.LITTLE_ENDIAN, all.order());
            for (int i = 0; i < n; i += 99_991) {
                assertEquals(i * 31 + 7, all.getInt(i * 4), "int " + i);
            }
            assertEquals((n - 1) * 31 + 7, all.getInt((n - 1) * 4));
            int from = 3_000_001; // an unaligned range from inside the second chunk to the end
            ByteBuffer tail = in.read(from * 4L - 2, (n - from) * 4 + 2);
            assertEquals((n - from) * 4 + 2, tail.remaining());
            assertEquals(from * 31 + 7, tail.getInt(2));
            assertThrows(EOFException.class, () -> in.read(n * 4L - 4, 8));
        }
    }
}
