package com.mobilestyle.demo.core;

/**
 * Pixels as Android packs them ({@code Bitmap.getPixels}: row-major 0xAARRGGBB ints) to and from the models' float
 * tensors: NHWC, RGB, 0..255, no normalisation (the exported nets scale inside). Matches mobilestyle.images:
 * {@code image_to_tensor} (uint8 -> float) and {@code tensor_to_image} (clamp to 0..255, round half to even).
 */
public final class Pixels {
    public static final float MIN_VALUE = 0f;
    public static final float MAX_VALUE = 255f;

    private Pixels() {}

    /** ARGB ints (alpha ignored) -> NHWC float RGB on 0..255, length 3 * argb.length. */
    public static float[] toTensor(int[] argb) {
        float[] out = new float[argb.length * 3];
        toTensor(argb, out);
        return out;
    }

    /** As {@link #toTensor(int[])} into a caller-owned buffer (reused across frames on the phone). */
    public static void toTensor(int[] argb, float[] out) {
        if (out.length != argb.length * 3) {
            throw new IllegalArgumentException("tensor holds " + out.length + " floats, needs " + argb.length * 3);
        }
        for (int i = 0, j = 0; i < argb.length; i++, j += 3) {
            int p = argb[i];
            out[j] = (p >> 16) & 0xFF;
            out[j + 1] = (p >> 8) & 0xFF;
            out[j + 2] = p & 0xFF;
        }
    }

    /** NHWC float RGB (any range) -> opaque ARGB ints: clamped to 0..255 and rounded half to even. */
    public static int[] toArgb(float[] tensor) {
        if (tensor.length % 3 != 0) {
            throw new IllegalArgumentException("an RGB tensor has a multiple of 3 values, not " + tensor.length);
        }
        int[] out = new int[tensor.length / 3];
        for (int i = 0, j = 0; i < out.length; i++, j += 3) {
            out[i] = pack(toByte(tensor[j]), toByte(tensor[j + 1]), toByte(tensor[j + 2]));
        }
        return out;
    }

    /** The {@code cropWidth} x {@code cropHeight} window at ({@code left}, {@code top}) of a {@code width}-wide ARGB image. */
    public static int[] crop(int[] argb, int width, int left, int top, int cropWidth, int cropHeight) {
        if (width < 1 || argb.length % width != 0) {
            throw new IllegalArgumentException(argb.length + " pixels are not rows of " + width);
        }
        int height = argb.length / width;
        if (left < 0 || top < 0 || cropWidth < 0 || cropHeight < 0 || left + cropWidth > width || top + cropHeight > height) {
            throw new IllegalArgumentException(cropWidth + "x" + cropHeight + " at (" + left + ", " + top + ") is not inside "
                    + width + "x" + height);
        }
        int[] out = new int[cropWidth * cropHeight];
        for (int r = 0; r < cropHeight; r++) {
            System.arraycopy(argb, (top + r) * width + left, out, r * cropWidth, cropWidth);
        }
        return out;
    }

    /** One channel value -> 0..255 (NaN becomes 0, like a clamp in PyTorch would not: the manifest check forbids NaN). */
    public static int toByte(float value) {
        if (!(value > MIN_VALUE)) {
            return 0;
        }
        if (value >= MAX_VALUE) {
            return 255;
        }
        return (int) Math.rint(value);
    }

    public static int pack(int r, int g, int b) {
        return 0xFF000000 | (r << 16) | (g << 8) | b;
    }

    public static int red(int argb) {
        return (argb >> 16) & 0xFF;
    }

    public static int green(int argb) {
        return (argb >> 8) & 0xFF;
    }

    public static int blue(int argb) {
        return argb & 0xFF;
    }
}
