package org.sparseft.jobs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packages of every module form no cycle, and each has a {@code package-info.java} saying what it owns. Read from
 * the sources (imports and qualified names outside comments), so references that leave no trace in bytecode, such as
 * class literals in annotations, count too.
 */
class PackageCyclesTest {
    private static final List<String> MODULES = List.of("executor-lib", "driver", "jobs", "deploy");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("\\borg\\.sparseft((?:\\.[a-z]\\w*)*)\\.[A-Z]");
    private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);

    @Test
    void packagesFormNoCycle() throws IOException {
        Map<String, Set<String>> uses = uses();
        assertTrue(uses.size() > 20, "found only " + uses.keySet());
        List<List<String>> cycles = stronglyConnected(uses).stream().filter(c -> c.size() > 1).toList();
        assertEquals(List.of(), cycles, "package cycles");
    }

    @Test
    void everyPackageSaysWhatItOwns() throws IOException {
        List<String> missing = new ArrayList<>();
        for (String module : MODULES) {
            Path root = sources(module);
            try (Stream<Path> dirs = Files.walk(root)) {
                for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                    boolean hasClasses;
                    try (Stream<Path> files = Files.list(dir)) {
                        hasClasses = files.anyMatch(f -> f.toString().endsWith(".java"));
                    }
                    if (hasClasses && !Files.exists(dir.resolve("package-info.java"))) {
                        missing.add(module + ": " + root.relativize(dir));
                    }
                }
            }
        }
        assertEquals(List.of(), missing, "packages without package-info.java");
    }

    /** Each package and the other sparseft packages its main sources refer to. */
    private static Map<String, Set<String>> uses() throws IOException {
        Map<String, Set<String>> uses = new TreeMap<>();
        for (String module : MODULES) {
            try (Stream<Path> files = Files.walk(sources(module))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                    String code = COMMENT.matcher(Files.readString(f)).replaceAll("");
                    Matcher p = PACKAGE.matcher(code);
                    if (!p.find()) {
                        continue;
                    }
                    Set<String> targets = uses.computeIfAbsent(p.group(1), k -> new TreeSet<>());
                    Matcher r = REFERENCE.matcher(code);
                    while (r.find()) {
                        String target = "org.sparseft" + r.group(1);
                        if (!target.equals(p.group(1))) {
                            targets.add(target);
                        }
                    }
                }
            }
        }
        return uses;
    }

    private static Path sources(String module) {
        Path here = Path.of("").toAbsolutePath(); // Surefire runs in the module's directory
        Path root = here.resolveSibling(module).resolve("src/main/java");
        assertTrue(Files.isDirectory(root), root + " not found");
        return root;
    }

    /** Tarjan's strongly connected components. */
    private static List<List<String>> stronglyConnected(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<List<String>> components = new ArrayList<>();
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) {
                visit(v, graph, index, low, stack, onStack, components);
            }
        }
        return components;
    }

    private static void visit(String v, Map<String, Set<String>> graph, Map<String, Integer> index,
                              Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                              List<List<String>> components) {
        index.put(v, index.size());
        low.put(v, index.get(v));
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                visit(w, graph, index, low, stack, onStack, components);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            List<String> component = new ArrayList<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            components.add(component);
        }
    }
}
