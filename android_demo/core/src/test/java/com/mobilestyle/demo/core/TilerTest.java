package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/** The tiler: an identity model gives the photo back, seams are blended with Python's feathered weights. */
public class TilerTest {
    private static float[] photo(int height, int width, long seed) {
        Random random = new Random(seed);
        float[] values = new float[height * width * 3];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextInt(256);
        }
        return values;
    }

    @Test
    public void identityModelReproducesThePhoto() {
        int height = 100;
        int width = 148;
        float[] photo = photo(height, width, 1);
        int[] calls = {0};
        float[] out = Tiler.run(photo, height, width, 48, 8, 8, window -> {
            calls[0]++;
            return window.clone();
        });
        assertTrue("several tiles per axis", calls[0] > 9);
        assertArrayEquals(photo, out, 1e-4f);
        assertNull(Fixtures.firstDifference(Pixels.toArgb(photo), Pixels.toArgb(out)));
    }

    @Test
    public void perPixelModelIsUnchangedByTiling() {
        float[] photo = photo(64, 96, 2);
        Tiler.TileModel invert = window -> {
            float[] out = new float[window.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = 255f - window[i];
            }
            return out;
        };
        float[] out = Tiler.run(photo, 64, 96, 32, 4, 8, invert);
        assertArrayEquals(invert.run(photo), out, 1e-4f);
    }

    @Test
    public void seamsBlendLikePython() throws Exception {
        List<Object> cases = Json.array(Fixtures.load("tiles.json").get("cases"), "cases");
        assertEquals(3, cases.size());
        for (Object item : cases) {
            Map<String, Object> c = Json.object(item, "case");
            int height = (int) Json.integer(c.get("height"), "height");
            int width = (int) Json.integer(c.get("width"), "width");
            int tile = (int) Json.integer(c.get("tile"), "tile");
            float[] expected = Json.floats(c.get("tile_index_blend"), "blend");
            int[] index = {0};
            float[] out = Tiler.run(photo(height, width, 3), height, width, tile,
                    (int) Json.integer(c.get("margin"), "margin"), (int) Json.integer(c.get("feather"), "feather"),
                    window -> {
                        float[] constant = new float[window.length];
                        java.util.Arrays.fill(constant, index[0]++);
                        return constant;
                    });
            float[] channel = new float[height * width];
            for (int k = 0; k < 3; k++) {
                for (int i = 0; i < channel.length; i++) {
                    channel[i] = out[i * 3 + k];
                }
                assertArrayEquals(height + "x" + width + " tile " + tile, expected, channel, 1e-5f);
            }
            boolean blended = false;
            for (float v : expected) {
                blended |= v != Math.rint(v);
            }
            assertTrue("the fixture has seams where tiles mix", blended);
        }
    }

    @Test
    public void windowsStayInsideThePhoto() {
        assertEquals(0, Tiler.windowStart(0, 100, 48, 8));
        assertEquals(16, Tiler.windowStart(24, 100, 48, 8));
        assertEquals(52, Tiler.windowStart(68, 100, 48, 8));
    }

    private static int[] argbPhoto(int height, int width, long seed) {
        Random random = new Random(seed);
        int[] argb = new int[height * width];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = 0xFF000000 | random.nextInt(1 << 24);
        }
        return argb;
    }

    @Test
    public void argbInputGivesTheSameOutputBitForBit() {
        int height = 92;
        int width = 124;
        int[] argb = argbPhoto(height, width, 4);
        Tiler.TileModel model = window -> {
            float[] out = new float[window.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = window[i] * 0.7f + (i % 3) * 11.3f - 20f; // per-pixel, not idempotent, leaves 0..255 too
            }
            return out;
        };
        int[] calls = {0};
        float[] fromArgb = Tiler.runArgb(argb, height, width, 48, 8, 8, window -> {
            calls[0]++;
            return model.run(window);
        });
        float[] fromFloats = Tiler.run(Pixels.toTensor(argb), height, width, 48, 8, 8, model);
        assertArrayEquals(fromFloats, fromArgb, 0f);
        assertEquals(calls[0], Tiler.count(height, width, 48, 8, 8));
        assertEquals(4, Tiler.count(48, 48, 48, 8, 8)); // one window's size, but its 32 px cores overlap: 2 x 2
    }

    @Test
    public void marginAndFeatherFitEveryModelSide() {
        assertEquals(Tiler.DEFAULT_MARGIN, Tiler.marginFor(256));
        assertEquals(Tiler.DEFAULT_FEATHER, Tiler.featherFor(256));
        assertEquals(Tiler.DEFAULT_MARGIN, Tiler.marginFor(512));
        for (int tile = 16; tile <= 1024; tile += 4) {
            int margin = Tiler.marginFor(tile);
            int feather = Tiler.featherFor(tile);
            assertTrue(tile + ": " + margin + ", " + feather, margin >= 0 && feather >= 4 && feather <= Tiler.DEFAULT_FEATHER);
            // accepted by the tiler on a photo of one tile and of several
            assertTrue(Tiler.count(tile, tile, tile, margin, feather) >= 1);
            assertTrue(Tiler.count(tile * 3, tile + 4, tile, margin, feather) > Tiler.count(tile, tile, tile, margin, feather));
        }
        int[] calls = {0};
        float[] photo = photo(64, 80, 5);
        float[] out = Tiler.run(photo, 64, 80, 16, Tiler.marginFor(16), Tiler.featherFor(16), window -> {
            calls[0]++;
            return window.clone();
        });
        assertArrayEquals(photo, out, 1e-4f);
        assertEquals(calls[0], Tiler.count(64, 80, 16, Tiler.marginFor(16), Tiler.featherFor(16)));
    }

    @Test
    public void fitsPhotosUnderTheCaps() {
        assertArrayEquals(new int[] {4000, 3000}, Tiler.fit(4000, 3000, 4096, 20_000_000L));
        assertArrayEquals(new int[] {4096, 3072}, Tiler.fit(8000, 6000, 4096, 20_000_000L));
        assertArrayEquals(new int[] {3072, 4096}, Tiler.fit(6000, 8000, 4096, 20_000_000L));
        int[] byPixels = Tiler.fit(8000, 6000, 4096, 3_000_000L);
        assertTrue(byPixels[0] + "x" + byPixels[1], (long) byPixels[0] * byPixels[1] <= 3_000_000L);
        assertTrue(byPixels[0] + "x" + byPixels[1], (long) byPixels[0] * byPixels[1] > 2_990_000L);
        assertEquals(4.0 / 3.0, (double) byPixels[0] / byPixels[1], 1e-3);
        assertArrayEquals(new int[] {4096, 1}, Tiler.fit(100_000, 10, 4096, 20_000_000L));
        assertArrayEquals(new int[] {300, 200}, Tiler.fit(300, 200, 4096, 60_000L)); // exactly at the cap: kept
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesArgbOfTheWrongSize() {
        Tiler.runArgb(new int[48 * 48 - 1], 48, 48, 48, 8, 8, window -> window);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesPhotoSmallerThanATile() {
        Tiler.run(new float[40 * 40 * 3], 40, 40, 48, 8, 8, window -> window);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesSidesNotMultiplesOf4() {
        Tiler.run(new float[50 * 48 * 3], 50, 48, 48, 8, 8, window -> window);
    }
}
