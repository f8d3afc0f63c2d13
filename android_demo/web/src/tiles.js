// High-resolution photos by tiles: the whole photo in tiles of the model's fixed side, neighbours overlapping by at
// least `feather` px and blended with linear ramps (weights normalised per pixel); Python reference:
// stylize_per_tile in mobilestyle/controls/tiles.py. A plain exported file normalises each tile with its own
// instance-norm statistics, so tone drifts from tile to tile; with a norm-statistics file (`mobilestyle bundle
// --tiles`) `statsTileRunner` first takes the statistics of the photo's centre crop and normalises every tile with
// them (Python reference: stylize_whole_photo in export/norm_stats.py).
import { centerCropSquare } from "./pil-resize.js";
import { toNhwc } from "./pixels.js";

/** runTile for runTiled from a norm-statistics runner: pass 1 on the photo's centre crop, then every tile with it. */
export async function statsTileRunner(statsRunner, rgb, width, height, side) {
  const stats = await statsRunner.statistics(toNhwc(centerCropSquare(rgb, width, height, side)), side);
  return (nhwc) => statsRunner.run(nhwc, side, stats);
}

/** Tile origins along one axis: first at 0, last at length - side, evenly spread, overlaps >= feather. */
export function tileStarts(length, side, feather) {
  if (length <= side) return [0];
  const n = Math.ceil((length - feather) / (side - feather));
  return Array.from({ length: n }, (_, i) => Math.floor((i * (length - side)) / (n - 1)));
}

/** Weight of a tile's pixel at offset i (0..side-1): ramps up over `feather` px from each edge, 1 inside. */
export function ramp(side, feather) {
  return Float32Array.from({ length: side }, (_, i) => Math.min(1, (i + 0.5) / feather, (side - i - 0.5) / feather));
}

/**
 * Stylizes RGB bytes (width x height, both >= side) tile by tile with `runTile(nhwc)` (a side² NHWC float tile in,
 * the same size out); returns NHWC float32 0..255 of the whole photo.
 */
export async function runTiled(runTile, rgb, width, height, side, feather = 64) {
  const sum = new Float32Array(width * height * 3);
  const weights = new Float32Array(width * height);
  const weight = ramp(side, feather);
  const tile = new Uint8Array(side * side * 3);
  for (const y0 of tileStarts(height, side, feather)) {
    for (const x0 of tileStarts(width, side, feather)) {
      for (let y = 0; y < side; y++) tile.set(rgb.subarray(((y0 + y) * width + x0) * 3, ((y0 + y) * width + x0 + side) * 3), y * side * 3);
      const out = await runTile(toNhwc(tile));
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const w = weight[y] * weight[x];
          const p = (y0 + y) * width + x0 + x;
          weights[p] += w;
          for (let c = 0; c < 3; c++) sum[p * 3 + c] += w * out[(y * side + x) * 3 + c];
        }
      }
    }
  }
  for (let p = 0; p < weights.length; p++) for (let c = 0; c < 3; c++) sum[p * 3 + c] /= weights[p];
  return sum;
}
