package com.mobilestyle.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Pickable styles, partners and ladders equal mobilestyle/mix_ladders.py's answers (golden fixture mixes.json). */
public class MixesTest {
    private static final String MODEL = "{\"file\": \"%s.tflite\", \"format\": \"tflite\", \"bytes\": 1, \"sha256\": \""
            + "ab".repeat(32) + "\", \"sizes\": [[256, 256]], \"layout\": \"NHWC\", \"value_range\": [0, 255], \"precision\": \"fp32\"}";

    /** The fixture's style entries (name and mix only) as a manifest the app could read: one dummy model each. */
    private static String manifestJson(List<Object> entries) {
        StringBuilder json = new StringBuilder("{\"schema\": 1, \"styles\": [");
        for (int i = 0; i < entries.size(); i++) {
            Map<String, Object> entry = Json.object(entries.get(i), "style");
            String name = Json.string(entry.get("name"), "name");
            json.append(i > 0 ? ", " : "").append("{\"name\": \"").append(name).append("\", \"models\": [")
                    .append(String.format(MODEL, name)).append("]");
            if (entry.containsKey("mix")) {
                Map<String, Object> mix = Json.object(entry.get("mix"), "mix");
                List<Object> pair = Json.array(mix.get("styles"), "mix.styles");
                json.append(", \"mix\": {\"styles\": [\"").append(pair.get(0)).append("\", \"").append(pair.get(1))
                        .append("\"], \"weight\": ").append(Json.number(mix.get("weight"), "weight")).append("}");
            }
            json.append("}");
        }
        return json.append("]}").toString();
    }

    private static List<String> names(List<StyleManifest.Style> styles) {
        List<String> out = new ArrayList<>();
        for (StyleManifest.Style s : styles) {
            out.add(s.name);
        }
        return out;
    }

    private static List<String> strings(Object value, String what) {
        List<String> out = new ArrayList<>();
        for (Object item : Json.array(value, what)) {
            out.add(Json.string(item, what));
        }
        return out;
    }

    @Test
    public void answersLikePython() throws Exception {
        Map<String, Object> fixture = Fixtures.load("mixes.json");
        List<Object> entries = Json.array(fixture.get("styles"), "styles");
        StyleManifest manifest = StyleManifest.parse(manifestJson(entries));
        assertEquals(entries.size(), manifest.styles.size());
        Mixes mixes = Mixes.of(manifest.stylesWith("tflite"));

        List<String> pickable = strings(fixture.get("pickable"), "pickable");
        assertEquals(pickable, names(mixes.pickable()));

        Map<String, Object> partners = Json.object(fixture.get("partners"), "partners");
        assertEquals(pickable, new ArrayList<>(partners.keySet()));
        for (String name : pickable) {
            assertEquals("partners of " + name, strings(partners.get(name), name), names(mixes.partners(name)));
        }

        List<Object> ladders = Json.array(fixture.get("ladders"), "ladders");
        int expectedLadders = 0;
        for (String name : pickable) {
            expectedLadders += mixes.partners(name).size();
        }
        assertEquals("one ladder per (style, partner)", expectedLadders, ladders.size());
        for (Object item : ladders) {
            Map<String, Object> ladder = Json.object(item, "ladder");
            String primary = Json.string(ladder.get("primary"), "primary");
            String partner = Json.string(ladder.get("partner"), "partner");
            List<Object> expected = Json.array(ladder.get("points"), "points");
            List<Mixes.Point> actual = mixes.ladder(primary, partner);
            String what = primary + " -> " + partner + ": " + actual;
            assertEquals(what, expected.size(), actual.size());
            for (int i = 0; i < expected.size(); i++) {
                Map<String, Object> point = Json.object(expected.get(i), "point");
                assertEquals(what, Json.string(point.get("style"), "style"), actual.get(i).style.name);
                assertEquals(what, Json.number(point.get("share"), "share"), actual.get(i).share, 0.0);
            }
            assertEquals(primary, actual.get(0).style.name);
            assertEquals(partner, actual.get(actual.size() - 1).style.name);
        }
    }

    @Test
    public void unbundledPartnersAndMissingModelsAreIgnored() throws Exception {
        List<Object> entries = Json.array(Fixtures.load("mixes.json").get("styles"), "styles");
        StyleManifest manifest = StyleManifest.parse(manifestJson(entries));
        // Without candy (as when only some styles have a TFLite model): its mixes drop out of every answer.
        List<StyleManifest.Style> withoutCandy = new ArrayList<>();
        for (StyleManifest.Style s : manifest.styles) {
            if (!s.name.equals("candy")) {
                withoutCandy.add(s);
            }
        }
        Mixes mixes = Mixes.of(withoutCandy);
        assertEquals(Arrays.asList("mosaic", "starry_night", "wave"), names(mixes.pickable()));
        assertTrue("mosaic's only partners are candy and the unbundled 'gone'", mixes.partners("mosaic").isEmpty());
        assertEquals(Arrays.asList("wave"), names(mixes.partners("starry_night")));
        assertTrue(mixes.partners("no_such_style").isEmpty());
        assertNull(mixes.pickable("candy-x-mosaic-25"));
    }

    @Test
    public void nearestPointToASliderPosition() throws Exception {
        StyleManifest manifest = StyleManifest.parse(manifestJson(Json.array(Fixtures.load("mixes.json").get("styles"), "styles")));
        List<Mixes.Point> ladder = Mixes.of(manifest.styles).ladder("candy", "starry_night"); // 0, 0.4, 0.7, 1
        assertEquals("candy", Mixes.nearest(ladder, 0.0).style.name);
        assertEquals("candy", Mixes.nearest(ladder, 0.19).style.name);
        assertEquals("candy", Mixes.nearest(ladder, 0.2).style.name); // a tie goes to the lower share
        assertEquals("starry_night-x-candy-60", Mixes.nearest(ladder, 0.21).style.name);
        assertEquals("starry_night-x-candy-30", Mixes.nearest(ladder, 0.7).style.name);
        assertEquals("starry_night-x-candy-30", Mixes.nearest(ladder, 0.84).style.name);
        assertEquals("starry_night", Mixes.nearest(ladder, 0.86).style.name);
        assertEquals("starry_night", Mixes.nearest(ladder, 1.0).style.name);
        assertEquals(3, Mixes.nearestIndex(ladder, 5.0)); // outside 0..1: the nearest end
        assertEquals(0, Mixes.nearestIndex(ladder, -1.0));
        assertSame(ladder.get(1), Mixes.nearest(ladder, 0.4));
    }

    @Test(expected = IllegalArgumentException.class)
    public void ladderNeedsTwoPlainStyles() throws Exception {
        StyleManifest manifest = StyleManifest.parse(manifestJson(Json.array(Fixtures.load("mixes.json").get("styles"), "styles")));
        Mixes.of(manifest.styles).ladder("candy", "candy-x-mosaic-25");
    }

    @Test
    public void roundsSharesLikePython() {
        assertEquals(0.7, Mixes.round(1.0 - 0.3), 0.0);
        assertEquals(0.3, Mixes.round(1.0 - 0.7), 0.0);
        assertEquals(0.333333, Mixes.round(1.0 / 3.0), 0.0);
        assertEquals(0.666667, Mixes.round(2.0 / 3.0), 0.0);
    }
}
