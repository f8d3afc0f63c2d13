package com.mobilestyle.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.junit.Assume.assumeFalse;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class StyleManifestTest {
    private static final String SHA = "ab".repeat(32);
    private static final String GOOD = "{\"schema\": 1, \"generator\": \"mobilestyle\", \"styles\": [{\"name\": \"candy\", "
            + "\"thumbnail\": \"candy.thumb.jpg\", \"style_sha256\": null, \"models\": [{\"file\": \"candy.tflite\", "
            + "\"format\": \"tflite\", \"bytes\": 451234, \"sha256\": \"" + SHA + "\", \"sizes\": [[256, 256], [384, 384]], "
            + "\"layout\": \"NHWC\", \"value_range\": [0, 255], \"precision\": \"fp32\", \"input_name\": \"args_0\", "
            + "\"output_name\": \"output_0\", \"signatures\": {\"256x256\": \"size_256x256\"}}]}]}";

    @Test
    public void parsesWhatTheBundlerWrites() {
        StyleManifest manifest = StyleManifest.parse(GOOD);
        assertEquals(1, manifest.stylesWith("tflite").size());
        StyleManifest.Model model = manifest.styles.get(0).model("tflite");
        assertNotNull(model);
        assertEquals(451234L, model.bytes);
        assertEquals(256, model.squareSide(300));
        assertEquals(384, model.squareSide(1000));
        assertEquals(256, model.squareSide(100));
        assertEquals("size_256x256", StyleManifest.Model.signature(256, 256));
        assertTrue(manifest.stylesWith("onnx").isEmpty());
    }

    @Test
    public void refusesFilesLeavingTheFolder() {
        for (String bad : new String[] {"../candy.tflite", "/etc/passwd", ".hidden", "a/b.tflite", "..", "a\\\\b"}) {
            expectRefused(GOOD.replace("\"candy.tflite\"", "\"" + bad + "\""));
        }
        expectRefused(GOOD.replace("\"candy.thumb.jpg\"", "\"../../x.jpg\""));
        expectRefused(GOOD.replace("\"name\": \"candy\"", "\"name\": \"../candy\""));
    }

    @Test
    public void refusesWrongRangeLayoutSchemaAndSyntax() {
        expectRefused(GOOD.replace("[0, 255]", "[-1, 1]"));
        expectRefused(GOOD.replace("\"NHWC\"", "\"NCHW\""));
        expectRefused(GOOD.replace("\"schema\": 1", "\"schema\": 2"));
        expectRefused(GOOD.replace("[[256, 256], [384, 384]]", "[[255, 255]]"));
        expectRefused(GOOD.substring(0, GOOD.length() - 2));
        expectRefused(GOOD + "x");
    }

    private static final String TILES_ENTRY = "{\"file\": \"candy.tiles.tflite\", \"format\": \"tflite\", \"bytes\": 706456, "
            + "\"sha256\": \"" + SHA + "\", \"sizes\": [[256, 256]], \"layout\": \"NHWC\", \"value_range\": [0, 255], "
            + "\"precision\": \"fp32\", \"input_name\": \"image\", \"output_name\": \"stylized\", "
            + "\"signatures\": {\"256x256\": \"size_256x256\"}, \"norm_stats_length\": 832, "
            + "\"norm_stats_input\": \"norm_stats\", \"use_given_input\": \"use_given\", \"norm_stats_output\": \"own_norm_stats\"}";

    /** GOOD with a "tiles" list (raw JSON) on its style. */
    private static String withTiles(String tiles) {
        return GOOD.replace("\"style_sha256\": null,", "\"style_sha256\": null, \"tiles\": " + tiles + ",");
    }

    /** GOOD with TILES_ENTRY changed by one replacement. */
    private static String withTilesEntry(String from, String to) {
        assertTrue(from, TILES_ENTRY.contains(from));
        return withTiles("[" + TILES_ENTRY.replace(from, to) + "]");
    }

    @Test
    public void parsesTilesFiles() {
        StyleManifest.Style plain = StyleManifest.parse(GOOD).styles.get(0);
        assertTrue(plain.tiles.isEmpty());
        assertNull(plain.tilesModel("tflite"));
        StyleManifest.Style style = StyleManifest.parse(withTiles("[" + TILES_ENTRY + "]")).styles.get(0);
        assertEquals(1, style.tiles.size());
        StyleManifest.TilesModel tiles = style.tilesModel("tflite");
        assertNotNull(tiles);
        assertNull(style.tilesModel("onnx"));
        assertEquals("candy.tiles.tflite", tiles.file);
        assertEquals(706456L, tiles.bytes);
        assertEquals(SHA, tiles.sha256);
        assertEquals(256, tiles.squareSide(512));
        assertEquals("NHWC", tiles.layout);
        assertEquals("fp32", tiles.precision);
        assertEquals("image", tiles.inputName);
        assertEquals("stylized", tiles.outputName);
        assertEquals(832, tiles.normStatsLength);
        assertEquals("norm_stats", tiles.normStatsInput);
        assertEquals("use_given", tiles.useGivenInput);
        assertEquals("own_norm_stats", tiles.normStatsOutput);
        assertEquals("candy.tflite", style.model("tflite").file); // the plain model is untouched
        assertEquals(1, style.models.size());
        // an ONNX tiles file next to it (dynamic sizes, NCHW)
        String onnx = TILES_ENTRY.replace("candy.tiles.tflite", "candy.tiles.onnx").replace("\"tflite\"", "\"onnx\"")
                .replace("[[256, 256]]", "\"dynamic\"").replace("NHWC", "NCHW");
        StyleManifest.Style both = StyleManifest.parse(withTiles("[" + TILES_ENTRY + ", " + onnx + "]")).styles.get(0);
        assertEquals("candy.tiles.onnx", both.tilesModel("onnx").file);
        assertTrue(both.tilesModel("onnx").sizes.isEmpty());
        assertEquals("candy.tiles.tflite", both.tilesModel("tflite").file);
        // an empty list is a bundle without tiles files
        assertTrue(StyleManifest.parse(withTiles("[]")).styles.get(0).tiles.isEmpty());
    }

    @Test
    public void refusesBadTilesFiles() {
        String[][] cases = {
            {"\"candy.tiles.tflite\"", "\"../candy.tiles.tflite\"", "would leave the styles folder"},
            {"\"candy.tiles.tflite\"", "\".tiles.tflite\"", "would leave the styles folder"},
            {"\"NHWC\"", "\"NCHW\"", "must be NHWC"},
            {"[0, 255]", "[0, 1]", "value range must be [0, 255]"},
            {"[[256, 256]]", "[[254, 254]]", "multiples of 4"},
            {"[[256, 256]]", "[]", "lists no size"},
            {"[[256, 256]]", "[[256, 512]]", "serves no square size"},
            {"\"sha256\": \"" + SHA + "\"", "\"sha256\": \"" + SHA.toUpperCase() + "\"", "64 hex digits"},
            {"\"sha256\": \"" + SHA + "\"", "\"sha256\": \"abc\"", "64 hex digits"},
            {"\"bytes\": 706456", "\"bytes\": \"706456\"", "bytes must be a number"},
            {"\"norm_stats_length\": 832", "\"norm_stats_length\": 0", "norm_stats_length must be a positive integer"},
            {"\"norm_stats_length\": 832", "\"norm_stats_length\": -832", "norm_stats_length must be a positive integer"},
            {"\"norm_stats_length\": 832", "\"norm_stats_length\": 832.5", "norm_stats_length must be an integer"},
            {"\"norm_stats_length\": 832", "\"norm_stats_length\": \"832\"", "norm_stats_length must be a number"},
            {"\"norm_stats_length\": 832, ", "", "norm_stats_length is missing"},
            {"\"norm_stats_input\": \"norm_stats\"", "\"norm_stats_input\": \"\"", "norm_stats_input must not be empty"},
            {"\"norm_stats_input\": \"norm_stats\", ", "", "norm_stats_input is missing"},
            {"\"use_given_input\": \"use_given\"", "\"use_given_input\": \" \"", "use_given_input must not be empty"},
            {"\"use_given_input\": \"use_given\"", "\"use_given_input\": 1", "use_given_input must be a string"},
            {"\"norm_stats_output\": \"own_norm_stats\"", "\"norm_stats_output\": \"\"", "norm_stats_output must not be empty"},
            {", \"norm_stats_output\": \"own_norm_stats\"", "", "norm_stats_output is missing"},
            {"\"input_name\": \"image\", ", "", "input_name is missing"},
            {"\"output_name\": \"stylized\"", "\"output_name\": \"\"", "output_name must not be empty"},
            {"\"use_given_input\": \"use_given\"", "\"use_given_input\": \"norm_stats\"", "must differ"},
            {"\"norm_stats_output\": \"own_norm_stats\"", "\"norm_stats_output\": \"stylized\"", "must differ"},
        };
        for (String[] c : cases) {
            String message = expectRefused(withTilesEntry(c[0], c[1]));
            assertTrue(c[1] + ": " + message, message.contains(c[2]));
        }
        String message = expectRefused(withTiles("{\"file\": \"candy.tiles.tflite\"}"));
        assertTrue(message, message.contains("candy: tiles must be an array"));
        message = expectRefused(withTiles("[\"candy.tiles.tflite\"]"));
        assertTrue(message, message.contains("must be an object"));
        message = expectRefused(withTiles("[" + TILES_ENTRY + ", " + TILES_ENTRY + "]"));
        assertTrue(message, message.contains("two tflite tiles files"));
    }

    /** GOOD with a "mix" field (raw JSON) on its style. */
    private static String withMix(String mix) {
        return GOOD.replace("\"style_sha256\": null,", "\"style_sha256\": null, \"mix\": " + mix + ",");
    }

    @Test
    public void parsesMixes() {
        StyleManifest plain = StyleManifest.parse(GOOD);
        assertNull(plain.styles.get(0).mix);
        StyleManifest mixed = StyleManifest.parse(withMix("{\"styles\": [\"starry_night\", \"candy\"], \"weight\": 0.25}"));
        StyleManifest.Mix mix = mixed.styles.get(0).mix;
        assertNotNull(mix);
        assertEquals(Arrays.asList("starry_night", "candy"), mix.styles);
        assertEquals(0.25, mix.weight, 0.0);
        assertEquals(0.25, mix.shareOf("candy"), 0.0);
        assertEquals(0.75, mix.shareOf("starry_night"), 0.0);
        assertTrue(mix.isOf("candy", "starry_night") && mix.isOf("starry_night", "candy") && !mix.isOf("candy", "wave"));
    }

    @Test
    public void refusesBadMixes() {
        String[][] cases = {
            {"null", "must be an object"},
            {"[\"a\", \"b\"]", "must be an object"},
            {"{\"weight\": 0.5}", "mix.styles must be an array"},
            {"{\"styles\": [\"a\"], \"weight\": 0.5}", "exactly 2 styles"},
            {"{\"styles\": [\"a\", \"b\", \"c\"], \"weight\": 0.5}", "exactly 2 styles"},
            {"{\"styles\": [\"a\", 3], \"weight\": 0.5}", "must be a string"},
            {"{\"styles\": [\"a\", \"../b\"], \"weight\": 0.5}", "not a plain name"},
            {"{\"styles\": [\"A\", \"b\"], \"weight\": 0.5}", "not a plain name"},
            {"{\"styles\": [\"a\", \"a\"], \"weight\": 0.5}", "two different styles"},
            {"{\"styles\": [\"a\", \"b\"]}", "mix.weight must be a number"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": \"0.5\"}", "mix.weight must be a number"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": 0}", "strictly between 0 and 1"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": 1}", "strictly between 0 and 1"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": 1.5}", "strictly between 0 and 1"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": -0.25}", "strictly between 0 and 1"},
            {"{\"styles\": [\"a\", \"b\"], \"weight\": 1e400}", "strictly between 0 and 1"},
        };
        for (String[] c : cases) {
            String message = expectRefused(withMix(c[0]));
            assertTrue(c[0] + ": " + message, message.contains(c[1]) && message.contains("candy"));
        }
    }

    private static String expectRefused(String json) {
        try {
            StyleManifest.parse(json);
            fail("accepted: " + json);
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), !expected.getMessage().isEmpty());
            return expected.getMessage();
        }
        throw new AssertionError("unreachable");
    }

    /** With -Dbundle.manifest=PATH (set by tests/test_demo_android.py): a real bundle parses and its files match. */
    @Test
    public void realBundleParsesAndHashesMatch() throws Exception {
        String configured = System.getProperty("bundle.manifest", "");
        assumeFalse("no -Dbundle.manifest given", configured.isEmpty());
        Path manifestPath = Paths.get(configured);
        StyleManifest manifest = StyleManifest.parse(new String(Files.readAllBytes(manifestPath), StandardCharsets.UTF_8));
        assertTrue("bundle has styles", !manifest.styles.isEmpty());
        for (StyleManifest.Style style : manifest.styles) {
            assertTrue(Files.isRegularFile(manifestPath.resolveSibling(style.thumbnail)));
            List<StyleManifest.Model> files = new java.util.ArrayList<>(style.models);
            files.addAll(style.tiles); // a bundle made with --tiles: its norm-statistics files too
            for (StyleManifest.Model model : files) {
                Path file = manifestPath.resolveSibling(model.file);
                assertTrue(model.file + " exists", Files.isRegularFile(file));
                assertEquals(model.file + " bytes", model.bytes, Files.size(file));
                assertEquals(model.file + " sha256", model.sha256, sha256(file));
            }
            for (StyleManifest.TilesModel tiles : style.tiles) {
                assertTrue(tiles.file + " is a norm-statistics file", tiles.normStatsLength > 0);
                if (tiles.format.equals("tflite")) {
                    assertTrue(tiles.file + " serves a square tile", tiles.squareSide(Integer.MAX_VALUE) >= 4);
                }
            }
        }
        // A bundle made with --mix-steps: every ladder runs from the picked style to its partner through bundled styles.
        Mixes mixes = Mixes.of(manifest.styles);
        for (StyleManifest.Style primary : mixes.pickable()) {
            for (StyleManifest.Style partner : mixes.partners(primary.name)) {
                List<Mixes.Point> ladder = mixes.ladder(primary.name, partner.name);
                assertTrue(primary.name + "/" + partner.name + " has a mix between its ends", ladder.size() >= 3);
                assertEquals(primary.name, ladder.get(0).style.name);
                assertEquals(partner.name, ladder.get(ladder.size() - 1).style.name);
                for (int i = 1; i < ladder.size(); i++) {
                    assertTrue(ladder + " rises", ladder.get(i).share > ladder.get(i - 1).share);
                    assertTrue(ladder.get(i).style.model("tflite") != null || ladder.get(i).style.model("onnx") != null);
                }
            }
        }
    }

    private static String sha256(Path file) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        StringBuilder hex = new StringBuilder();
        for (byte b : digest.digest()) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }
}
