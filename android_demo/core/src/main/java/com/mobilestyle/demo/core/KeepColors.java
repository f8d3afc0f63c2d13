package com.mobilestyle.demo.core;

/**
 * Keep the photo's colours: the stylized picture's luma with the photo's chroma (full-range YCbCr, ITU-R BT.601),
 * as mobilestyle/controls/colors.py ({@code PreserveColors}, {@code preserve_colors_array}) computes it.
 *
 * <p>Changing Y alone (Cb, Cr held) moves R, G and B by the same amount, so per pixel
 * {@code out = clamp(photo + (Y(stylized) - Y(photo)) * (1, 1, 1), 0, 255)} with
 * {@code Y = 0.299 R + 0.587 G + 0.114 B}. Where the clamp bites, chroma cannot be kept exactly.
 */
public final class KeepColors {
    public static final float LUMA_R = 0.299f;
    public static final float LUMA_G = 0.587f;
    public static final float LUMA_B = 0.114f;

    private KeepColors() {}

    /** {@code photo} and {@code stylized}: NHWC float RGB on 0..255 of the same size (the model's input and output). */
    public static float[] apply(float[] photo, float[] stylized) {
        if (photo.length != stylized.length || photo.length % 3 != 0) {
            throw new IllegalArgumentException("photo has " + photo.length + " values, stylized " + stylized.length);
        }
        float[] out = new float[photo.length];
        for (int j = 0; j < out.length; j += 3) {
            float delta = LUMA_R * (stylized[j] - photo[j])
                    + LUMA_G * (stylized[j + 1] - photo[j + 1])
                    + LUMA_B * (stylized[j + 2] - photo[j + 2]);
            for (int c = 0; c < 3; c++) {
                out[j + c] = Math.min(Pixels.MAX_VALUE, Math.max(Pixels.MIN_VALUE, photo[j + c] + delta));
            }
        }
        return out;
    }

    /**
     * {@code Pixels.toArgb(apply(Pixels.toTensor(photo), stylized))} bit for bit, without the two float copies of
     * the photo (for whole photos in tiles): {@code photo} is packed ARGB, {@code stylized} its NHWC model output.
     */
    public static int[] toArgb(int[] photo, float[] stylized) {
        if (stylized.length != photo.length * 3) {
            throw new IllegalArgumentException("photo has " + photo.length + " pixels, stylized " + stylized.length + " values");
        }
        int[] out = new int[photo.length];
        for (int i = 0, j = 0; i < out.length; i++, j += 3) {
            out[i] = keptPixel(photo[i], stylized[j], stylized[j + 1], stylized[j + 2]);
        }
        return out;
    }

    /** One packed pixel of {@link #toArgb}: the packed photo pixel {@code p} with the luma of the stylized (r, g, b). */
    static int keptPixel(int p, float stylizedR, float stylizedG, float stylizedB) {
        float r = (p >> 16) & 0xFF;
        float g = (p >> 8) & 0xFF;
        float b = p & 0xFF;
        float delta = LUMA_R * (stylizedR - r) + LUMA_G * (stylizedG - g) + LUMA_B * (stylizedB - b);
        return Pixels.pack(channel(r + delta), channel(g + delta), channel(b + delta));
    }

    private static int channel(float value) {
        return Pixels.toByte(Math.min(Pixels.MAX_VALUE, Math.max(Pixels.MIN_VALUE, value)));
    }
}
