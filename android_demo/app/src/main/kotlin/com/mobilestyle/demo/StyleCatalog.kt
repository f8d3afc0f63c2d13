package com.mobilestyle.demo

import android.content.res.AssetManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import com.mobilestyle.demo.core.Mixes
import com.mobilestyle.demo.core.StyleManifest

/** The styles `mobilestyle bundle` put in assets/styles/ (manifest.json, validated by the core module). */
class StyleCatalog private constructor(private val assets: AssetManager, val manifest: StyleManifest) {

    /** Styles the app can run: those with a TFLite model (plain styles and mixes). */
    val styles: List<StyleManifest.Style> = manifest.stylesWith("tflite")

    /** The mix ladders between the styles the app can run (a mix whose partner has no TFLite model is ignored). */
    val mixes: Mixes = Mixes.of(styles)

    /** What the style picker lists: the styles that are not mixes, in manifest order. */
    val pickable: List<StyleManifest.Style> = mixes.pickable()

    fun thumbnail(style: StyleManifest.Style): Bitmap? =
        style.thumbnail?.let { name -> assets.open("$FOLDER/$name").use { BitmapFactory.decodeStream(it) } }

    fun modelPath(style: StyleManifest.Style): String = "$FOLDER/${style.model("tflite")!!.file}"

    /**
     * The style's norm-statistics file (`mobilestyle bundle --tiles`: `NAME.tiles.tflite`), or null. Plain styles and
     * mixes alike: a mix step has one when the bundle wrote one for that entry. Whole photos then run with one set of
     * instance-norm statistics; without one, each tile is normalised with its own.
     */
    fun tilesModel(style: StyleManifest.Style): StyleManifest.TilesModel? = style.tilesModel("tflite")

    /** The asset path of [tilesModel], or null. */
    fun tilesModelPath(style: StyleManifest.Style): String? = tilesModel(style)?.let { "$FOLDER/${it.file}" }

    companion object {
        const val FOLDER = "styles"

        /** Reads and validates the manifest; an app built without bundled styles gets an empty catalog. */
        fun load(assets: AssetManager): StyleCatalog {
            val names = assets.list(FOLDER).orEmpty()
            if ("manifest.json" !in names) {
                return StyleCatalog(assets, StyleManifest.parse("{\"schema\": 1, \"styles\": []}"))
            }
            val text = assets.open("$FOLDER/manifest.json").use { it.readBytes().toString(Charsets.UTF_8) }
            return StyleCatalog(assets, StyleManifest.parse(text))
        }
    }
}
