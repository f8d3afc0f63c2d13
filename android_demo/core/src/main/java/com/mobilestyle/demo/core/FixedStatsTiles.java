package com.mobilestyle.demo.core;

/**
 * Whole photos in tiles with one set of instance-norm statistics, through a norm-statistics file
 * ({@code NAME.tiles.tflite}, export/norm_stats.py; {@link StyleManifest.TilesModel}): pass 1 runs the photo's centre
 * crop at the tile side (mobilestyle.images.center_crop_square, {@link PilResize#centerCropSquare}) with
 * {@code use_given} 0 and reads the file's own statistics; pass 2 runs every tile of {@link Tiler}'s plan with those
 * statistics and {@code use_given} 1. The tiles then agree in tone (a plain exported file normalises each tile with
 * its own statistics, see {@link Tiler}).
 *
 * <p>Python's reference is {@code stylize_whole_photo} in export/norm_stats.py (the web demo's tile plan); this keeps
 * {@link Tiler}'s margin/feather plan, which with fixed statistics and a margin of at least 60 px matches the
 * full-frame result with the same statistics.
 */
public final class FixedStatsTiles {
    /** The two passes of a norm-statistics file on {@code tile}² NHWC float RGB windows (0..255). */
    public interface StatsModel {
        /** Pass 1 ({@code use_given} 0): the window's own statistics, the file's {@code norm_stats_length} floats. */
        float[] statistics(float[] window);

        /** Pass 2 ({@code use_given} 1): the stylized window (same size), normalised with {@code statistics}. */
        float[] run(float[] window, float[] statistics);
    }

    private FixedStatsTiles() {}

    /**
     * The pass-1 input: the centre square of {@code side}² of a {@code width} x {@code height} ARGB photo, exactly
     * as the app's centre-crop mode makes it (Pillow's Lanczos), as NHWC floats.
     */
    public static float[] centreCrop(int[] argb, int width, int height, int side) {
        return Pixels.toTensor(PilResize.centerCropSquare(argb, width, height, side));
    }

    /**
     * The statistics of pass 1 on the photo's centre crop at {@code tile}: computed once, checked (non-empty, finite).
     */
    public static float[] statistics(int[] argb, int height, int width, int tile, StatsModel model) {
        float[] statistics = model.statistics(centreCrop(argb, width, height, tile));
        if (statistics == null || statistics.length == 0) {
            throw new IllegalStateException("the norm-statistics pass returned no statistics");
        }
        for (float v : statistics) {
            if (!Float.isFinite(v)) {
                throw new IllegalStateException("the norm-statistics pass returned " + v + " in its statistics");
            }
        }
        return statistics;
    }

    /**
     * As {@link Tiler#runArgb}, every tile normalised with the statistics of the photo's centre crop at {@code tile}:
     * one call of {@link StatsModel#statistics}, then {@link Tiler#count} calls of {@link StatsModel#run} with the same
     * statistics. Photo sides, tile, margin and feather as {@link Tiler#runArgb} needs them.
     */
    public static float[] runArgb(int[] argb, int height, int width, int tile, int margin, int feather, StatsModel model) {
        if (argb.length != height * width) {
            throw new IllegalArgumentException("photo has " + argb.length + " pixels, not " + height + "x" + width);
        }
        Tiler.count(height, width, tile, margin, feather); // refuses a bad plan before pass 1 runs
        float[] statistics = statistics(argb, height, width, tile, model);
        return Tiler.runArgb(argb, height, width, tile, margin, feather, window -> model.run(window, statistics));
    }
}
