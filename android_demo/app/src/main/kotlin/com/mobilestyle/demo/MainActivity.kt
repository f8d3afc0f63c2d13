package com.mobilestyle.demo

import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import android.os.Bundle
import android.provider.MediaStore
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.Switch
import android.widget.TextView
import android.widget.Toast
import com.mobilestyle.demo.core.Blend
import com.mobilestyle.demo.core.KeepColors
import com.mobilestyle.demo.core.Pixels
import com.mobilestyle.demo.core.StyleManifest
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Pick or take a photo, pick a bundled style, slide the strength, keep the photo's colours or not, save or share. Inference runs on one
 * background thread; the latency shown is the interpreter's invoke time for the last run.
 */
class MainActivity : Activity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private lateinit var catalog: StyleCatalog
    private lateinit var result: ImageView
    private lateinit var latency: TextView
    private lateinit var strengthLabel: TextView
    private lateinit var strength: SeekBar
    private lateinit var useGpu: Switch
    private lateinit var keepColors: Switch
    private lateinit var thumbnail: ImageView

    // UI thread state.
    private var style: StyleManifest.Style? = null
    private var photoUri: Uri? = null
    private var cameraTarget: Uri? = null
    private var content: IntArray? = null
    private var output: FloatArray? = null
    private var stylized: IntArray? = null
    private var side = 0

    // Worker thread state.
    private var runner: StyleRunner? = null
    private var crop: Crop? = null

    private class Crop(val uri: Uri, val side: Int, val argb: IntArray)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        result = findViewById(R.id.result)
        latency = findViewById(R.id.latency)
        strengthLabel = findViewById(R.id.strength_label)
        strength = findViewById(R.id.strength)
        useGpu = findViewById(R.id.use_gpu)
        keepColors = findViewById(R.id.keep_colors)
        thumbnail = findViewById(R.id.style_thumbnail)

        catalog = try {
            StyleCatalog.load(assets)
        } catch (e: IllegalArgumentException) {
            latency.text = getString(R.string.failed, e.message)
            return
        }
        if (catalog.styles.isEmpty()) {
            latency.setText(R.string.no_styles)
        }
        setUpStylePicker(findViewById(R.id.style_picker))
        strength.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) = showBlend()
            override fun onStartTrackingTouch(bar: SeekBar) = Unit
            override fun onStopTrackingTouch(bar: SeekBar) = Unit
        })
        useGpu.setOnCheckedChangeListener { _, _ -> style?.let { openStyle(it) } }
        keepColors.setOnCheckedChangeListener { _, _ ->
            updateStylized()
            showBlend()
        }
        findViewById<Button>(R.id.pick_photo).setOnClickListener { pickPhoto() }
        findViewById<Button>(R.id.take_photo).setOnClickListener { takePhoto() }
        findViewById<Button>(R.id.save).setOnClickListener { saveResult(share = false) }
        findViewById<Button>(R.id.share).setOnClickListener { saveResult(share = true) }
        showBlend()
        sharedImage(intent)?.let { usePhoto(it) }
    }

    override fun onDestroy() {
        worker.execute { runner?.close() }
        worker.shutdown()
        super.onDestroy()
    }

    private fun setUpStylePicker(picker: Spinner) {
        picker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, catalog.styles.map { it.name })
        picker.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) = openStyle(catalog.styles[position])
            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
    }

    private fun openStyle(chosen: StyleManifest.Style) {
        style = chosen
        thumbnail.setImageBitmap(catalog.thumbnail(chosen))
        val gpu = useGpu.isChecked
        val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
        val photo = photoUri
        worker.execute {
            runner?.close()
            val opened = StyleRunner(assets, catalog.modelPath(chosen), chosen.model("tflite")!!, gpu, threads)
            runner = opened
            if (opened.gpuRequestedButUnavailable) {
                runOnUiThread { Toast.makeText(this, R.string.gpu_unavailable, Toast.LENGTH_LONG).show() }
            }
            photo?.let { prepareAndRun(it, opened, chosen.name) }
        }
    }

    private fun usePhoto(uri: Uri) {
        photoUri = uri
        val name = style?.name.orEmpty()
        worker.execute { runner?.let { prepareAndRun(uri, it, name) } }
    }

    /** On the worker thread: crop the photo to the model's side (once per side) and stylize it. */
    private fun prepareAndRun(uri: Uri, styleRunner: StyleRunner, name: String) {
        try {
            val wanted = styleRunner.side(MAX_SIDE)
            val input = crop?.takeIf { it.uri == uri && it.side == wanted } ?: Crop(uri, wanted, PhotoIo.loadSquare(contentResolver, uri, wanted))
            crop = input
            val (values, millis) = styleRunner.stylize(input.argb, input.side)
            runOnUiThread {
                content = input.argb
                output = values
                side = input.side
                updateStylized()
                latency.text = getString(R.string.latency, name, input.side, millis, styleRunner.accelerator)
                showBlend()
            }
        } catch (e: Exception) {
            runOnUiThread { latency.text = getString(R.string.failed, e.message ?: e.javaClass.simpleName) }
        }
    }

    /** The model's output as pixels, with the photo's colours (its chroma, the output's luma) when asked. */
    private fun updateStylized() {
        val input = content
        val values = output
        stylized = when {
            input == null || values == null -> null
            keepColors.isChecked -> Pixels.toArgb(KeepColors.apply(Pixels.toTensor(input), values))
            else -> Pixels.toArgb(values)
        }
    }

    private fun blended(): IntArray? {
        val input = content ?: return null
        val output = stylized ?: return null
        if (input.size != output.size) return null
        return Blend.blend(input, output, strength.progress / 100f)
    }

    private fun showBlend() {
        strengthLabel.text = getString(R.string.strength, strength.progress)
        val pixels = blended() ?: content ?: return
        result.setImageBitmap(PhotoIo.toBitmap(pixels, side))
    }

    private fun pickPhoto() {
        val intent = Intent(Intent.ACTION_GET_CONTENT).setType("image/*").addCategory(Intent.CATEGORY_OPENABLE)
        startActivityForResult(Intent.createChooser(intent, getString(R.string.pick_photo)), REQUEST_PICK)
    }

    private fun takePhoto() {
        val target = PhotoIo.newCameraTarget(contentResolver) ?: return
        cameraTarget = target
        try {
            startActivityForResult(Intent(MediaStore.ACTION_IMAGE_CAPTURE).putExtra(MediaStore.EXTRA_OUTPUT, target), REQUEST_CAMERA)
        } catch (e: ActivityNotFoundException) {
            contentResolver.delete(target, null, null)
            latency.text = getString(R.string.failed, e.message ?: "no camera app")
        }
    }

    @Deprecated("Platform Activity result API (the app has no AndroidX dependency)")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        when {
            requestCode == REQUEST_PICK && resultCode == RESULT_OK -> data?.data?.let { usePhoto(it) }
            requestCode == REQUEST_CAMERA && resultCode == RESULT_OK -> cameraTarget?.let { usePhoto(it) }
            requestCode == REQUEST_CAMERA -> cameraTarget?.let { contentResolver.delete(it, null, null) }
        }
    }

    private fun saveResult(share: Boolean) {
        val pixels = blended()
        if (pixels == null) {
            Toast.makeText(this, R.string.no_photo, Toast.LENGTH_SHORT).show()
            return
        }
        val bitmap = PhotoIo.toBitmap(pixels, side)
        val name = "mobilestyle_${style?.name}_${System.currentTimeMillis()}"
        worker.execute {
            try {
                val uri = PhotoIo.save(contentResolver, bitmap, name)
                runOnUiThread {
                    if (share) {
                        val send = Intent(Intent.ACTION_SEND).setType("image/png").putExtra(Intent.EXTRA_STREAM, uri)
                            .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
                        startActivity(Intent.createChooser(send, getString(R.string.share)))
                    } else {
                        Toast.makeText(this, R.string.saved, Toast.LENGTH_SHORT).show()
                    }
                }
            } catch (e: Exception) {
                runOnUiThread { latency.text = getString(R.string.failed, e.message ?: e.javaClass.simpleName) }
            }
        }
    }

    @Suppress("DEPRECATION")
    private fun sharedImage(intent: Intent?): Uri? =
        if (intent?.action == Intent.ACTION_SEND) intent.getParcelableExtra(Intent.EXTRA_STREAM) else null

    private companion object {
        const val REQUEST_PICK = 1
        const val REQUEST_CAMERA = 2
        /** The largest model side the app asks for (bundles may hold several sizes per model). */
        const val MAX_SIDE = 512
    }
}
