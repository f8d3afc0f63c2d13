package com.mobilestyle.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The manifest.json that {@code mobilestyle bundle} writes into assets/styles/ (schema 1): styles, each with a
 * thumbnail and its model files. Parsing validates everything the app relies on, so a bad bundle is one clear
 * message instead of a crash: file names stay inside the folder, the value range is 0..255, TFLite is NHWC.
 *
 * <p>A style may be a mix of two others ({@code mobilestyle bundle --mix-steps N}): an ordinary entry with one more
 * field, {@code "mix": {"styles": ["starry_night", "candy"], "weight": 0.25}}, the weight being the second style's
 * share. {@link Mixes} turns those entries into the app's ladders.
 */
public final class StyleManifest {
    public static final int SCHEMA = 1;
    private static final Pattern SAFE_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern SAFE_FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

    public final List<Style> styles;

    private StyleManifest(List<Style> styles) {
        this.styles = Collections.unmodifiableList(styles);
    }

    /** One model file of a style. */
    public static final class Model {
        public final String file;
        public final String format;
        public final long bytes;
        public final String sha256;
        /** Square or not, [height, width] pairs this file serves; empty when its sizes are dynamic (ONNX). */
        public final List<int[]> sizes;
        public final String layout;
        public final String precision;

        Model(String file, String format, long bytes, String sha256, List<int[]> sizes, String layout, String precision) {
            this.file = file;
            this.format = format;
            this.bytes = bytes;
            this.sha256 = sha256;
            this.sizes = Collections.unmodifiableList(sizes);
            this.layout = layout;
            this.precision = precision;
        }

        /** The largest square side this model serves that is at most {@code maxSide} (else the smallest one). */
        public int squareSide(int maxSide) {
            int best = -1;
            int smallest = Integer.MAX_VALUE;
            for (int[] hw : sizes) {
                if (hw[0] != hw[1]) {
                    continue;
                }
                smallest = Math.min(smallest, hw[0]);
                if (hw[0] <= maxSide && hw[0] > best) {
                    best = hw[0];
                }
            }
            if (best > 0) {
                return best;
            }
            if (smallest == Integer.MAX_VALUE) {
                throw new IllegalArgumentException(file + " serves no square size");
            }
            return smallest;
        }

        /** The TFLite signature key for a side, as mobilestyle.runtimes names it. */
        public static String signature(int height, int width) {
            return "size_" + height + "x" + width;
        }
    }

    /** The "mix" field of a mixed style: two other styles and the second one's share (0 < weight < 1). */
    public static final class Mix {
        /** The two styles' names, distinct plain names (the first has share {@code 1 - weight}). */
        public final List<String> styles;
        /** The second style's share, strictly between 0 and 1. */
        public final double weight;

        Mix(String first, String second, double weight) {
            this.styles = Collections.unmodifiableList(java.util.Arrays.asList(first, second));
            this.weight = weight;
        }

        /** Whether this mix is of exactly {@code a} and {@code b}, in either order. */
        public boolean isOf(String a, String b) {
            return (styles.get(0).equals(a) && styles.get(1).equals(b)) || (styles.get(0).equals(b) && styles.get(1).equals(a));
        }

        /** {@code partner}'s share in this mix (one of its two styles). */
        public double shareOf(String partner) {
            if (styles.get(1).equals(partner)) {
                return weight;
            }
            if (styles.get(0).equals(partner)) {
                return 1.0 - weight;
            }
            throw new IllegalArgumentException(partner + " is not in the mix of " + styles);
        }
    }

    /** One style: name, thumbnail file, models by format, and the mix it is (null for a plain style). */
    public static final class Style {
        public final String name;
        public final String thumbnail;
        public final List<Model> models;
        public final Mix mix;

        Style(String name, String thumbnail, List<Model> models, Mix mix) {
            this.name = name;
            this.thumbnail = thumbnail;
            this.models = Collections.unmodifiableList(models);
            this.mix = mix;
        }

        /** The model of a format ("tflite", "onnx"), or null. */
        public Model model(String format) {
            for (Model m : models) {
                if (m.format.equals(format)) {
                    return m;
                }
            }
            return null;
        }
    }

    public static StyleManifest parse(String json) {
        Map<String, Object> root = Json.object(Json.parse(json), "manifest");
        long schema = Json.integer(root.get("schema"), "schema");
        if (schema != SCHEMA) {
            throw new IllegalArgumentException("manifest schema " + schema + " is not supported (this app reads " + SCHEMA + ")");
        }
        List<Style> styles = new ArrayList<>();
        for (Object item : Json.array(root.get("styles"), "styles")) {
            styles.add(parseStyle(Json.object(item, "style")));
        }
        return new StyleManifest(styles);
    }

    /** The styles that have a model of {@code format} (the app asks for "tflite"). */
    public List<Style> stylesWith(String format) {
        List<Style> out = new ArrayList<>();
        for (Style s : styles) {
            if (s.model(format) != null) {
                out.add(s);
            }
        }
        return out;
    }

    private static Style parseStyle(Map<String, Object> obj) {
        String name = Json.string(obj.get("name"), "style name");
        if (!SAFE_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("style name '" + name + "' is not a plain name");
        }
        String thumbnail = obj.get("thumbnail") == null ? null : safeFile(Json.string(obj.get("thumbnail"), "thumbnail"));
        List<Model> models = new ArrayList<>();
        for (Object item : Json.array(obj.get("models"), name + ".models")) {
            models.add(parseModel(name, Json.object(item, name + " model")));
        }
        if (models.isEmpty()) {
            throw new IllegalArgumentException("style " + name + " lists no model");
        }
        Mix mix = obj.containsKey("mix") ? parseMix(name, obj.get("mix")) : null;
        return new Style(name, thumbnail, models, mix);
    }

    /** A style's "mix" field: exactly two distinct plain names and a finite weight strictly between 0 and 1. */
    static Mix parseMix(String style, Object value) {
        Map<String, Object> obj = Json.object(value, "style " + style + ": mix");
        List<Object> names = Json.array(obj.get("styles"), "style " + style + ": mix.styles");
        if (names.size() != 2) {
            throw new IllegalArgumentException("style " + style + ": mix.styles must name exactly 2 styles, not " + names.size());
        }
        String first = Json.string(names.get(0), "style " + style + ": mix.styles[0]");
        String second = Json.string(names.get(1), "style " + style + ": mix.styles[1]");
        for (String name : new String[] {first, second}) {
            if (!SAFE_NAME.matcher(name).matches()) {
                throw new IllegalArgumentException("style " + style + ": mix style '" + name + "' is not a plain name");
            }
        }
        if (first.equals(second)) {
            throw new IllegalArgumentException("style " + style + ": a mix needs two different styles, not " + first + " twice");
        }
        double weight = Json.number(obj.get("weight"), "style " + style + ": mix.weight");
        if (!(Double.isFinite(weight) && weight > 0.0 && weight < 1.0)) {
            throw new IllegalArgumentException("style " + style + ": mix.weight must be strictly between 0 and 1, not " + weight);
        }
        return new Mix(first, second, weight);
    }

    private static Model parseModel(String style, Map<String, Object> obj) {
        String file = safeFile(Json.string(obj.get("file"), style + ".file"));
        String format = Json.string(obj.get("format"), file + ".format");
        String layout = Json.string(obj.get("layout"), file + ".layout");
        if (format.equals("tflite") && !layout.equals("NHWC")) {
            throw new IllegalArgumentException(file + ": TFLite models must be NHWC, not " + layout);
        }
        float[] range = Json.floats(obj.get("value_range"), file + ".value_range");
        if (range.length != 2 || range[0] != Pixels.MIN_VALUE || range[1] != Pixels.MAX_VALUE) {
            throw new IllegalArgumentException(file + ": value range must be [0, 255]");
        }
        List<int[]> sizes = new ArrayList<>();
        Object rawSizes = obj.get("sizes");
        if (!"dynamic".equals(rawSizes)) {
            for (Object hw : Json.array(rawSizes, file + ".sizes")) {
                int[] pair = Json.ints(hw, file + ".sizes");
                if (pair.length != 2 || pair[0] < 4 || pair[1] < 4 || pair[0] % 4 != 0 || pair[1] % 4 != 0) {
                    throw new IllegalArgumentException(file + ": sizes must be [height, width] pairs, multiples of 4");
                }
                sizes.add(pair);
            }
            if (sizes.isEmpty()) {
                throw new IllegalArgumentException(file + " lists no size");
            }
        }
        long bytes = Json.integer(obj.get("bytes"), file + ".bytes");
        String sha = Json.string(obj.get("sha256"), file + ".sha256");
        if (!sha.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException(file + ": sha256 must be 64 hex digits");
        }
        String precision = Json.string(obj.get("precision"), file + ".precision");
        return new Model(file, format, bytes, sha, sizes, layout, precision);
    }

    /** A file name inside the styles folder: no separators, no leading dot (so never "." or ".."). */
    static String safeFile(String name) {
        if (!SAFE_FILE.matcher(name).matches()) {
            throw new IllegalArgumentException("file name '" + name + "' would leave the styles folder");
        }
        return name;
    }
}
