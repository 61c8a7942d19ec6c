package org.sparseft.jobs;

import org.junit.jupiter.api.Test;
import org.sparseft.io.HadoopStorage;
import org.sparseft.jobs.pipeline.Pipeline;
import org.sparseft.jobs.pipeline.Recipe;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped recipes stay valid as commands change: each passes the checks `sparseft run` makes before running. */
class RecipeExamplesTest {
    @Test
    void everyShippedRecipePassesThePipelinesChecks() throws Exception {
        Path dir = Path.of(System.getProperty("user.dir")).getParent().resolve("deploy/recipes");
        List<Path> recipes;
        try (Stream<Path> s = Files.list(dir)) {
            recipes = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(recipes.size() >= 5, "recipes in " + dir + ": " + recipes);
        for (Path r : recipes) {
            Recipe recipe = Recipe.parse(Files.readString(r), r.toString(), List.of());
            new Pipeline(HadoopStorage.withDefaults(), recipe, "/tmp/never-written", false,
                    new PrintWriter(new StringWriter())).check();
        }
    }
}
