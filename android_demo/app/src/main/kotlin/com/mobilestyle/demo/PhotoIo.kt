package com.mobilestyle.demo

import android.content.ContentResolver
import android.content.ContentValues
import android.graphics.Bitmap
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Environment
import android.provider.MediaStore
import com.mobilestyle.demo.core.PilResize
import com.mobilestyle.demo.core.Pixels
import com.mobilestyle.demo.core.Tiler

/**
 * Photos in and out: decode (EXIF orientation applied), centre-crop to the model side or load the whole photo for
 * tiles, scale for previews, save to MediaStore.
 */
object PhotoIo {
    /**
     * A whole photo as ARGB, [width] x [height] (both multiples of 4, as the tiler needs), decoded from a
     * [sourceWidth] x [sourceHeight] file (after EXIF rotation).
     */
    class WholePhoto(val argb: IntArray, val width: Int, val height: Int, val sourceWidth: Int, val sourceHeight: Int) {
        /** Whether the photo was decoded below its own size (over the caps); trimming to multiples of 4 does not count. */
        val downscaled: Boolean get() = sourceWidth - width >= 4 || sourceHeight - height >= 4
    }

    /** Largest short side decoded before the exact resize; keeps a 50 MP photo from needing 200 MB of ints. */
    private const val MAX_DECODE_SHORT_SIDE = 2048

    /** Decodes [uri] and returns the centre square of [side]² as ARGB, computed exactly like Python's center_crop_square. */
    fun loadSquare(resolver: ContentResolver, uri: Uri, side: Int): IntArray {
        val source = ImageDecoder.createSource(resolver, uri)
        val bitmap = ImageDecoder.decodeBitmap(source) { decoder, info, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            val shortSide = minOf(info.size.width, info.size.height)
            var sample = 1
            while (shortSide / (sample * 2) >= maxOf(MAX_DECODE_SHORT_SIDE, side)) sample *= 2
            decoder.setTargetSampleSize(sample)
        }
        val width = bitmap.width
        val height = bitmap.height
        val argb = IntArray(width * height)
        bitmap.getPixels(argb, 0, width, 0, 0, width, height)
        bitmap.recycle()
        return PilResize.centerCropSquare(argb, width, height, side)
    }

    /**
     * Decodes the whole photo at its own size (EXIF orientation applied), scaled down, aspect kept, when its long side
     * exceeds [maxLongSide] or it has more than [maxPixels] pixels; then trims the centre to sides that are multiples
     * of 4 (at most 3 px per side are lost).
     */
    fun loadWhole(resolver: ContentResolver, uri: Uri, maxLongSide: Int, maxPixels: Long): WholePhoto {
        var sourceWidth = 0
        var sourceHeight = 0
        val bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(resolver, uri)) { decoder, info, _ ->
            decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            sourceWidth = info.size.width
            sourceHeight = info.size.height
            val (width, height) = Tiler.fit(sourceWidth, sourceHeight, maxLongSide, maxPixels)
            if (width != sourceWidth || height != sourceHeight) decoder.setTargetSize(width, height)
        }
        val width = bitmap.width
        val height = bitmap.height
        val argb = IntArray(width * height)
        bitmap.getPixels(argb, 0, width, 0, 0, width, height)
        bitmap.recycle()
        val width4 = width / 4 * 4
        val height4 = height / 4 * 4
        val trimmed = if (width4 == width && height4 == height) {
            argb
        } else {
            Pixels.crop(argb, width, (width - width4) / 2, (height - height4) / 2, width4, height4)
        }
        return WholePhoto(trimmed, width4, height4, sourceWidth, sourceHeight)
    }

    fun toBitmap(argb: IntArray, width: Int, height: Int): Bitmap = Bitmap.createBitmap(argb, width, height, Bitmap.Config.ARGB_8888)

    /** [argb] ([width] x [height]) resized to [toWidth] x [toHeight] with bilinear filtering (previews of whole photos). */
    fun scaled(argb: IntArray, width: Int, height: Int, toWidth: Int, toHeight: Int): IntArray {
        if (toWidth == width && toHeight == height) return argb
        val full = toBitmap(argb, width, height)
        val small = Bitmap.createScaledBitmap(full, toWidth, toHeight, true)
        full.recycle()
        val out = IntArray(toWidth * toHeight)
        small.getPixels(out, 0, toWidth, 0, 0, toWidth, toHeight)
        small.recycle()
        return out
    }

    /** A MediaStore entry for the camera app to write its full-size photo into. */
    fun newCameraTarget(resolver: ContentResolver): Uri? {
        val values = ContentValues().apply {
            put(MediaStore.Images.Media.DISPLAY_NAME, "mobilestyle_camera_${System.currentTimeMillis()}.jpg")
            put(MediaStore.Images.Media.MIME_TYPE, "image/jpeg")
            put(MediaStore.Images.Media.RELATIVE_PATH, "${Environment.DIRECTORY_PICTURES}/MobileStyle")
        }
        return resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values)
    }

    /** Saves a PNG under Pictures/MobileStyle (pending until fully written) and returns its content Uri. */
    fun save(resolver: ContentResolver, bitmap: Bitmap, name: String): Uri {
        val values = ContentValues().apply {
            put(MediaStore.Images.Media.DISPLAY_NAME, "$name.png")
            put(MediaStore.Images.Media.MIME_TYPE, "image/png")
            put(MediaStore.Images.Media.RELATIVE_PATH, "${Environment.DIRECTORY_PICTURES}/MobileStyle")
            put(MediaStore.Images.Media.IS_PENDING, 1)
        }
        val uri = resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values) ?: error("MediaStore refused the insert")
        try {
            resolver.openOutputStream(uri)?.use { out -> check(bitmap.compress(Bitmap.CompressFormat.PNG, 100, out)) } ?: error("cannot open $uri")
        } catch (e: Exception) {
            resolver.delete(uri, null, null)
            throw e
        }
        resolver.update(uri, ContentValues().apply { put(MediaStore.Images.Media.IS_PENDING, 0) }, null, null)
        return uri
    }
}
