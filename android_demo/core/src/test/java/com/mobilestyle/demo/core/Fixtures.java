package com.mobilestyle.demo.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;

/** Reads the golden fixtures written by `mobilestyle bundle --fixtures DIR` (mobilestyle/demo_fixtures.py). */
final class Fixtures {
    private Fixtures() {}

    static Path dir() {
        String configured = System.getProperty("fixtures.dir", "");
        return Paths.get(configured.isEmpty() ? "src/test/resources/fixtures" : configured);
    }

    static Map<String, Object> load(String name) throws IOException {
        Path path = dir().resolve(name);
        return Json.object(Json.parse(new String(Files.readAllBytes(path), StandardCharsets.UTF_8)), name);
    }

    /** First index where two pixel arrays differ, with both values, or null when equal. */
    static String firstDifference(int[] expected, int[] actual) {
        if (expected.length != actual.length) {
            return "length " + expected.length + " vs " + actual.length;
        }
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                return String.format("pixel %d: python #%08x, java #%08x", i, expected[i], actual[i]);
            }
        }
        return null;
    }
}
