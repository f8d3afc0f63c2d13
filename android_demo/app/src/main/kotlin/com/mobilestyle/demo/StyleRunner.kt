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
 * One bundled style in the LiteRT Interpreter ([LiteRtModel]: memory-mapped, XNNPACK or the GPU delegate). Input and
 * output are NHWC float32 RGB on 0..255; each static size is its own signature `size_<H>x<W>`.
 */
class StyleRunner(assets: AssetManager, path: String, private val model: StyleManifest.Model, wantGpu: Boolean, threads: Int) : Closeable {
    private val opened = LiteRtModel(assets, path, wantGpu, threads)
    private val interpreter = opened.interpreter
    val accelerator: String = opened.accelerator
    val gpuRequestedButUnavailable: Boolean = opened.gpuRequestedButUnavailable

    /** Square side this model runs closest to (not above) [maxSide]. */
    fun side(maxSide: Int): Int = model.squareSide(maxSide)

    // Direct buffers reused from call to call (a whole photo runs hundreds of tiles); worker thread only.
    private var bufferSide = 0
    private lateinit var inputBuffer: ByteBuffer
    private lateinit var outputBuffer: ByteBuffer
    private lateinit var inputName: String
    private lateinit var outputName: String

    /** Runs one square ARGB image of [side]²; returns the model's NHWC float output (0..255) and the invoke time in ms. */
    fun stylize(argb: IntArray, side: Int): Pair<FloatArray, Double> {
        require(argb.size == side * side) { "expected ${side}x$side pixels" }
        return stylizeTensor(Pixels.toTensor(argb), side)
    }

    /** Runs one NHWC float RGB window of [side]² (0..255, e.g. a tile); returns the output and the invoke time in ms. */
    fun stylizeTensor(tensor: FloatArray, side: Int): Pair<FloatArray, Double> {
        require(tensor.size == side * side * 3) { "expected ${side}x${side}x3 values" }
        val signature = StyleManifest.Model.signature(side, side)
        if (side != bufferSide) {
            inputName = interpreter.getSignatureInputs(signature).single()
            outputName = interpreter.getSignatureOutputs(signature).single()
            inputBuffer = ByteBuffer.allocateDirect(tensor.size * 4).order(ByteOrder.nativeOrder())
            outputBuffer = ByteBuffer.allocateDirect(tensor.size * 4).order(ByteOrder.nativeOrder())
            bufferSide = side
        }
        inputBuffer.clear()
        inputBuffer.asFloatBuffer().put(tensor)
        outputBuffer.clear()
        val started = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(mapOf(inputName to inputBuffer), mapOf(outputName to outputBuffer), signature)
        val millis = (SystemClock.elapsedRealtimeNanos() - started) / 1e6
        outputBuffer.rewind()
        val values = FloatArray(tensor.size)
        outputBuffer.asFloatBuffer().get(values)
        return values to millis
    }

    override fun close() = opened.close()
}

/**
 * A bundled .tflite file in the LiteRT Interpreter: memory-mapped from the APK (stored uncompressed, see
 * app/build.gradle.kts), run on XNNPACK or, when asked and supported, the GPU delegate. Shared by [StyleRunner]
 * (the style's model) and [TileStatsRunner] (its norm-statistics file).
 */
class LiteRtModel(assets: AssetManager, path: String, wantGpu: Boolean, threads: Int) : Closeable {
    private val gpuDelegate: GpuDelegate?
    val interpreter: Interpreter
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
        interpreter = try {
            Interpreter(mapAsset(assets, path), options)
        } catch (e: RuntimeException) {
            gpuDelegate?.close()
            throw e
        }
    }

    val gpuRequestedButUnavailable: Boolean = wantGpu && gpuDelegate == null

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
