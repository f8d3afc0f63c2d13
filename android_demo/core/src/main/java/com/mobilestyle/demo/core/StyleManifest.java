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
 *
 * <p>A style may also list {@code "tiles"} ({@code mobilestyle bundle --tiles}): norm-statistics files
 * (export/norm_stats.py), model entries with four more fields, {@code "norm_stats_length": K,
 * "norm_stats_input": "norm_stats", "use_given_input": "use_given", "norm_stats_output": "own_norm_stats"}. They run
 * whole photos in tiles with one set of instance-norm statistics ({@link FixedStatsTiles}).
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
    public static class Model {
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

    /**
     * One norm-statistics file of a style (an entry of its "tiles" list): inputs {@link #inputName} (the image),
     * {@link #normStatsInput} (1 x {@link #normStatsLength} float32) and {@link #useGivenInput} (1 x 1: 0 or 1);
     * outputs {@link #outputName} (the image) and {@link #normStatsOutput} (1 x {@link #normStatsLength}).
     * Pass 1 ({@code use_given} 0) gives a picture's own statistics, pass 2 ({@code use_given} 1) normalises a tile
     * with the statistics given.
     */
    public static final class TilesModel extends Model {
        public final String inputName;
        public final String outputName;
        /** K: every instance norm's channel means, then its channel variances, in order (832 for the 8-base net). */
        public final int normStatsLength;
        public final String normStatsInput;
        public final String useGivenInput;
        public final String normStatsOutput;

        TilesModel(Model model, String inputName, String outputName, int normStatsLength, String normStatsInput,
                String useGivenInput, String normStatsOutput) {
            super(model.file, model.format, model.bytes, model.sha256, model.sizes, model.layout, model.precision);
            this.inputName = inputName;
            this.outputName = outputName;
            this.normStatsLength = normStatsLength;
            this.normStatsInput = normStatsInput;
            this.useGivenInput = useGivenInput;
            this.normStatsOutput = normStatsOutput;
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

    /**
     * One style: name, thumbnail file, models by format, its norm-statistics files by format (empty without
     * {@code --tiles}) and the mix it is (null for a plain style).
     */
    public static final class Style {
        public final String name;
        public final String thumbnail;
        public final List<Model> models;
        public final List<TilesModel> tiles;
        public final Mix mix;

        Style(String name, String thumbnail, List<Model> models, List<TilesModel> tiles, Mix mix) {
            this.name = name;
            this.thumbnail = thumbnail;
            this.models = Collections.unmodifiableList(models);
            this.tiles = Collections.unmodifiableList(tiles);
            this.mix = mix;
        }

        /** The norm-statistics file of a format ("tflite", "onnx"), or null (a bundle made without --tiles). */
        public TilesModel tilesModel(String format) {
            for (TilesModel m : tiles) {
                if (m.format.equals(format)) {
                    return m;
                }
            }
            return null;
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
        List<TilesModel> tiles = new ArrayList<>();
        if (obj.containsKey("tiles")) {
            for (Object item : Json.array(obj.get("tiles"), "style " + name + ": tiles")) {
                TilesModel model = parseTilesModel(name, Json.object(item, "style " + name + ": tiles entry"));
                if (tiles.stream().anyMatch(m -> m.format.equals(model.format))) {
                    throw new IllegalArgumentException("style " + name + " lists two " + model.format + " tiles files");
                }
                tiles.add(model);
            }
        }
        Mix mix = obj.containsKey("mix") ? parseMix(name, obj.get("mix")) : null;
        return new Style(name, thumbnail, models, tiles, mix);
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

    /**
     * One entry of a style's "tiles" list: a model entry (validated as one) plus the norm-statistics fields. A TFLite
     * file must serve a square size (its one signature {@code size_<S>x<S>}); the five tensor names are non-empty and
     * the inputs (and outputs) distinct.
     */
    static TilesModel parseTilesModel(String style, Map<String, Object> obj) {
        Model model = parseModel(style, obj);
        String where = "style " + style + ": tiles file " + model.file;
        if (model.format.equals("tflite") && model.sizes.stream().noneMatch(hw -> hw[0] == hw[1])) {
            throw new IllegalArgumentException(where + " serves no square size (it has one signature size_<S>x<S>)");
        }
        if (!obj.containsKey("norm_stats_length")) {
            throw new IllegalArgumentException(where + ": norm_stats_length is missing");
        }
        long length = Json.integer(obj.get("norm_stats_length"), where + ": norm_stats_length");
        if (length < 1 || length > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException(where + ": norm_stats_length must be a positive integer, not " + length);
        }
        String input = tensorName(obj, "input_name", where);
        String output = tensorName(obj, "output_name", where);
        String statsInput = tensorName(obj, "norm_stats_input", where);
        String useInput = tensorName(obj, "use_given_input", where);
        String statsOutput = tensorName(obj, "norm_stats_output", where);
        if (input.equals(statsInput) || input.equals(useInput) || statsInput.equals(useInput)) {
            throw new IllegalArgumentException(where + ": input_name, norm_stats_input and use_given_input must differ, not "
                    + input + ", " + statsInput + ", " + useInput);
        }
        if (output.equals(statsOutput)) {
            throw new IllegalArgumentException(where + ": output_name and norm_stats_output must differ, not " + output + " twice");
        }
        return new TilesModel(model, input, output, (int) length, statsInput, useInput, statsOutput);
    }

    private static String tensorName(Map<String, Object> obj, String key, String where) {
        if (!obj.containsKey(key)) {
            throw new IllegalArgumentException(where + ": " + key + " is missing");
        }
        String name = Json.string(obj.get(key), where + ": " + key);
        if (name.trim().isEmpty()) {
            throw new IllegalArgumentException(where + ": " + key + " must not be empty");
        }
        return name;
    }

    /** A file name inside the styles folder: no separators, no leading dot (so never "." or ".."). */
    static String safeFile(String name) {
        if (!SAFE_FILE.matcher(name).matches()) {
            throw new IllegalArgumentException("file name '" + name + "' would leave the styles folder");
        }
        return name;
    }
}
