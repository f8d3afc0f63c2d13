package com.mobilestyle.demo

import android.content.res.AssetManager
import android.os.SystemClock
import com.mobilestyle.demo.core.Pixels
import com.mobilestyle.demo.core.StyleManifest
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/**
 * One bundled style in the LiteRT Interpreter: the model is memory-mapped from the APK (stored uncompressed,
 * see app/build.gradle.kts), runs on XNNPACK or, when asked and supported, the GPU delegate. Input and output
 * are NHWC float32 RGB on 0..255; each static size is its own signature `size_<H>x<W>`.
 */
class StyleRunner(assets: AssetManager, path: String, private val model: StyleManifest.Model, wantGpu: Boolean, threads: Int) : Closeable {
    private val gpuDelegate: GpuDelegate?
    private val interpreter: Interpreter
    val accelerator: String

    init {
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
        val compatibility = CompatibilityList()
        gpuDelegate = if (wantGpu && compatibility.isDelegateSupportedOnThisDevice) {
            GpuDelegate(compatibility.bestOptionsForThisDevice).also { options.addDelegate(it) }
        } else {
            null
        }
        accelerator = if (gpuDelegate != null) "GPU delegate" else "XNNPACK, $threads threads"
        interpreter = Interpreter(mapAsset(assets, path), options)
    }

    val gpuRequestedButUnavailable: Boolean = wantGpu && gpuDelegate == null

    /** Square side this model runs closest to (not above) [maxSide]. */
    fun side(maxSide: Int): Int = model.squareSide(maxSide)

    /** Runs one square ARGB image of [side]²; returns the model's NHWC float output (0..255) and the invoke time in ms. */
    fun stylize(argb: IntArray, side: Int): Pair<FloatArray, Double> {
        require(argb.size == side * side) { "expected ${side}x$side pixels" }
        val signature = StyleManifest.Model.signature(side, side)
        val inputName = interpreter.getSignatureInputs(signature).single()
        val outputName = interpreter.getSignatureOutputs(signature).single()
        val input = ByteBuffer.allocateDirect(argb.size * 3 * 4).order(ByteOrder.nativeOrder())
        input.asFloatBuffer().put(Pixels.toTensor(argb))
        val output = ByteBuffer.allocateDirect(argb.size * 3 * 4).order(ByteOrder.nativeOrder())
        val started = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(mapOf(inputName to input), mapOf(outputName to output), signature)
        val millis = (SystemClock.elapsedRealtimeNanos() - started) / 1e6
        output.rewind()
        val values = FloatArray(argb.size * 3)
        output.asFloatBuffer().get(values)
        return values to millis
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    private companion object {
        fun mapAsset(assets: AssetManager, path: String): MappedByteBuffer =
            assets.openFd(path).use { fd ->
                FileInputStream(fd.fileDescriptor).channel.use { channel ->
                    channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
    }
}
