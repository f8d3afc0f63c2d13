package com.mobilestyle.demo.core;

/**
 * The strength slider: {@code strength * stylized + (1 - strength) * content} per channel, in float32, rounded half
 * to even (the same float operations as mobilestyle.demo_fixtures.blend, so results match bit for bit).
 */
public final class Blend {
    private Blend() {}

    public static int[] blend(int[] content, int[] stylized, float strength) {
        if (content.length != stylized.length) {
            throw new IllegalArgumentException("content has " + content.length + " pixels, stylized " + stylized.length);
        }
        if (!(strength >= 0f && strength <= 1f)) {
            throw new IllegalArgumentException("strength must be in 0..1, not " + strength);
        }
        float keep = 1f - strength;
        int[] out = new int[content.length];
        for (int i = 0; i < out.length; i++) {
            int c = content[i];
            int s = stylized[i];
            out[i] = Pixels.pack(
                    mix(Pixels.red(c), Pixels.red(s), strength, keep),
                    mix(Pixels.green(c), Pixels.green(s), strength, keep),
                    mix(Pixels.blue(c), Pixels.blue(s), strength, keep));
        }
        return out;
    }

    private static int mix(int content, int stylized, float strength, float keep) {
        float value = strength * (float) stylized + keep * (float) content;
        return Pixels.toByte(value);
    }
}
