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

    @Test(expected = IllegalArgumentException.class)
    public void refusesPhotoSmallerThanATile() {
        Tiler.run(new float[40 * 40 * 3], 40, 40, 48, 8, 8, window -> window);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesSidesNotMultiplesOf4() {
        Tiler.run(new float[50 * 48 * 3], 50, 48, 48, 8, 8, window -> window);
    }
}
