package com.mobilestyle.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Model output -> shown pixels (clamp, round half to even) and the strength blend equal Python's. */
public class PostprocessFixturesTest {
    @Test
    public void tensorToPixelsMatchesPython() throws Exception {
        Map<String, Object> fixture = Fixtures.load("postprocess.json");
        float[] tensor = Json.floats(fixture.get("tensor_nhwc"), "tensor");
        int[] expected = Json.ints(fixture.get("argb"), "argb");
        assertEquals(Json.integer(fixture.get("height"), "h") * Json.integer(fixture.get("width"), "w"), expected.length);
        assertNull(Fixtures.firstDifference(expected, Pixels.toArgb(tensor)));
    }

    @Test
    public void blendMatchesPython() throws Exception {
        Map<String, Object> fixture = Fixtures.load("blend.json");
        int[] content = Json.ints(fixture.get("content_argb"), "content");
        int[] stylized = Json.ints(fixture.get("stylized_argb"), "stylized");
        List<Object> cases = Json.array(fixture.get("cases"), "cases");
        assertEquals(5, cases.size());
        for (Object item : cases) {
            Map<String, Object> c = Json.object(item, "case");
            float strength = (float) Json.number(c.get("strength"), "strength");
            int[] actual = Blend.blend(content, stylized, strength);
            String diff = Fixtures.firstDifference(Json.ints(c.get("argb"), "argb"), actual);
            assertNull("strength " + strength + ": " + diff, diff);
        }
    }

    @Test
    public void roundTripIsExactForBytes() {
        int[] argb = {Pixels.pack(0, 127, 255), Pixels.pack(1, 128, 254)};
        assertNull(Fixtures.firstDifference(argb, Pixels.toArgb(Pixels.toTensor(argb))));
    }

    @Test
    public void nanAndExtremesClamp() {
        assertEquals(0, Pixels.toByte(Float.NaN));
        assertEquals(0, Pixels.toByte(-1e9f));
        assertEquals(255, Pixels.toByte(1e9f));
        assertEquals(2, Pixels.toByte(2.5f));
        assertEquals(4, Pixels.toByte(3.5f));
    }

    @Test(expected = IllegalArgumentException.class)
    public void blendRefusesStrengthOutsideRange() {
        Blend.blend(new int[1], new int[1], 1.5f);
    }
}
