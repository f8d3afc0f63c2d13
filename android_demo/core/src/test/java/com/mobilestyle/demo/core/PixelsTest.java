package com.mobilestyle.demo.core;

import static org.junit.Assert.assertArrayEquals;

import org.junit.Test;

/** Cropping packed ARGB images (whole photos are cut to sides that are multiples of 4 before tiling). */
public class PixelsTest {
    @Test
    public void cropsAWindow() {
        int[] image = new int[6 * 5]; // 6 wide, 5 high: pixel value = 10 * row + column
        for (int i = 0; i < image.length; i++) {
            image[i] = 10 * (i / 6) + i % 6;
        }
        assertArrayEquals(new int[] {12, 13, 14, 22, 23, 24}, Pixels.crop(image, 6, 2, 1, 3, 2));
        assertArrayEquals(image, Pixels.crop(image, 6, 0, 0, 6, 5));
        assertArrayEquals(new int[0], Pixels.crop(image, 6, 6, 5, 0, 0));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAWindowOutsideTheImage() {
        Pixels.crop(new int[6 * 5], 6, 4, 0, 3, 1);
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesRaggedRows() {
        Pixels.crop(new int[31], 6, 0, 0, 1, 1);
    }
}
