package com.mobilestyle.demo.core;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * High-resolution photos by tiles, for models with one fixed square input size: the photo is cut into overlapping
 * {@code tile}² windows, each run through the model, and the cores of neighbouring tiles are blended with linear
 * (feathered) weights, as mobilestyle/controls/tiles.py ({@code stylize_tiled}) does.
 *
 * <p>Each window is a core plus up to {@code margin} px of context on every side; cores start on multiples of 4 (the
 * nets' stride-2 phase) and overlap by at least {@code feather} px. Unlike Python, whose edge windows are smaller,
 * every window here is exactly {@code tile}² (edge windows are shifted inwards), since the exported file's
 * signature has a fixed size; the blend weights are the same as Python's.
 *
 * <p>Difference from {@code mobilestyle stylize --tile}: Python fixes every instance norm's statistics from one
 * downscaled pass over the whole photo, so tiles agree in tone. An exported file normalises each tile with that
 * tile's own instance-norm statistics, so tiles of different content can differ in tone; the feathered overlap hides
 * the seams but not the difference. A norm-statistics file ({@code mobilestyle bundle --tiles}) fixes that:
 * {@link FixedStatsTiles} runs this plan with the statistics of the photo's centre crop.
 */
public final class Tiler {
    public static final int DEFAULT_MARGIN = 64;
    public static final int DEFAULT_FEATHER = 32;

    /** The model: one {@code tile}² NHWC float RGB window in (0..255), the same size out. */
    public interface TileModel {
        float[] run(float[] window);
    }

    /** One core along one axis: its start, length and blend weights. */
    static final class Span {
        final int start;
        final int length;
        final float[] weight;

        Span(int start, int length, float[] weight) {
            this.start = start;
            this.length = length;
            this.weight = weight;
        }
    }

    private Tiler() {}

    /**
     * Runs {@code model} over {@code photo} (NHWC float RGB, {@code height} x {@code width}, sides multiples of 4 and
     * at least {@code tile}) tile by tile; returns the blended NHWC output. {@code tile}, {@code margin} and
     * {@code feather} are multiples of 4, and the core {@code tile - 2 margin} at least {@code max(2 feather, 16)}.
     */
    public static float[] run(float[] photo, int height, int width, int tile, int margin, int feather, TileModel model) {
        if (photo.length != height * width * 3) {
            throw new IllegalArgumentException("photo has " + photo.length + " values, not " + height + "x" + width + "x3");
        }
        return tiled(height, width, tile, margin, feather, model, (top, left, window) -> {
            for (int r = 0; r < tile; r++) {
                System.arraycopy(photo, ((top + r) * width + left) * 3, window, r * tile * 3, tile * 3);
            }
        });
    }

    /**
     * As {@link #run(float[], int, int, int, int, int, TileModel)} on packed ARGB pixels (Android's
     * {@code Bitmap.getPixels}), converted window by window: the same output bit for bit as
     * {@code run(Pixels.toTensor(argb), ...)}, without a float copy of the whole photo (12 bytes a pixel).
     */
    public static float[] runArgb(int[] argb, int height, int width, int tile, int margin, int feather, TileModel model) {
        if (argb.length != height * width) {
            throw new IllegalArgumentException("photo has " + argb.length + " pixels, not " + height + "x" + width);
        }
        return tiled(height, width, tile, margin, feather, model, (top, left, window) -> {
            for (int r = 0; r < tile; r++) {
                int from = (top + r) * width + left;
                for (int c = 0, j = r * tile * 3; c < tile; c++, j += 3) {
                    int p = argb[from + c];
                    window[j] = (p >> 16) & 0xFF;
                    window[j + 1] = (p >> 8) & 0xFF;
                    window[j + 2] = p & 0xFF;
                }
            }
        });
    }

    /** How many times {@code run} calls the model for this photo and these settings (for a progress display). */
    public static int count(int height, int width, int tile, int margin, int feather) {
        check(height, width, tile, margin, feather);
        int core = tile - 2 * margin;
        return plan(height, core, feather).size() * plan(width, core, feather).size();
    }

    /** The feather for a model of side {@code tile}: {@link #DEFAULT_FEATHER}, less for tiles under 128 px. */
    public static int featherFor(int tile) {
        return Math.max(4, Math.min(DEFAULT_FEATHER, tile / 16 * 4));
    }

    /**
     * The margin (context around each core) for a model of side {@code tile}: {@link #DEFAULT_MARGIN}, less where the
     * core {@code tile - 2 margin} would drop under {@code max(2 featherFor(tile), 16)}.
     */
    public static int marginFor(int tile) {
        int minCore = Math.max(2 * featherFor(tile), 16);
        return Math.max(0, Math.min(DEFAULT_MARGIN, (tile - minCore) / 2 / 4 * 4));
    }

    /**
     * The size to decode a {@code width} x {@code height} photo at for tiling: scaled down, aspect ratio kept, until its
     * long side is at most {@code maxLongSide} and it holds at most {@code maxPixels} pixels; never scaled up.
     * Returns {width, height}.
     */
    public static int[] fit(int width, int height, int maxLongSide, long maxPixels) {
        if (width < 1 || height < 1 || maxLongSide < 1 || maxPixels < 1) {
            throw new IllegalArgumentException("fit " + width + "x" + height + " into " + maxLongSide + " px, " + maxPixels + " pixels");
        }
        int longSide = Math.max(width, height);
        int shortSide = Math.min(width, height);
        int newLong = longSide;
        int newShort = shortSide;
        if (longSide > maxLongSide) {
            newLong = maxLongSide;
            newShort = (int) Math.max(1, (long) shortSide * maxLongSide / longSide);
        }
        if ((long) newLong * newShort > maxPixels) {
            double scale = Math.sqrt((double) maxPixels / ((double) longSide * shortSide));
            newLong = Math.max(1, (int) Math.floor(longSide * scale));
            newShort = Math.max(1, (int) Math.floor(shortSide * scale));
            while ((long) newLong * newShort > maxPixels) {
                if (newLong >= newShort) {
                    newLong--;
                } else {
                    newShort--;
                }
            }
        }
        return width >= height ? new int[] {newLong, newShort} : new int[] {newShort, newLong};
    }

    /** Fills {@code window} (tile² NHWC floats) with the photo's window whose top-left pixel is (top, left). */
    private interface WindowSource {
        void fill(int top, int left, float[] window);
    }

    private static void check(int height, int width, int tile, int margin, int feather) {
        if (height % 4 != 0 || width % 4 != 0 || tile % 4 != 0 || margin % 4 != 0 || feather % 4 != 0) {
            throw new IllegalArgumentException("sides, tile, margin and feather must be multiples of 4");
        }
        if (height < tile || width < tile) {
            throw new IllegalArgumentException(height + "x" + width + " is smaller than one " + tile + " px tile");
        }
        int core = tile - 2 * margin;
        if (core < Math.max(2 * feather, 16)) {
            throw new IllegalArgumentException("tile " + tile + " leaves a core of " + core + " px with margin " + margin);
        }
    }

    private static float[] tiled(int height, int width, int tile, int margin, int feather, TileModel model, WindowSource source) {
        check(height, width, tile, margin, feather);
        int core = tile - 2 * margin;
        float[] out = new float[height * width * 3];
        float[] total = new float[height * width];
        float[] window = new float[tile * tile * 3];
        List<Span> rows = plan(height, core, feather);
        List<Span> columns = plan(width, core, feather);
        for (Span ys : rows) {
            int top = windowStart(ys.start, height, tile, margin);
            for (Span xs : columns) {
                int left = windowStart(xs.start, width, tile, margin);
                source.fill(top, left, window);
                float[] result = model.run(window);
                if (result.length != window.length) {
                    throw new IllegalStateException("the model returned " + result.length + " values for " + window.length);
                }
                for (int r = 0; r < ys.length; r++) {
                    int y = ys.start + r;
                    for (int c = 0; c < xs.length; c++) {
                        int x = xs.start + c;
                        float weight = ys.weight[r] * xs.weight[c];
                        int from = ((y - top) * tile + (x - left)) * 3;
                        int to = (y * width + x) * 3;
                        for (int k = 0; k < 3; k++) {
                            out[to + k] += weight * result[from + k];
                        }
                        total[y * width + x] += weight;
                    }
                }
            }
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= total[i / 3];
        }
        return out;
    }

    /** First row (column) of the {@code tile}-wide window around a core at {@code coreStart}, inside the photo. */
    static int windowStart(int coreStart, int length, int tile, int margin) {
        return Math.min(Math.max(0, coreStart - margin), length - tile);
    }

    /** The cores along one axis with their weights (Python's {@code _axis_plan}). */
    static List<Span> plan(int length, int core, int feather) {
        core = Math.min(core, length);
        List<Integer> positions = starts(length, core, feather);
        List<Span> spans = new ArrayList<>();
        for (int i = 0; i < positions.size(); i++) {
            int s = positions.get(i);
            int before = i > 0 ? positions.get(i - 1) + core - s : 0;
            int after = i + 1 < positions.size() ? s + core - positions.get(i + 1) : 0;
            spans.add(new Span(s, core, ramp(core, Math.max(before, 0), Math.max(after, 0))));
        }
        return spans;
    }

    /** Core starts (multiples of 4) of {@code core}-px cores overlapping by at least {@code feather} px. */
    static List<Integer> starts(int length, int core, int feather) {
        TreeSet<Integer> positions = new TreeSet<>();
        if (length <= core) {
            positions.add(0);
        } else {
            for (int p = 0; p < length - core; p += core - feather) {
                positions.add(p / 4 * 4);
            }
            positions.add((length - core) / 4 * 4);
        }
        return new ArrayList<>(positions);
    }

    /** Weights of one core: linear ramps over its overlaps with the previous and next core. */
    static float[] ramp(int core, int before, int after) {
        float[] weight = new float[core];
        java.util.Arrays.fill(weight, 1f);
        for (int i = 0; i < before; i++) {
            weight[i] = ((float) i + 0.5f) / before;
        }
        for (int i = 0; i < after; i++) {
            int at = core - after + i;
            weight[at] = Math.min(weight[at], ((float) (after - i) - 0.5f) / after);
        }
        return weight;
    }
}
