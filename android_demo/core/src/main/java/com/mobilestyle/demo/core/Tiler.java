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
 * the seams but not the difference.
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
        float[] out = new float[photo.length];
        float[] total = new float[height * width];
        float[] window = new float[tile * tile * 3];
        List<Span> rows = plan(height, core, feather);
        List<Span> columns = plan(width, core, feather);
        for (Span ys : rows) {
            int top = windowStart(ys.start, height, tile, margin);
            for (Span xs : columns) {
                int left = windowStart(xs.start, width, tile, margin);
                for (int r = 0; r < tile; r++) {
                    System.arraycopy(photo, ((top + r) * width + left) * 3, window, r * tile * 3, tile * 3);
                }
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
