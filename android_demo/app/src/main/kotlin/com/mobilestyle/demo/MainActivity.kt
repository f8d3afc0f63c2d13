package com.mobilestyle.demo

import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import android.os.Bundle
import android.os.SystemClock
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
import com.mobilestyle.demo.core.FixedStatsTiles
import com.mobilestyle.demo.core.KeepColors
import com.mobilestyle.demo.core.KeepDetail
import com.mobilestyle.demo.core.Mixes
import com.mobilestyle.demo.core.Pixels
import com.mobilestyle.demo.core.StyleManifest
import com.mobilestyle.demo.core.Tiler
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger

/**
 * Pick or take a photo, pick a bundled style, mix it with a partner style along the bundled ladder, slide the
 * strength, keep the photo's colours or not, keep some of its fine detail, stylize the centre crop or the whole photo
 * in tiles, save or share.
 * Whole photos run through the style's norm-statistics file when the bundle has one (one set of instance-norm
 * statistics from the centre crop, [FixedStatsTiles]), else through its model tile by tile (tone may vary).
 *
 * Inference runs on one background thread. Every change of style, mix step, photo, GPU or tiles switch makes one
 * [Request]; the worker serves only the newest one (older queued ones are skipped, a tile run in progress stops at
 * its next tile). The strength and keep-colours controls work on the last result without running the model again.
 * The keep-detail slider is part of the request too, but a request that differs from the last run only in it reuses
 * that run's float output ([Output]): the worker adds the photo's detail to it (detail first, then colours, as
 * `stylize --keep-detail A --preserve-colors`) without running the model, and does not stop a tile run.
 */
class MainActivity : Activity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private val saver: ExecutorService = Executors.newSingleThreadExecutor()

    /** Bumped on the UI thread for every new request; the worker drops the work of older ones. */
    private val generation = AtomicInteger()

    /** Bumped for every request that needs another model run (not for a keep-detail change): stops a tile run. */
    private val runGeneration = AtomicInteger()

    private lateinit var catalog: StyleCatalog
    private lateinit var result: ImageView
    private lateinit var status: TextView
    private lateinit var strengthLabel: TextView
    private lateinit var strength: SeekBar
    private lateinit var useGpu: Switch
    private lateinit var keepColors: Switch
    private lateinit var keepDetailLabel: TextView
    private lateinit var keepDetail: SeekBar
    private lateinit var tiles: Switch
    private lateinit var thumbnail: ImageView
    private lateinit var stylePicker: Spinner
    private lateinit var mixControls: View
    private lateinit var mixPartner: Spinner
    private lateinit var mixLabel: TextView
    private lateinit var mix: SeekBar

    // UI thread state.
    /** The style picker's choice (never a mix). */
    private var primary: StyleManifest.Style? = null
    private var partners: List<StyleManifest.Style> = emptyList()
    private var partner: StyleManifest.Style? = null
    /** The mix slider's positions: index = progress, from the primary alone to the partner alone; empty without partners. */
    private var ladder: List<Mixes.Point> = emptyList()
    /** True while the code itself moves the mix controls (their listeners then do nothing). */
    private var settingUpMix = false
    private var photoUri: Uri? = null
    private var cameraTarget: Uri? = null
    private var requested: Request? = null
    private var shown: Stylized? = null

    // Worker thread state.
    private var runner: StyleRunner? = null
    private var runnerKey: Pair<String, Boolean>? = null
    private var tileRunner: TileStatsRunner? = null
    private var tileRunnerKey: Pair<String, Boolean>? = null
    private var input: Input? = null
    private var output: Output? = null

    /**
     * What the screen asks for: the style whose model runs (the primary or a ladder point), the photo, how, and the
     * keep-detail amount (0 = off) added to the model's output.
     */
    private data class Request(val style: StyleManifest.Style, val gpu: Boolean, val photo: Uri?, val tiled: Boolean, val detail: Float) {
        /** The same model run (only the keep-detail amount may differ). */
        fun sameRun(other: Request?): Boolean =
            other != null && style == other.style && gpu == other.gpu && photo == other.photo && tiled == other.tiled
    }

    /** A decoded photo: the centre crop of the model's side, or the whole photo for tiles (with a note if downscaled). */
    private class Input(val uri: Uri, val tiled: Boolean, val argb: IntArray, val width: Int, val height: Int, val note: String?)

    /**
     * One model run, kept on the worker so that another keep-detail amount needs no new run: the photo it ran on (the
     * crop, or the whole photo), the model's NHWC float output for it, the status line, and the photo's luma detail
     * ([KeepDetail.lumaDetail], computed the first time an amount above 0 asks for it).
     */
    private class Output(val request: Request, val photo: Input, val values: FloatArray, val status: String) {
        private var detail: FloatArray? = null

        fun detail(): FloatArray = detail ?: KeepDetail.lumaDetail(photo.argb, photo.height, photo.width).also { detail = it }
    }

    /**
     * One stylized photo: full-size pixels (saved and shared) and a preview at most [PREVIEW_SIDE] px long (shown and
     * re-blended on the UI thread when the strength or keep-colours controls change). [plain] is the model's output
     * (with the photo's detail at the requested amount), [kept] the same with the photo's colours.
     */
    private class Stylized(
        val style: String,
        val width: Int,
        val height: Int,
        val content: IntArray,
        val plain: IntArray,
        val kept: IntArray,
        val previewWidth: Int,
        val previewHeight: Int,
        val previewContent: IntArray,
        val previewPlain: IntArray,
        val previewKept: IntArray,
        val status: String
    )

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        result = findViewById(R.id.result)
        status = findViewById(R.id.latency)
        strengthLabel = findViewById(R.id.strength_label)
        strength = findViewById(R.id.strength)
        useGpu = findViewById(R.id.use_gpu)
        keepColors = findViewById(R.id.keep_colors)
        keepDetailLabel = findViewById(R.id.keep_detail_label)
        keepDetail = findViewById(R.id.keep_detail)
        tiles = findViewById(R.id.whole_photo)
        thumbnail = findViewById(R.id.style_thumbnail)
        stylePicker = findViewById(R.id.style_picker)
        mixControls = findViewById(R.id.mix_controls)
        mixPartner = findViewById(R.id.mix_partner)
        mixLabel = findViewById(R.id.mix_label)
        mix = findViewById(R.id.mix)
        mixControls.visibility = View.GONE

        catalog = try {
            StyleCatalog.load(assets)
        } catch (e: IllegalArgumentException) {
            status.text = getString(R.string.failed, e.message)
            return
        }
        if (catalog.pickable.isEmpty()) {
            status.setText(R.string.no_styles)
        }
        strength.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) = showBlend()
            override fun onStartTrackingTouch(bar: SeekBar) = Unit
            override fun onStopTrackingTouch(bar: SeekBar) = Unit
        })
        useGpu.setOnCheckedChangeListener { _, _ -> refresh() }
        tiles.setOnCheckedChangeListener { _, _ -> refresh() }
        keepColors.setOnCheckedChangeListener { _, _ -> showBlend() }
        keepDetail.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) {
                showKeepDetailLabel()
                refresh()
            }

            override fun onStartTrackingTouch(bar: SeekBar) = Unit
            override fun onStopTrackingTouch(bar: SeekBar) = Unit
        })
        showKeepDetailLabel()
        findViewById<Button>(R.id.pick_photo).setOnClickListener { pickPhoto() }
        findViewById<Button>(R.id.take_photo).setOnClickListener { takePhoto() }
        findViewById<Button>(R.id.save).setOnClickListener { saveResult(share = false) }
        findViewById<Button>(R.id.share).setOnClickListener { saveResult(share = true) }
        setUpMixControls()
        setUpStylePicker()
        showBlend()
        sharedImage(intent)?.let { usePhoto(it) }
    }

    override fun onDestroy() {
        generation.incrementAndGet()
        runGeneration.incrementAndGet() // stops a tile run at its next tile
        worker.execute {
            runner?.close()
            tileRunner?.close()
        }
        worker.shutdown()
        saver.shutdown()
        super.onDestroy()
    }

    private fun setUpStylePicker() {
        stylePicker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, catalog.pickable.map { it.name })
        stylePicker.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                catalog.pickable.getOrNull(position)?.let { selectPrimary(it) }
            }

            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
        catalog.pickable.firstOrNull()?.let { selectPrimary(it) }
    }

    private fun setUpMixControls() {
        mixPartner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                if (!settingUpMix) partners.getOrNull(position)?.let { selectPartner(it) }
            }

            override fun onNothingSelected(parent: AdapterView<*>) = Unit
        }
        mix.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) {
                if (settingUpMix) return
                showMixLabel()
                refresh()
            }

            override fun onStartTrackingTouch(bar: SeekBar) = Unit
            override fun onStopTrackingTouch(bar: SeekBar) = Unit
        })
    }

    /** A style picked in the style picker: its partners fill the "Mix with" spinner, the mix slider starts at it alone. */
    private fun selectPrimary(chosen: StyleManifest.Style) {
        if (chosen === primary) return
        primary = chosen
        partners = catalog.mixes.partners(chosen.name)
        partner = partners.firstOrNull()
        ladder = partner?.let { catalog.mixes.ladder(chosen.name, it.name) } ?: emptyList()
        settingUpMix = true
        mixPartner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, partners.map { it.name })
        if (ladder.isNotEmpty()) {
            mixPartner.setSelection(0)
            mix.max = ladder.size - 1
            mix.progress = 0
        }
        settingUpMix = false
        mixControls.visibility = if (ladder.isEmpty()) View.GONE else View.VISIBLE
        mixPartner.isEnabled = partners.size > 1
        showMixLabel()
        refresh()
    }

    /** Another partner: its ladder replaces the slider's positions, keeping the nearest share to the current one. */
    private fun selectPartner(chosen: StyleManifest.Style) {
        val first = primary ?: return
        if (chosen === partner) return
        val share = ladder.getOrNull(mix.progress)?.share ?: 0.0
        partner = chosen
        ladder = catalog.mixes.ladder(first.name, chosen.name)
        settingUpMix = true
        mix.max = ladder.size - 1
        mix.progress = Mixes.nearestIndex(ladder, share)
        settingUpMix = false
        showMixLabel()
        refresh()
    }

    /** The style whose model runs: the ladder point under the mix slider, or the primary style when it has no mixes. */
    private fun current(): StyleManifest.Style? = ladder.getOrNull(mix.progress)?.style ?: primary

    private fun showMixLabel() {
        val point = ladder.getOrNull(mix.progress)
        val first = primary
        val second = partner
        if (point == null || first == null || second == null) {
            mixLabel.text = ""
            return
        }
        val percent = Math.round(point.share * 100).toInt()
        mixLabel.text = getString(R.string.mix_label, first.name, 100 - percent, second.name, percent, point.style.name)
    }

    /** The keep-detail slider's amount: 0..1 in steps of 0.01 (0 = off). */
    private fun detailAmount(): Float = keepDetail.progress / 100f

    private fun showKeepDetailLabel() {
        val amount = detailAmount()
        keepDetailLabel.text = if (amount > 0f) getString(R.string.keep_detail, amount) else getString(R.string.keep_detail_off)
    }

    private fun usePhoto(uri: Uri) {
        photoUri = uri
        refresh()
    }

    /** Asks the worker for the screen's current request, unless it is the one asked for last. */
    private fun refresh() {
        val style = current() ?: return
        val request = Request(style, useGpu.isChecked, photoUri, tiles.isChecked, detailAmount())
        if (request == requested) return
        val newRun = !request.sameRun(requested)
        requested = request
        val ticket = generation.incrementAndGet()
        val runTicket = if (newRun) runGeneration.incrementAndGet() else runGeneration.get()
        if (newRun) {
            thumbnail.setImageBitmap(catalog.thumbnail(style))
            if (request.photo != null) {
                status.text = getString(R.string.working, style.name)
            }
        }
        worker.execute { serve(request, ticket, runTicket) }
    }

    /**
     * On the worker thread: open the request's model (when it changed) and stylize its photo, unless a newer request
     * waits; a request that differs from the last run only in its keep-detail amount reuses that run's output.
     */
    private fun serve(request: Request, ticket: Int, runTicket: Int) {
        if (ticket != generation.get()) return // a newer request is queued behind this one
        try {
            val fixedStats = request.tiled && catalog.tilesModel(request.style) != null
            if (fixedStats) tileRunnerFor(request) else runnerFor(request) // opened before a photo is picked
            val uri = request.photo ?: return
            val ran = output?.takeIf { it.request.sameRun(request) } ?: run {
                output = null // let the previous run's float output go before running
                if (request.tiled) {
                    stylizeWhole(uri, request, runTicket)
                } else {
                    stylizeCrop(uri, runnerFor(request), request, null)
                }
            }
            output = ran
            if (ticket != generation.get()) return // a newer request (maybe another keep-detail amount) reuses it
            val done = compose(ran, request.detail)
            runOnUiThread { if (ticket == generation.get()) show(done) }
        } catch (e: CancellationException) {
            // Superseded by a newer request while tiling: that one runs next.
        } catch (e: OutOfMemoryError) {
            input = null
            output = null
            runOnUiThread { if (ticket == generation.get()) status.text = getString(R.string.out_of_memory) }
        } catch (e: Exception) {
            runOnUiThread { if (ticket == generation.get()) status.text = getString(R.string.failed, e.message ?: e.javaClass.simpleName) }
        }
    }

    private fun runnerFor(request: Request): StyleRunner {
        val key = request.style.name to request.gpu
        runner?.let { if (runnerKey == key) return it }
        runner?.close()
        runner = null
        runnerKey = null
        val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
        val opened = StyleRunner(assets, catalog.modelPath(request.style), request.style.model("tflite")!!, request.gpu, threads)
        runner = opened
        runnerKey = key
        if (opened.gpuRequestedButUnavailable) {
            runOnUiThread { Toast.makeText(this, R.string.gpu_unavailable, Toast.LENGTH_LONG).show() }
        }
        return opened
    }

    /** The style's norm-statistics file in the interpreter (only for styles that have one: [StyleCatalog.tilesModel]). */
    private fun tileRunnerFor(request: Request): TileStatsRunner {
        val key = request.style.name to request.gpu
        tileRunner?.let { if (tileRunnerKey == key) return it }
        tileRunner?.close()
        tileRunner = null
        tileRunnerKey = null
        val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, 4)
        val model = catalog.tilesModel(request.style)!!
        val opened = TileStatsRunner(assets, catalog.tilesModelPath(request.style)!!, model, request.gpu, threads)
        tileRunner = opened
        tileRunnerKey = key
        if (opened.gpuRequestedButUnavailable) {
            runOnUiThread { Toast.makeText(this, R.string.gpu_unavailable, Toast.LENGTH_LONG).show() }
        }
        return opened
    }

    /** On the worker thread: the centre crop of the model's side (decoded once per photo and side), stylized in one run. */
    private fun stylizeCrop(uri: Uri, styleRunner: StyleRunner, request: Request, note: String?): Output {
        val name = request.style.name
        val side = styleRunner.side(MAX_SIDE)
        val photo = input?.takeIf { it.uri == uri && !it.tiled && it.width == side } ?: run {
            input = null // let a cached whole photo go before decoding
            Input(uri, false, PhotoIo.loadSquare(contentResolver, uri, side), side, side, null)
        }
        input = photo
        val (values, millis) = styleRunner.stylize(photo.argb, side)
        val text = getString(R.string.latency, name, side, millis, styleRunner.accelerator) + (note?.let { "\n$it" } ?: "")
        return Output(request, photo, values, text)
    }

    /**
     * On the worker thread: a run's pixels at a keep-detail amount, as Python composes the controls (detail first,
     * then colours: `PreserveColors(KeepDetail(net))`), with and without the colours, full size and preview. Amount 0
     * leaves the model's output as it is.
     */
    private fun compose(ran: Output, amount: Float): Stylized {
        val photo = ran.photo
        val (plain, kept) = if (amount > 0f) {
            val detail = ran.detail()
            val withDetail = KeepDetail.toArgb(photo.argb, detail, ran.values, amount, false)
            withDetail to KeepDetail.toArgb(photo.argb, detail, ran.values, amount, true)
        } else {
            Pixels.toArgb(ran.values) to KeepColors.toArgb(photo.argb, ran.values)
        }
        val name = ran.request.style.name
        if (!photo.tiled) { // the crop: at most MAX_SIDE, its own preview
            val (width, height) = photo.width to photo.height
            return Stylized(name, width, height, photo.argb, plain, kept, width, height, photo.argb, plain, kept, ran.status)
        }
        val (previewWidth, previewHeight) = Tiler.fit(photo.width, photo.height, PREVIEW_SIDE, Long.MAX_VALUE)
        return Stylized(
            name, photo.width, photo.height, photo.argb, plain, kept, previewWidth, previewHeight,
            PhotoIo.scaled(photo.argb, photo.width, photo.height, previewWidth, previewHeight),
            PhotoIo.scaled(plain, photo.width, photo.height, previewWidth, previewHeight),
            PhotoIo.scaled(kept, photo.width, photo.height, previewWidth, previewHeight),
            ran.status
        )
    }

    /**
     * On the worker thread: the whole photo (decoded once per photo, capped to [MAX_WHOLE_SIDE] px and the heap) in
     * overlapping tiles with feathered seams ([Tiler]). With the style's norm-statistics file ([TileStatsRunner]),
     * every tile is normalised with the statistics of the photo's centre crop ([FixedStatsTiles]: one pass on the
     * crop, then the tiles); without one, the model runs tile by tile, each tile with its own statistics (tone may
     * vary between tiles, see README). A photo smaller than one tile gets the centre crop instead.
     */
    private fun stylizeWhole(uri: Uri, request: Request, runTicket: Int): Output {
        val name = request.style.name
        val statsRunner = if (catalog.tilesModel(request.style) != null) tileRunnerFor(request) else null
        val styleRunner = if (statsRunner == null) runnerFor(request) else null
        val tile = statsRunner?.side ?: styleRunner!!.side(MAX_SIDE)
        val photo = input?.takeIf { it.uri == uri && it.tiled } ?: run {
            input = null // let the previous photo go before decoding
            val maxPixels = Runtime.getRuntime().maxMemory() / 2 / BYTES_PER_WHOLE_PIXEL
            val whole = PhotoIo.loadWhole(contentResolver, uri, MAX_WHOLE_SIDE, maxPixels)
            val note = if (whole.downscaled) {
                getString(R.string.tiles_downscaled, whole.sourceWidth, whole.sourceHeight, whole.width, whole.height, MAX_WHOLE_SIDE)
            } else {
                null
            }
            Input(uri, true, whole.argb, whole.width, whole.height, note)
        }
        input = photo
        if (photo.width < tile || photo.height < tile) {
            return stylizeCrop(uri, runnerFor(request), request, getString(R.string.tiles_too_small, photo.width, photo.height, tile))
        }
        val margin = Tiler.marginFor(tile)
        val feather = Tiler.featherFor(tile)
        val count = Tiler.count(photo.height, photo.width, tile, margin, feather)
        var done = 0
        var invokeMillis = 0.0
        var posted = 0L
        val started = SystemClock.elapsedRealtime()
        fun checkCurrent() {
            if (runTicket != runGeneration.get()) throw CancellationException("superseded")
        }
        fun tileDone(millis: Double) {
            done++
            invokeMillis += millis
            val now = SystemClock.elapsedRealtime()
            if (now - posted >= PROGRESS_EVERY_MS) {
                posted = now
                val text = getString(R.string.tiles_progress, name, done, count)
                runOnUiThread { if (runTicket == runGeneration.get()) status.text = text }
            }
        }
        // The float output (12 bytes a pixel) is kept with the run: another keep-detail amount recomposes it.
        val values = if (statsRunner != null) {
            FixedStatsTiles.runArgb(photo.argb, photo.height, photo.width, tile, margin, feather, object : FixedStatsTiles.StatsModel {
                override fun statistics(window: FloatArray): FloatArray {
                    checkCurrent()
                    return statsRunner.statistics(window).first
                }

                override fun run(window: FloatArray, statistics: FloatArray): FloatArray {
                    checkCurrent()
                    val (out, millis) = statsRunner.stylize(window, statistics)
                    tileDone(millis)
                    return out
                }
            })
        } else {
            Tiler.runArgb(photo.argb, photo.height, photo.width, tile, margin, feather) { window ->
                checkCurrent()
                val (out, millis) = styleRunner!!.stylizeTensor(window, tile)
                tileDone(millis)
                out
            }
        }
        val wallMillis = SystemClock.elapsedRealtime() - started
        val accelerator = statsRunner?.accelerator ?: styleRunner!!.accelerator
        val tone = if (statsRunner != null) getString(R.string.tiles_fixed_stats, tile) else getString(R.string.tiles_own_stats)
        val text = getString(
            R.string.tiles_latency, name, photo.width, photo.height, count, tile, wallMillis, invokeMillis / count, accelerator
        ) + "\n" + tone + (photo.note?.let { "\n$it" } ?: "")
        return Output(request, photo, values, text)
    }

    private fun show(done: Stylized) {
        shown = done
        status.text = done.status
        showBlend()
    }

    private fun showBlend() {
        strengthLabel.text = getString(R.string.strength, strength.progress)
        val last = shown ?: return
        val stylized = if (keepColors.isChecked) last.previewKept else last.previewPlain
        val pixels = Blend.blend(last.previewContent, stylized, strength.progress / 100f)
        result.setImageBitmap(PhotoIo.toBitmap(pixels, last.previewWidth, last.previewHeight))
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
            status.text = getString(R.string.failed, e.message ?: "no camera app")
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

    /** Blends the full-size result at the current strength and saves it (off the UI thread: whole photos are large). */
    private fun saveResult(share: Boolean) {
        val last = shown
        if (last == null) {
            Toast.makeText(this, R.string.no_photo, Toast.LENGTH_SHORT).show()
            return
        }
        val stylized = if (keepColors.isChecked) last.kept else last.plain
        val amount = strength.progress / 100f
        val name = "mobilestyle_${last.style}_${System.currentTimeMillis()}"
        saver.execute {
            try {
                val bitmap = PhotoIo.toBitmap(Blend.blend(last.content, stylized, amount), last.width, last.height)
                val uri = PhotoIo.save(contentResolver, bitmap, name)
                bitmap.recycle()
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
                runOnUiThread { status.text = getString(R.string.failed, e.message ?: e.javaClass.simpleName) }
            } catch (e: OutOfMemoryError) {
                runOnUiThread { status.text = getString(R.string.out_of_memory) }
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
        /** Whole photos (tiles switch) are decoded at most this long, and smaller when the heap is small. */
        const val MAX_WHOLE_SIDE = 4096
        /**
         * Heap bytes a whole-photo pixel can take at the peak: the photo, the float output (kept for keep-detail) and
         * the running weights (4 + 12 + 4), the photo's luma detail (4), both results (8), the previous result still
         * shown (12). Whole photos get at most half the heap at this rate.
         */
        const val BYTES_PER_WHOLE_PIXEL = 44L
        /** Long side of the previews shown (and re-blended live); saving uses the full size. */
        const val PREVIEW_SIDE = 1280
        const val PROGRESS_EVERY_MS = 250L
    }
}
