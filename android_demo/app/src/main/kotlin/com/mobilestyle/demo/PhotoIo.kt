package com.mobilestyle.demo

import android.content.ContentResolver
import android.content.ContentValues
import android.graphics.Bitmap
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Environment
import android.provider.MediaStore
import com.mobilestyle.demo.core.PilResize

/** Photos in and out: decode (EXIF orientation applied), centre-crop to the model side, save to MediaStore. */
object PhotoIo {
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

    fun toBitmap(argb: IntArray, side: Int): Bitmap = Bitmap.createBitmap(argb, side, side, Bitmap.Config.ARGB_8888)

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
