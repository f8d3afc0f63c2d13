package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.Test;

/**
 * The two-pass plan of a norm-statistics file with a fake model: statistics = the per-channel mean of the pass-1
 * window, a tile's output = window * 0.5 + statistics (per channel). The statistics must come once, from the photo's
 * centre crop (Pillow's Lanczos, as the app's centre-crop mode), and reach every tile unchanged.
 */
public class FixedStatsTilesTest {
    private static final int HEIGHT = 92;
    private static final int WIDTH = 140;
    private static final int TILE = 48;
    private static final int MARGIN = 8;
    private static final int FEATHER = 8;

    /** Left-to-right and top-to-bottom curves (so the centre crop's mean is neither the photo's nor a corner's), noise. */
    private static int[] photo() {
        Random random = new Random(7);
        int[] argb = new int[HEIGHT * WIDTH];
        for (int y = 0; y < HEIGHT; y++) {
            for (int x = 0; x < WIDTH; x++) {
                int r = (int) (255.0 * x * x / ((WIDTH - 1) * (WIDTH - 1)));
                int g = Math.min(255, (int) (255.0 * y / (HEIGHT - 1)) + random.nextInt(8));
                int b = random.nextInt(256);
                argb[y * WIDTH + x] = Pixels.pack(r, g, b);
            }
        }
        return argb;
    }

    private static float[] channelMeans(float[] window) {
        double[] sums = new double[3];
        for (int i = 0; i < window.length; i++) {
            sums[i % 3] += window[i];
        }
        int pixels = window.length / 3;
        return new float[] {(float) (sums[0] / pixels), (float) (sums[1] / pixels), (float) (sums[2] / pixels)};
    }

    private static float[] halfPlus(float[] window, float[] statistics) {
        float[] out = new float[window.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = window[i] * 0.5f + statistics[i % 3];
        }
        return out;
    }

    /** The fake norm-statistics file, recording its calls. */
    private static final class FakeFile implements FixedStatsTiles.StatsModel {
        final List<float[]> statisticsInputs = new ArrayList<>();
        final List<float[]> statisticsGiven = new ArrayList<>();
        float[] returned;
        boolean tileBeforeStatistics;

        @Override
        public float[] statistics(float[] window) {
            statisticsInputs.add(window.clone());
            returned = channelMeans(window);
            return returned;
        }

        @Override
        public float[] run(float[] window, float[] statistics) {
            tileBeforeStatistics |= statisticsInputs.isEmpty();
            statisticsGiven.add(statistics);
            return halfPlus(window, statistics);
        }
    }

    @Test
    public void statisticsComeOnceFromTheCentreCropAndReachEveryTile() {
        int[] argb = photo();
        FakeFile file = new FakeFile();
        float[] out = FixedStatsTiles.runArgb(argb, HEIGHT, WIDTH, TILE, MARGIN, FEATHER, file);

        // Pass 1: once, on exactly the crop of the app's centre-crop mode (PilResize, the tile side), before any tile.
        assertEquals(1, file.statisticsInputs.size());
        float[] crop = Pixels.toTensor(PilResize.centerCropSquare(argb, WIDTH, HEIGHT, TILE));
        assertArrayEquals(crop, file.statisticsInputs.get(0), 0f);
        assertTrue("no tile ran before the statistics", !file.tileBeforeStatistics);
        float[] expectedStats = channelMeans(crop);

        // The centre crop's statistics differ from the whole photo's and from the top-left tile's: the test can tell.
        float[] whole = channelMeans(Pixels.toTensor(argb));
        float[] corner = channelMeans(Pixels.toTensor(Pixels.crop(argb, WIDTH, 0, 0, TILE, TILE)));
        assertTrue(Math.abs(expectedStats[0] - whole[0]) > 5f && Math.abs(expectedStats[0] - corner[0]) > 5f);

        // Pass 2: every tile of Tiler's plan, each with the same statistics.
        int count = Tiler.count(HEIGHT, WIDTH, TILE, MARGIN, FEATHER);
        assertTrue("several tiles", count > 6);
        assertEquals(count, file.statisticsGiven.size());
        for (float[] given : file.statisticsGiven) {
            assertSame(file.returned, given);
            assertArrayEquals(expectedStats, given, 0f);
        }

        // Per pixel, the fake is photo * 0.5 + the crop's means, whatever the blend weights.
        float[] tensor = Pixels.toTensor(argb);
        float[] expected = halfPlus(tensor, expectedStats);
        assertArrayEquals(expected, out, 1e-3f);

        // The same as Tiler.runArgb with the statistics fixed by hand, bit for bit.
        float[] byHand = Tiler.runArgb(argb, HEIGHT, WIDTH, TILE, MARGIN, FEATHER, window -> halfPlus(window, expectedStats));
        assertArrayEquals(byHand, out, 0f);
    }

    @Test
    public void perTileStatisticsWouldDiffer() {
        int[] argb = photo();
        float[] fixed = FixedStatsTiles.runArgb(argb, HEIGHT, WIDTH, TILE, MARGIN, FEATHER, new FakeFile());
        float[] perTile = Tiler.runArgb(argb, HEIGHT, WIDTH, TILE, MARGIN, FEATHER, window -> halfPlus(window, channelMeans(window)));
        float worst = 0f;
        for (int i = 0; i < fixed.length; i++) {
            worst = Math.max(worst, Math.abs(fixed[i] - perTile[i]));
        }
        assertTrue("per-tile statistics change the tone: " + worst, worst > 10f);
    }

    @Test
    public void refusesABadPlanBeforePassOne() {
        FakeFile file = new FakeFile();
        try {
            FixedStatsTiles.runArgb(new int[40 * 40], 40, 40, TILE, MARGIN, FEATHER, file);
            fail("a photo smaller than a tile was accepted");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("smaller than one 48 px tile"));
        }
        try {
            FixedStatsTiles.runArgb(new int[HEIGHT * WIDTH - 1], HEIGHT, WIDTH, TILE, MARGIN, FEATHER, file);
            fail("the wrong number of pixels was accepted");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("pixels"));
        }
        assertTrue(file.statisticsInputs.isEmpty());
    }

    @Test
    public void refusesMissingOrNonFiniteStatistics() {
        float[][] bad = {null, new float[0], {1f, Float.NaN, 2f}, {Float.POSITIVE_INFINITY}};
        for (float[] statistics : bad) {
            int[] tiles = {0};
            FixedStatsTiles.StatsModel file = new FixedStatsTiles.StatsModel() {
                @Override
                public float[] statistics(float[] window) {
                    return statistics;
                }

                @Override
                public float[] run(float[] window, float[] given) {
                    tiles[0]++;
                    return window;
                }
            };
            try {
                FixedStatsTiles.runArgb(photo(), HEIGHT, WIDTH, TILE, MARGIN, FEATHER, file);
                fail("accepted statistics " + java.util.Arrays.toString(statistics));
            } catch (IllegalStateException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("statistics"));
            }
            assertEquals(0, tiles[0]);
        }
    }
}
