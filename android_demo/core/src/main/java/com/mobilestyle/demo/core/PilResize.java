package com.mobilestyle.demo.core;

/**
 * Pillow's resampling ({@code Image.resize(size, Image.LANCZOS)} on an 8-bit RGB image), ported so the phone
 * prepares a photo exactly as the Python side does: separable convolution, horizontal pass then vertical pass,
 * coefficients normalised and rounded to 22-bit fixed point, each pass rounded and clipped to 8 bits.
 * Pillow: src/libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc, ImagingResample*_8bpc).
 */
public final class PilResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double LANCZOS_SUPPORT = 3.0;

    private PilResize() {}

    /** Resizes packed ARGB pixels (alpha dropped, output opaque) to outWidth x outHeight with Pillow's Lanczos. */
    public static int[] resize(int[] argb, int width, int height, int outWidth, int outHeight) {
        checkSize(argb, width, height);
        if (outWidth < 1 || outHeight < 1) {
            throw new IllegalArgumentException("output size must be positive, not " + outWidth + "x" + outHeight);
        }
        int[] pixels = opaque(argb);
        if (outWidth != width) {
            pixels = resampleAxis(pixels, width, height, outWidth, true);
        }
        if (outHeight != height) {
            pixels = resampleAxis(pixels, outWidth, height, outHeight, false);
        }
        return pixels;
    }

    /**
     * mobilestyle.images.center_crop_square: scale so the short side is {@code size} (sides rounded half to even,
     * as Python's round), then cut the centre square.
     */
    public static int[] centerCropSquare(int[] argb, int width, int height, int size) {
        checkSize(argb, width, height);
        double scale = (double) size / Math.min(width, height);
        int newWidth = Math.max(1, (int) Math.rint(width * scale));
        int newHeight = Math.max(1, (int) Math.rint(height * scale));
        int[] scaled = (newWidth == width && newHeight == height) ? opaque(argb) : resize(argb, width, height, newWidth, newHeight);
        int left = (newWidth - size) / 2;
        int top = (newHeight - size) / 2;
        int[] out = new int[size * size];
        for (int y = 0; y < size; y++) {
            System.arraycopy(scaled, (top + y) * newWidth + left, out, y * size, size);
        }
        return out;
    }

    private static void checkSize(int[] argb, int width, int height) {
        if (width < 1 || height < 1 || (long) width * height != argb.length) {
            throw new IllegalArgumentException(argb.length + " pixels are not a " + width + "x" + height + " image");
        }
    }

    private static int[] opaque(int[] argb) {
        int[] out = new int[argb.length];
        for (int i = 0; i < argb.length; i++) {
            out[i] = argb[i] | 0xFF000000;
        }
        return out;
    }

    /** Filter taps for one axis: bounds[2i] = first input index, bounds[2i+1] = count; fixed-point weights. */
    private static final class Taps {
        final int ksize;
        final int[] bounds;
        final int[] weights;

        Taps(int inSize, int outSize) {
            double scale = (double) inSize / outSize;
            double filterScale = Math.max(scale, 1.0);
            double support = LANCZOS_SUPPORT * filterScale;
            ksize = (int) Math.ceil(support) * 2 + 1;
            bounds = new int[outSize * 2];
            weights = new int[outSize * ksize];
            double[] k = new double[ksize];
            for (int xx = 0; xx < outSize; xx++) {
                double center = (xx + 0.5) * scale;
                double ss = 1.0 / filterScale;
                int xmin = Math.max((int) (center - support + 0.5), 0);
                int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
                double ww = 0.0;
                for (int x = 0; x < xmax; x++) {
                    double w = lanczos((x + xmin - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }
                for (int x = 0; x < ksize; x++) {
                    double w = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
                    weights[xx * ksize + x] = w < 0 ? (int) (-0.5 + w * (1 << PRECISION_BITS)) : (int) (0.5 + w * (1 << PRECISION_BITS));
                }
                bounds[xx * 2] = xmin;
                bounds[xx * 2 + 1] = xmax;
            }
        }
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        x = x * Math.PI;
        return StrictMath.sin(x) / x;
    }

    private static double lanczos(double x) {
        return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
    }

    private static int clip8(int sum) {
        int v = sum >> PRECISION_BITS;
        return v < 0 ? 0 : (v > 255 ? 255 : v);
    }

    /**
     * One separable Lanczos pass, along x ({@code alongX}) or y, in Pillow's fixed-point arithmetic.
     * Pixels are packed ARGB; the pass keeps the other axis as it is.
     */
    private static int[] resampleAxis(int[] in, int width, int height, int outLen, boolean alongX) {
        Taps taps = new Taps(alongX ? width : height, outLen);
        int lines = alongX ? height : width;
        int outWidth = alongX ? outLen : width;
        int inStep = alongX ? 1 : width;
        int outStep = alongX ? 1 : outWidth;
        int[] out = new int[outWidth * (alongX ? height : outLen)];
        for (int line = 0; line < lines; line++) {
            int inBase = alongX ? line * width : line;
            int outBase = alongX ? line * outWidth : line;
            for (int o = 0; o < outLen; o++) {
                int first = taps.bounds[o * 2];
                int count = taps.bounds[o * 2 + 1];
                int base = o * taps.ksize;
                int r = 1 << (PRECISION_BITS - 1);
                int g = r;
                int b = r;
                for (int t = 0; t < count; t++) {
                    int p = in[inBase + (first + t) * inStep];
                    int w = taps.weights[base + t];
                    r += ((p >> 16) & 0xFF) * w;
                    g += ((p >> 8) & 0xFF) * w;
                    b += (p & 0xFF) * w;
                }
                out[outBase + o * outStep] = Pixels.pack(clip8(r), clip8(g), clip8(b));
            }
        }
        return out;
    }
}
