package org.sparseft.driver.data;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.BadInputException;
import org.sparseft.driver.SparkSessions;
import org.sparseft.io.tokenizer.ByteLevelBpe;
import org.sparseft.testing.MiniHdfs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Text in every supported format, through real local Spark (Kryo, registration required), into token blocks. */
class TextToBlocksTest {
    static SparkSession spark;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSessions.create("sparseft-test", "local[2]", Map.of());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static final List<String> DOCS = List.of(
            "The jury said it did find that many of Georgia's registration laws are outmoded.\nA second line.",
            "It recommended that Fulton legislators act to have these laws studied and revised.",
            "Über café: 東京 and ünïcödé too.",
            "Short.");

    /** What the blocks must be: documents in order, each followed by end-of-text, cut every T tokens. */
    private static List<int[]> expectedBlocks(List<String> docs, int t) {
        ByteLevelBpe tok = ByteLevelBpe.bytes();
        List<Integer> stream = new ArrayList<>();
        for (String d : docs) {
            for (int id : tok.encode(d + "\n")) {
                stream.add(id);
            }
            stream.add(tok.eosId());
        }
        List<int[]> blocks = new ArrayList<>();
        for (int b = 0; (b + 1) * t <= stream.size(); b++) {
            int[] block = new int[t];
            for (int i = 0; i < t; i++) {
                block[i] = stream.get(b * t + i);
            }
            blocks.add(block);
        }
        return blocks;
    }

    private static void assertBlocks(List<int[]> expected, List<int[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), actual.get(i), "block " + i);
        }
    }

    private static List<int[]> blocks(String uri, TextFormat format, String field, int t) {
        return TokenBlocks.blocks(TokenBlocks.tokenize(TextSource.documents(spark, uri, format, field), "byte"), t)
                .blocks().collect();
    }

    @Test
    void plainTextFilesSplitAtEmptyLinesInFileOrder() throws Exception {
        Path dir = tmp.resolve("text");
        Files.createDirectories(dir);
        // Two files; sorted by name, part-b's documents come after part-a's.
        Files.writeString(dir.resolve("part-b.txt"), DOCS.get(2) + "\n\n\n" + DOCS.get(3) + "\n");
        Files.writeString(dir.resolve("part-a.txt"), DOCS.get(0) + "\n\n" + DOCS.get(1) + "\n");
        assertBlocks(expectedBlocks(DOCS, 16), blocks(dir.toString(), TextFormat.TEXT, "text", 16));
    }

    @Test
    void jsonLinesAndParquetGiveTheSameBlocks() throws Exception {
        Path jsonl = tmp.resolve("docs.jsonl");
        StringBuilder sb = new StringBuilder();
        for (String d : DOCS) {
            sb.append("{\"id\": 1, \"body\": ").append(new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValueAsString(d + "\n")).append("}\n");
        }
        Files.writeString(jsonl, sb.toString());
        List<int[]> expected = expectedBlocks(DOCS, 8);
        assertBlocks(expected, blocks(jsonl.toString(), TextFormat.detect(jsonl.toString()), "body", 8));

        StructType schema = new StructType().add("body", DataTypes.StringType);
        List<Row> rows = DOCS.stream().map(d -> RowFactory.create(d + "\n")).toList();
        String parquet = tmp.resolve("docs.parquet").toString();
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(parquet);
        assertBlocks(expected, blocks(parquet, TextFormat.PARQUET, "body", 8));
    }

    @Test
    void blocksDoNotDependOnThePartitioning() throws Exception {
        Path f = tmp.resolve("many.txt");
        StringBuilder sb = new StringBuilder();
        List<String> docs = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String d = "Document number " + i + " says " + "word ".repeat(i % 17) + "end.";
            docs.add(d);
            sb.append(d).append("\n\n");
        }
        Files.writeString(f, sb.toString());
        List<int[]> expected = expectedBlocks(docs, 32);
        var source = TextSource.documents(spark, f.toString(), TextFormat.TEXT, "text");
        for (int partitions : new int[] {1, 3, 7}) {
            List<int[]> actual = TokenBlocks.blocks(TokenBlocks.tokenize(source.repartition(partitions)
                    .sortBy(d -> d.ordinal(), true, partitions), "byte"), 32).blocks().collect();
            assertBlocks(expected, actual);
        }
    }

    @Test
    void readsTextFromHdfs() throws Exception {
        try (MiniHdfs hdfs = new MiniHdfs()) {
            String uri = hdfs.uri() + "/corpus/dt=2026-11-23/part-0.txt";
            hdfs.storage().writeAtomically(uri, String.join("\n\n", DOCS).getBytes(StandardCharsets.UTF_8));
            assertBlocks(expectedBlocks(DOCS, 16), blocks(uri, TextFormat.TEXT, "text", 16));
        }
    }

    @Test
    void badInputsAreNamed() throws Exception {
        BadInputException e = assertThrows(BadInputException.class,
                () -> blocks(tmp.resolve("absent.txt").toString(), TextFormat.TEXT, "text", 8));
        assertTrue(e.getMessage().contains("absent.txt") && e.getMessage().contains("does not exist"), e.getMessage());

        Path jsonl = tmp.resolve("fields.jsonl");
        Files.writeString(jsonl, "{\"body\": \"x\"}\n");
        e = assertThrows(BadInputException.class, () -> blocks(jsonl.toString(), TextFormat.JSONL, "text", 8));
        assertTrue(e.getMessage().contains("'text' not found") && e.getMessage().contains("[body]"), e.getMessage());

        Path broken = tmp.resolve("broken.jsonl");
        Files.writeString(broken, "{\"text\": \"fine\"}\n{\"text\": oops\n");
        e = assertThrows(BadInputException.class, () -> blocks(broken.toString(), TextFormat.JSONL, "text", 8));
        assertTrue(e.getMessage().contains("broken.jsonl") && e.getMessage().contains("malformed JSON"), e.getMessage());

        Path tiny = tmp.resolve("tiny.txt");
        Files.writeString(tiny, "hi\n");
        e = assertThrows(BadInputException.class, () -> blocks(tiny.toString(), TextFormat.TEXT, "text", 64));
        assertTrue(e.getMessage().contains("fewer than one block"), e.getMessage());

        Path empty = tmp.resolve("empty.txt");
        Files.writeString(empty, "\n\n");
        e = assertThrows(BadInputException.class, () -> blocks(empty.toString(), TextFormat.TEXT, "text", 8));
        assertTrue(e.getMessage().contains("no text found"), e.getMessage());
    }
}
