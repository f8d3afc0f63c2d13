package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/**
 * Keep the photo's detail equals Python's KeepDetail (detail.json: the real module on a non-square picture, values
 * out of range, two amounts, and nested in PreserveColors as the CLI nests them). Float sums in another order than
 * PyTorch's convolutions: within 1e-3 of 0..255, like KeepColorsTest.
 */
public class KeepDetailTest {
    private static final float TOLERANCE = 1e-3f;

    @Test
    public void kernelIsPythons() throws Exception {
        Map<String, Object> fixture = Fixtures.load("detail.json");
        float[] expected = Json.floats(fixture.get("kernel"), "kernel");
        assertEquals(7, expected.length);
        assertArrayEquals(expected, KeepDetail.kernel(Json.number(fixture.get("sigma"), "sigma")), 1e-7f);
        assertEquals(KeepDetail.DEFAULT_SIGMA, Json.number(fixture.get("sigma"), "sigma"), 0.0);
    }

    @Test
    public void lumaDetailMatchesPython() throws Exception {
        Map<String, Object> fixture = Fixtures.load("detail.json");
        int height = (int) Json.integer(fixture.get("height"), "h");
        int width = (int) Json.integer(fixture.get("width"), "w");
        int[] photo = Json.ints(fixture.get("photo_argb"), "photo");
        float[] expected = Json.floats(fixture.get("detail"), "detail");
        assertEquals(height * width, expected.length);
        assertArrayEquals(expected, KeepDetail.lumaDetail(Pixels.toTensor(photo), height, width), TOLERANCE);
        // the packed-pixel form is the float form, bit for bit
        assertArrayEquals(KeepDetail.lumaDetail(Pixels.toTensor(photo), height, width), KeepDetail.lumaDetail(photo, height, width), 0f);
    }

    @Test
    public void matchesPythonKeepDetailAndItsCompositionWithPreserveColors() throws Exception {
        Map<String, Object> fixture = Fixtures.load("detail.json");
        int height = (int) Json.integer(fixture.get("height"), "h");
        int width = (int) Json.integer(fixture.get("width"), "w");
        assertTrue(height != width);
        float[] photo = Pixels.toTensor(Json.ints(fixture.get("photo_argb"), "photo"));
        float[] stylized = Json.floats(fixture.get("stylized_nhwc"), "stylized");
        List<Object> cases = Json.array(fixture.get("cases"), "cases");
        assertEquals(2, cases.size());
        int clampedByDetail = 0;
        for (Object item : cases) {
            Map<String, Object> c = Json.object(item, "case");
            float amount = (float) Json.number(c.get("amount"), "amount");
            float[] expected = Json.floats(c.get("kept_nhwc"), "kept");
            float[] actual = KeepDetail.apply(photo, stylized, height, width, amount);
            assertArrayEquals("amount " + amount, expected, actual, TOLERANCE);
            // detail first, then colours: PreserveColors(KeepDetail(net))
            float[] both = Json.floats(c.get("with_colors_nhwc"), "with colors");
            assertArrayEquals("amount " + amount + " with colours", both, KeepColors.apply(photo, actual), TOLERANCE);
            for (int j = 0; j < stylized.length; j++) {
                boolean inside = stylized[j] > 0f && stylized[j] < 255f;
                if (inside && (expected[j] == 0f || expected[j] == 255f)) {
                    clampedByDetail++;
                }
            }
        }
        assertTrue("the fixture must exercise the clamp", clampedByDetail > 0);
    }

    @Test
    public void theOrderMatters() throws Exception {
        // colours then detail is another picture: the fixture's composition can tell the two orders apart
        Map<String, Object> fixture = Fixtures.load("detail.json");
        int height = (int) Json.integer(fixture.get("height"), "h");
        int width = (int) Json.integer(fixture.get("width"), "w");
        float[] photo = Pixels.toTensor(Json.ints(fixture.get("photo_argb"), "photo"));
        float[] stylized = Json.floats(fixture.get("stylized_nhwc"), "stylized");
        Map<String, Object> c = Json.object(Json.array(fixture.get("cases"), "cases").get(0), "case");
        float amount = (float) Json.number(c.get("amount"), "amount");
        float[] both = Json.floats(c.get("with_colors_nhwc"), "with colors");
        float[] wrongOrder = KeepDetail.apply(photo, KeepColors.apply(photo, stylized), height, width, amount);
        float worst = 0f;
        for (int j = 0; j < both.length; j++) {
            worst = Math.max(worst, Math.abs(both[j] - wrongOrder[j]));
        }
        assertTrue("colours-then-detail differs by only " + worst, worst > 1f);
    }

    @Test
    public void flatPhotoHasNoDetailEvenAtTheBorders() {
        // the border normalisation: a constant photo's blur is the photo everywhere, corners included
        int height = 5;
        int width = 9;
        float[] photo = new float[height * width * 3];
        java.util.Arrays.fill(photo, 200f);
        for (float d : KeepDetail.lumaDetail(photo, height, width)) {
            assertEquals(0f, d, 1e-4f);
        }
    }

    @Test
    public void argbVersionEqualsTheFloatPathBitForBit() throws Exception {
        Map<String, Object> fixture = Fixtures.load("detail.json");
        int height = (int) Json.integer(fixture.get("height"), "h");
        int width = (int) Json.integer(fixture.get("width"), "w");
        checkArgb(Json.ints(fixture.get("photo_argb"), "photo"), Json.floats(fixture.get("stylized_nhwc"), "stylized"), height, width);
        Random random = new Random(11);
        height = 37;
        width = 23;
        int[] many = new int[height * width];
        float[] out = new float[many.length * 3];
        for (int i = 0; i < many.length; i++) {
            many[i] = 0xFF000000 | random.nextInt(1 << 24);
        }
        for (int j = 0; j < out.length; j++) {
            out[j] = random.nextFloat() * 320f - 30f; // beyond 0..255 as a net's output can be
        }
        checkArgb(many, out, height, width);
    }

    private static void checkArgb(int[] photo, float[] stylized, int height, int width) {
        float[] detail = KeepDetail.lumaDetail(photo, height, width);
        float[] photoTensor = Pixels.toTensor(photo);
        for (float amount : new float[] {0.25f, 0.5f, 1f, 2f}) {
            float[] withDetail = KeepDetail.apply(detail, stylized, amount);
            assertArrayEquals(Pixels.toArgb(withDetail), KeepDetail.toArgb(photo, detail, stylized, amount, false));
            assertArrayEquals(Pixels.toArgb(KeepColors.apply(photoTensor, withDetail)), KeepDetail.toArgb(photo, detail, stylized, amount, true));
        }
        // 0 = off: the plain and keep-colours pixels of the model output, no clamp in between
        assertArrayEquals(Pixels.toArgb(stylized), KeepDetail.toArgb(photo, detail, stylized, 0f, false));
        assertArrayEquals(KeepColors.toArgb(photo, stylized), KeepDetail.toArgb(photo, detail, stylized, 0f, true));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAmountsOutsideTheControlsRange() {
        KeepDetail.apply(new float[1], new float[3], 2.5f);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAWrongSize() {
        KeepDetail.apply(new float[3 * 12], new float[3 * 12], 3, 5, 0.5f);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesASigmaPythonRefuses() {
        KeepDetail.kernel(0.1);
    }
}
