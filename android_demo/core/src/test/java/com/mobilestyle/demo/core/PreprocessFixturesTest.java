package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Java's centre crop + resize and pixel -> tensor conversion equal Python's, pixel for pixel. */
public class PreprocessFixturesTest {
    @Test
    public void centreCropMatchesPythonBitForBit() throws Exception {
        Map<String, Object> fixture = Fixtures.load("preprocess.json");
        List<Object> sources = Json.array(fixture.get("sources"), "sources");
        List<Object> cases = Json.array(fixture.get("cases"), "cases");
        assertTrue("fixture has cases", cases.size() >= 4);
        int tensors = 0;
        for (Object item : cases) {
            Map<String, Object> c = Json.object(item, "case");
            Map<String, Object> source = Json.object(sources.get((int) Json.integer(c.get("source"), "source")), "source");
            int width = (int) Json.integer(source.get("width"), "width");
            int height = (int) Json.integer(source.get("height"), "height");
            int size = (int) Json.integer(c.get("size"), "size");
            int[] crop = PilResize.centerCropSquare(Json.ints(source.get("argb"), "argb"), width, height, size);
            String where = width + "x" + height + " -> " + size + ": ";
            assertNull(where + Fixtures.firstDifference(Json.ints(c.get("crop_argb"), "crop"), crop),
                    Fixtures.firstDifference(Json.ints(c.get("crop_argb"), "crop"), crop));
            if (c.containsKey("tensor_nhwc")) {
                assertArrayEquals(where + "NHWC tensor", Json.floats(c.get("tensor_nhwc"), "tensor"), Pixels.toTensor(crop), 0f);
                tensors++;
            }
        }
        assertEquals("tensor cases", sources.size(), tensors);
    }

    @Test
    public void resizeKeepsSizeUnchanged() {
        int[] argb = {0xFF010203, 0xFF040506, 0xFF070809, 0xFF0A0B0C};
        assertArrayEquals(argb, PilResize.resize(argb, 2, 2, 2, 2));
    }

    @Test(expected = IllegalArgumentException.class)
    public void resizeRefusesWrongPixelCount() {
        PilResize.resize(new int[5], 2, 2, 4, 4);
    }
}
