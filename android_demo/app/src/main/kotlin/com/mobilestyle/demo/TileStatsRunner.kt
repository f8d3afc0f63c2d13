package com.mobilestyle.demo

import android.content.res.AssetManager
import android.os.SystemClock
import com.mobilestyle.demo.core.StyleManifest
import java.io.Closeable
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * One style's norm-statistics file (`NAME.tiles.tflite`, `mobilestyle bundle --tiles`, export/norm_stats.py) in the
 * LiteRT Interpreter ([LiteRtModel]). Its one signature `size_<S>x<S>` takes the image (NHWC float32, 0..255), the
 * statistics (1 x K float32) and use_given (1 x 1) and gives the stylized image and the image's own statistics
 * (1 x K), under the names the manifest entry gives. [statistics] is pass 1 (use_given 0, the photo's centre crop),
 * [stylize] pass 2 (use_given 1, every tile); [com.mobilestyle.demo.core.FixedStatsTiles] plans them.
 */
class TileStatsRunner(assets: AssetManager, path: String, private val model: StyleManifest.TilesModel, wantGpu: Boolean, threads: Int) :
    Closeable {
    private val opened = LiteRtModel(assets, path, wantGpu, threads)
    private val interpreter = opened.interpreter
    val accelerator: String = opened.accelerator
    val gpuRequestedButUnavailable: Boolean = opened.gpuRequestedButUnavailable

    /** The tile side: the file's square signature (an exported file has exactly one). */
    val side: Int = model.squareSide(Int.MAX_VALUE)
    private val signature = StyleManifest.Model.signature(side, side)
    private val length = model.normStatsLength

    // Direct buffers reused from call to call (a whole photo runs hundreds of tiles); worker thread only.
    private val image = floatBuffer(side * side * 3)
    private val givenStats = floatBuffer(length)
    private val useGiven = floatBuffer(1)
    private val stylized = floatBuffer(side * side * 3)
    private val ownStats = floatBuffer(length)

    init {
        try {
            checkSignature()
        } catch (e: RuntimeException) {
            opened.close()
            throw e
        }
    }

    /** The signature has the manifest's tensor names, and its statistics tensors hold norm_stats_length values. */
    private fun checkSignature() {
        val inputs = interpreter.getSignatureInputs(signature).toList()
        val outputs = interpreter.getSignatureOutputs(signature).toList()
        val wantInputs = listOf(model.inputName, model.normStatsInput, model.useGivenInput)
        val wantOutputs = listOf(model.outputName, model.normStatsOutput)
        require(inputs.containsAll(wantInputs) && outputs.containsAll(wantOutputs)) {
            "${model.file}: signature $signature has inputs $inputs and outputs $outputs, the manifest names $wantInputs and $wantOutputs"
        }
        val statsIn = interpreter.getInputTensorFromSignature(model.normStatsInput, signature).numElements()
        val statsOut = interpreter.getOutputTensorFromSignature(model.normStatsOutput, signature).numElements()
        require(statsIn == length && statsOut == length) {
            "${model.file}: its statistics hold $statsIn and $statsOut values, the manifest says norm_stats_length $length"
        }
    }

    /** Pass 1: the [side]² window's own statistics (use_given 0) and the invoke time in ms. */
    fun statistics(window: FloatArray): Pair<FloatArray, Double> {
        val millis = invoke(window, FloatArray(length), 0f)
        val values = FloatArray(length)
        ownStats.rewind()
        ownStats.asFloatBuffer().get(values)
        return values to millis
    }

    /** Pass 2: the [side]² window normalised with [statistics] (use_given 1), NHWC 0..255, and the invoke time in ms. */
    fun stylize(window: FloatArray, statistics: FloatArray): Pair<FloatArray, Double> {
        val millis = invoke(window, statistics, 1f)
        val values = FloatArray(window.size)
        stylized.rewind()
        stylized.asFloatBuffer().get(values)
        return values to millis
    }

    private fun invoke(window: FloatArray, statistics: FloatArray, use: Float): Double {
        require(window.size == side * side * 3) { "expected ${side}x${side}x3 values" }
        require(statistics.size == length) { "expected $length statistics, not ${statistics.size}" }
        image.clear()
        image.asFloatBuffer().put(window)
        givenStats.clear()
        givenStats.asFloatBuffer().put(statistics)
        useGiven.clear()
        useGiven.asFloatBuffer().put(use)
        stylized.clear()
        ownStats.clear()
        val inputs = mapOf(model.inputName to image, model.normStatsInput to givenStats, model.useGivenInput to useGiven)
        val outputs = mapOf(model.outputName to stylized, model.normStatsOutput to ownStats)
        val started = SystemClock.elapsedRealtimeNanos()
        interpreter.runSignature(inputs, outputs, signature)
        return (SystemClock.elapsedRealtimeNanos() - started) / 1e6
    }

    override fun close() = opened.close()

    private companion object {
        fun floatBuffer(values: Int): ByteBuffer = ByteBuffer.allocateDirect(values * 4).order(ByteOrder.nativeOrder())
    }
}
