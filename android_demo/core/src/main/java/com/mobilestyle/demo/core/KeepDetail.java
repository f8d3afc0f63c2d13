package com.mobilestyle.demo.core;

/**
 * Keep the photo's fine detail: the photo's luma high-pass added back to the model's output, as
 * mobilestyle/controls/detail.py ({@code KeepDetail}, {@code keep_detail_array}, {@code luma_detail}) computes it.
 *
 * <p>Per pixel {@code out = clamp(stylized + amount * (Y(photo) - blur(Y(photo))) * (1, 1, 1), 0, 255)} with
 * {@code Y = 0.299 R + 0.587 G + 0.114 B} (BT.601, {@link KeepColors#LUMA_R} etc.) and {@code blur} the separable
 * Gaussian of width {@link #DEFAULT_SIGMA} px over +-ceil(3 sigma) taps, zero padding, normalised at the borders pass
 * by pass: each 1-D pass is divided by the same pass over a row (or column) of ones ({@code _blur_along}). The detail
 * moves R, G and B alike (it changes luma only); with keep-colours it goes first, as the CLI nests the wrappers
 * ({@code PreserveColors(KeepDetail(net))}: the luma the colour step keeps carries the detail).
 *
 * <p>The detail map depends on the photo only: {@link #lumaDetail(int[], int, int)} computes it once per photo, and
 * {@link #apply(float[], float[], float)} / {@link #toArgb} apply it at any amount without running the model again.
 */
public final class KeepDetail {
    /** The blur width in pixels ({@code DEFAULT_SIGMA} in detail.py; what {@code --keep-detail} uses). */
    public static final double DEFAULT_SIGMA = 1.0;
    /** The largest amount the Python control accepts ({@code KeepDetail}: 0 < amount <= 2). */
    public static final float MAX_AMOUNT = 2f;

    private static final float[] DEFAULT_KERNEL = kernel(DEFAULT_SIGMA);

    private KeepDetail() {}

    /**
     * The 1-D Gaussian of width {@code sigma} px over +-ceil(3 sigma), summing to 1: computed in double and rounded to
     * float, as {@code gaussian_kernel} (float64, then {@code .float()}).
     */
    public static float[] kernel(double sigma) {
        if (!(sigma >= 0.3 && sigma <= 8)) {
            throw new IllegalArgumentException("detail blur sigma " + sigma + " outside 0.3..8 px");
        }
        int radius = (int) Math.ceil(3 * sigma);
        double[] weights = new double[2 * radius + 1];
        double sum = 0;
        for (int k = -radius; k <= radius; k++) {
            double x = k / sigma;
            weights[k + radius] = Math.exp(-0.5 * x * x);
            sum += weights[k + radius];
        }
        float[] out = new float[weights.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (weights[k] / sum);
        }
        return out;
    }

    /** The photo's luma detail ({@code luma_detail}, sigma 1 px): {@code height * width} floats, row-major. */
    public static float[] lumaDetail(float[] photoNhwc, int height, int width) {
        return lumaDetail(photoNhwc, height, width, DEFAULT_KERNEL);
    }

    /** As {@link #lumaDetail(float[], int, int)} with another {@link #kernel(double)}. */
    public static float[] lumaDetail(float[] photoNhwc, int height, int width, float[] kernel) {
        checkSize(photoNhwc.length, 3, height, width, "photo");
        float[] luma = new float[height * width];
        for (int i = 0, j = 0; i < luma.length; i++, j += 3) {
            luma[i] = luma(photoNhwc[j], photoNhwc[j + 1], photoNhwc[j + 2]);
        }
        return subtractBlur(luma, height, width, kernel);
    }

    /**
     * {@link #lumaDetail(float[], int, int)} of {@code Pixels.toTensor(photoArgb)} bit for bit, without the float copy
     * of the photo (whole photos): {@code photoArgb} is packed ARGB, row-major.
     */
    public static float[] lumaDetail(int[] photoArgb, int height, int width) {
        checkSize(photoArgb.length, 1, height, width, "photo");
        float[] luma = new float[height * width];
        for (int i = 0; i < luma.length; i++) {
            int p = photoArgb[i];
            luma[i] = luma((p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF);
        }
        return subtractBlur(luma, height, width, DEFAULT_KERNEL);
    }

    /**
     * {@code keep_detail_array(photo, stylized, amount)}: NHWC float RGB on 0..255 of {@code height x width} in and out
     * ({@code photoNhwc} the model's input, {@code stylizedNhwc} its output), the result clamped to 0..255.
     */
    public static float[] apply(float[] photoNhwc, float[] stylizedNhwc, int height, int width, float amount) {
        checkSize(stylizedNhwc.length, 3, height, width, "stylized");
        return apply(lumaDetail(photoNhwc, height, width), stylizedNhwc, amount);
    }

    /** The same with the photo's {@link #lumaDetail} computed before (one value per pixel of {@code stylizedNhwc}). */
    public static float[] apply(float[] detail, float[] stylizedNhwc, float amount) {
        checkAmount(amount);
        if (stylizedNhwc.length != detail.length * 3) {
            throw new IllegalArgumentException("detail has " + detail.length + " pixels, stylized " + stylizedNhwc.length + " values");
        }
        float[] out = new float[stylizedNhwc.length];
        for (int i = 0, j = 0; i < detail.length; i++, j += 3) {
            float add = amount * detail[i];
            for (int c = 0; c < 3; c++) {
                out[j + c] = clamp(stylizedNhwc[j + c] + add);
            }
        }
        return out;
    }

    /**
     * The shown pixels of the app's controls, detail first, then colours, without float copies (whole photos):
     * {@code Pixels.toArgb(apply(detail, stylized, amount))}, or with {@code keepColors}
     * {@code KeepColors.toArgb(photo, apply(detail, stylized, amount))}, bit for bit. {@code amount} 0 is the control
     * off, as {@code stylize} without {@code --keep-detail}: the model output goes to those two unchanged (no clamp
     * before the colour step). {@code photo}: packed ARGB; {@code detail}: its {@link #lumaDetail}; {@code stylized}:
     * the model's NHWC output for it.
     */
    public static int[] toArgb(int[] photo, float[] detail, float[] stylized, float amount, boolean keepColors) {
        checkAmount(amount);
        if (detail.length != photo.length || stylized.length != photo.length * 3) {
            throw new IllegalArgumentException("photo has " + photo.length + " pixels, detail " + detail.length + ", stylized "
                    + stylized.length + " values");
        }
        if (amount == 0f) {
            return keepColors ? KeepColors.toArgb(photo, stylized) : Pixels.toArgb(stylized);
        }
        int[] out = new int[photo.length];
        for (int i = 0, j = 0; i < out.length; i++, j += 3) {
            float add = amount * detail[i];
            float sr = clamp(stylized[j] + add);
            float sg = clamp(stylized[j + 1] + add);
            float sb = clamp(stylized[j + 2] + add);
            out[i] = keepColors
                    ? KeepColors.keptPixel(photo[i], sr, sg, sb)
                    : Pixels.pack(Pixels.toByte(sr), Pixels.toByte(sg), Pixels.toByte(sb));
        }
        return out;
    }

    private static float luma(float r, float g, float b) {
        return KeepColors.LUMA_R * r + KeepColors.LUMA_G * g + KeepColors.LUMA_B * b;
    }

    private static float clamp(float value) {
        return Math.min(Pixels.MAX_VALUE, Math.max(Pixels.MIN_VALUE, value));
    }

    /**
     * {@code luma - blurH(blurW(luma))}, written into {@code luma}. Each pass divides by its kernel weight inside the
     * picture (the pass over ones); the H pass accumulates whole rows, the same sum per pixel in the same order.
     */
    private static float[] subtractBlur(float[] luma, int height, int width, float[] kernel) {
        int radius = kernel.length / 2;
        float[] normW = insideWeights(width, kernel);
        float[] normH = insideWeights(height, kernel);
        float[] rows = new float[luma.length]; // blurred along W
        for (int y = 0; y < height; y++) {
            int row = y * width;
            for (int x = 0; x < width; x++) {
                float sum = 0f;
                for (int k = Math.max(-radius, -x); k <= Math.min(radius, width - 1 - x); k++) {
                    sum += kernel[k + radius] * luma[row + x + k];
                }
                rows[row + x] = sum / normW[x];
            }
        }
        float[] sum = new float[width];
        for (int y = 0; y < height; y++) {
            java.util.Arrays.fill(sum, 0f);
            for (int k = Math.max(-radius, -y); k <= Math.min(radius, height - 1 - y); k++) {
                float weight = kernel[k + radius];
                int source = (y + k) * width;
                for (int x = 0; x < width; x++) {
                    sum[x] += weight * rows[source + x];
                }
            }
            int row = y * width;
            for (int x = 0; x < width; x++) {
                luma[row + x] -= sum[x] / normH[y];
            }
        }
        return luma;
    }

    /** The kernel's weight inside a line of {@code length} pixels, per position (the 1-D blur of a line of ones). */
    private static float[] insideWeights(int length, float[] kernel) {
        int radius = kernel.length / 2;
        float[] out = new float[length];
        for (int x = 0; x < length; x++) {
            float sum = 0f;
            for (int k = Math.max(-radius, -x); k <= Math.min(radius, length - 1 - x); k++) {
                sum += kernel[k + radius];
            }
            out[x] = sum;
        }
        return out;
    }

    private static void checkSize(int values, int perPixel, int height, int width, String what) {
        if (height < 1 || width < 1 || (long) height * width * perPixel != values) {
            throw new IllegalArgumentException(what + " has " + values + " values, not " + height + "x" + width + "x" + perPixel);
        }
    }

    private static void checkAmount(float amount) {
        if (!(amount >= 0f && amount <= MAX_AMOUNT)) {
            throw new IllegalArgumentException("detail amount must be in 0.." + MAX_AMOUNT + ", not " + amount);
        }
    }
}
