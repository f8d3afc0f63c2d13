package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.Map;
import org.junit.Test;

/** Keep the photo's colours equals Python's PreserveColors (float sums in another order: within 1e-3 of 0..255). */
public class KeepColorsTest {
    @Test
    public void matchesPythonPreserveColors() throws Exception {
        Map<String, Object> fixture = Fixtures.load("colors.json");
        float[] photo = Pixels.toTensor(Json.ints(fixture.get("photo_argb"), "photo"));
        float[] stylized = Json.floats(fixture.get("stylized_nhwc"), "stylized");
        float[] expected = Json.floats(fixture.get("kept_nhwc"), "kept");
        assertEquals(Json.integer(fixture.get("height"), "h") * Json.integer(fixture.get("width"), "w") * 3, expected.length);
        assertArrayEquals(expected, KeepColors.apply(photo, stylized), 1e-3f);
    }

    @Test
    public void keepsChromaAndTakesLuma() {
        float[] photo = {200f, 40f, 90f};
        float[] stylized = {10f, 120f, 30f};
        float[] kept = KeepColors.apply(photo, stylized);
        float luma = 0.299f * 10f + 0.587f * 120f + 0.114f * 30f;
        assertEquals(luma, 0.299f * kept[0] + 0.587f * kept[1] + 0.114f * kept[2], 1e-3f);
        assertEquals(photo[0] - photo[1], kept[0] - kept[1], 1e-3f); // same shift on every channel: chroma kept
        assertEquals(photo[1] - photo[2], kept[1] - kept[2], 1e-3f);
    }

    @Test
    public void clampsToByteRange() {
        float[] kept = KeepColors.apply(new float[] {250f, 10f, 128f}, new float[] {255f, 255f, 255f});
        assertEquals(255f, kept[0], 0f);
        assertEquals(Pixels.MAX_VALUE, Math.max(kept[1], Math.max(kept[0], kept[2])), 0f);
    }

    @Test
    public void argbVersionEqualsTheFloatPathBitForBit() throws Exception {
        Map<String, Object> fixture = Fixtures.load("colors.json");
        int[] photo = Json.ints(fixture.get("photo_argb"), "photo");
        float[] stylized = Json.floats(fixture.get("stylized_nhwc"), "stylized");
        assertArrayEquals(Pixels.toArgb(KeepColors.apply(Pixels.toTensor(photo), stylized)), KeepColors.toArgb(photo, stylized));
        java.util.Random random = new java.util.Random(7);
        int[] many = new int[5000];
        float[] out = new float[many.length * 3];
        for (int i = 0; i < many.length; i++) {
            many[i] = 0xFF000000 | random.nextInt(1 << 24);
        }
        for (int j = 0; j < out.length; j++) {
            out[j] = random.nextFloat() * 320f - 30f; // beyond 0..255 as a net's output can be
        }
        out[0] = Float.NaN;
        assertArrayEquals(Pixels.toArgb(KeepColors.apply(Pixels.toTensor(many), out)), KeepColors.toArgb(many, out));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesDifferentSizes() {
        KeepColors.apply(new float[3], new float[6]);
    }
}
