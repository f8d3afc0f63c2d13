// High-resolution photos by tiles: the whole photo in tiles of the model's fixed side, neighbours overlapping by at
// least `feather` px and blended with linear ramps (weights normalised per pixel); Python reference:
// stylize_per_tile in mobilestyle/controls/tiles.py. A plain exported file normalises each tile with its own
// instance-norm statistics, so tone drifts from tile to tile; with a norm-statistics file (`mobilestyle bundle
// --tiles`) `statsTileRunner` first takes the statistics of the photo's centre crop and `runWindows` normalises every
// tile with them, reading 64 px of context around each core, so the result is the whole photo normalised with the
// crop's statistics (Python reference: stylize_whole_photo in export/norm_stats.py, the Java core's Tiler plan).
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

/** Feather and context margin for a file of side `tile` (Python feather_for / margin_for, Java featherFor / marginFor). */
export const featherFor = (tile) => Math.max(4, Math.min(32, Math.floor(tile / 16) * 4));
export const marginFor = (tile) => Math.max(0, Math.min(64, Math.floor((tile - Math.max(2 * featherFor(tile), 16)) / 2 / 4) * 4));

/** Core starts along one axis (multiples of 4), cores of `core` px overlapping by >= `feather` (Python `starts`). */
function coreStarts(length, core, feather) {
  if (length <= core) return [0];
  const positions = new Set();
  for (let p = 0; p < length - core; p += core - feather) positions.add(Math.floor(p / 4) * 4);
  positions.add(Math.floor((length - core) / 4) * 4);
  return [...positions].sort((a, b) => a - b);
}

/** Blend weights of one core: linear ramps over its overlaps with the previous and next core (Python `_ramp`). */
function coreRamp(core, before, after) {
  const weight = new Float32Array(core).fill(1);
  for (let i = 0; i < before; i++) weight[i] = Math.fround((i + 0.5) / before);
  for (let i = 0; i < after; i++) weight[core - after + i] = Math.min(weight[core - after + i], Math.fround((after - i - 0.5) / after));
  return weight;
}

/** (core start, core length, weights) per tile along one axis (Python `_axis_plan`). */
function axisPlan(length, core, feather) {
  core = Math.min(core, length);
  const starts = coreStarts(length, core, feather);
  return starts.map((s, i) => {
    const before = i > 0 ? starts[i - 1] + core - s : 0;
    const after = i + 1 < starts.length ? s + core - starts[i + 1] : 0;
    return { start: s, length: core, weight: coreRamp(core, Math.max(before, 0), Math.max(after, 0)) };
  });
}

/**
 * The whole photo through `runTile` (a tile² NHWC float window in, the same size out) with `margin` px of context
 * around each core of `tile - 2 margin` px, windows shifted inwards at the edges, cores blended with ramps over
 * their `feather`+ px overlaps (Python: controls.tiles.stylize_windows). Returns NHWC float32 of the whole photo.
 */
export async function runWindows(runTile, rgb, width, height, tile, margin = marginFor(tile), feather = featherFor(tile)) {
  const sum = new Float64Array(width * height * 3);
  const total = new Float64Array(width * height);
  const window = new Uint8Array(tile * tile * 3);
  const columns = axisPlan(width, tile - 2 * margin, feather);
  for (const ys of axisPlan(height, tile - 2 * margin, feather)) {
    const top = Math.min(Math.max(0, ys.start - margin), height - tile);
    for (const xs of columns) {
      const left = Math.min(Math.max(0, xs.start - margin), width - tile);
      for (let y = 0; y < tile; y++) window.set(rgb.subarray(((top + y) * width + left) * 3, ((top + y) * width + left + tile) * 3), y * tile * 3);
      const out = await runTile(toNhwc(window));
      for (let r = 0; r < ys.length; r++) {
        const y = ys.start + r;
        for (let c = 0; c < xs.length; c++) {
          const x = xs.start + c;
          const w = Math.fround(ys.weight[r] * xs.weight[c]);
          const from = ((y - top) * tile + (x - left)) * 3;
          total[y * width + x] += w;
          for (let k = 0; k < 3; k++) sum[(y * width + x) * 3 + k] += w * out[from + k];
        }
      }
    }
  }
  const result = new Float32Array(width * height * 3);
  for (let p = 0; p < total.length; p++) for (let k = 0; k < 3; k++) result[p * 3 + k] = sum[p * 3 + k] / total[p];
  return result;
}
