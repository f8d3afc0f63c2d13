// Pixels <-> model tensors, and the strength blend: the same arithmetic as the app's core (Pixels.java,
// Blend.java) and mobilestyle (images.tensor_to_image, demo_fixtures.blend). RGB bytes, 0..255 floats.
import { roundHalfEven } from "./pil-resize.js";

/** Canvas RGBA -> RGB bytes; transparent pixels are composited on white like mobilestyle.images.load_image. */
export function rgbaToRgb(rgba) {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    const a = rgba[i + 3];
    for (let c = 0; c < 3; c++) {
      rgb[j + c] = a === 255 ? rgba[i + c] : Math.round((rgba[i + c] * a + 255 * (255 - a)) / 255);
    }
  }
  return rgb;
}

export function rgbToRgba(rgb) {
  const rgba = new Uint8ClampedArray((rgb.length / 3) * 4);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgba[i] = rgb[j];
    rgba[i + 1] = rgb[j + 1];
    rgba[i + 2] = rgb[j + 2];
    rgba[i + 3] = 255;
  }
  return rgba;
}

/** RGB bytes -> NHWC float32 0..255 (TFLite layout). */
export function toNhwc(rgb) {
  return Float32Array.from(rgb);
}

/** NHWC <-> NCHW (ONNX layout) for one image of side x side. */
export function nhwcToNchw(nhwc, height, width) {
  const plane = height * width;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    out[p] = nhwc[p * 3];
    out[plane + p] = nhwc[p * 3 + 1];
    out[2 * plane + p] = nhwc[p * 3 + 2];
  }
  return out;
}

export function nchwToNhwc(nchw, height, width) {
  const plane = height * width;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    out[p * 3] = nchw[p];
    out[p * 3 + 1] = nchw[plane + p];
    out[p * 3 + 2] = nchw[2 * plane + p];
  }
  return out;
}

/** One channel value -> byte: clamp to 0..255, round half to even (NaN -> 0). */
export function toByte(value) {
  if (!(value > 0)) return 0;
  if (value >= 255) return 255;
  return roundHalfEven(value);
}

export function tensorToRgb(nhwc) {
  const rgb = new Uint8Array(nhwc.length);
  for (let i = 0; i < nhwc.length; i++) rgb[i] = toByte(nhwc[i]);
  return rgb;
}

/** strength * stylized + (1 - strength) * content in float32 (Math.fround at every step, as Java floats). */
export function blend(content, stylized, strength) {
  const s = Math.fround(strength);
  const keep = Math.fround(1 - s);
  const out = new Uint8Array(content.length);
  for (let i = 0; i < content.length; i++) {
    out[i] = toByte(Math.fround(Math.fround(s * stylized[i]) + Math.fround(keep * content[i])));
  }
  return out;
}

/** Keep the photo's colours (mobilestyle.controls.colors, YCbCr BT.601): the stylized luma with the photo's chroma,
 *  out = clamp(photo + (Y(stylized) - Y(photo)) * (1, 1, 1), 0, 255). photo: RGB bytes; stylized: NHWC floats. */
export const LUMA_BT601 = [0.299, 0.587, 0.114];

export function preserveColors(photo, stylized) {
  const [r, g, b] = LUMA_BT601.map(Math.fround);
  const out = new Float32Array(photo.length);
  for (let i = 0; i < photo.length; i += 3) {
    const delta = Math.fround(r * (stylized[i] - photo[i]) + g * (stylized[i + 1] - photo[i + 1]) + b * (stylized[i + 2] - photo[i + 2]));
    for (let c = 0; c < 3; c++) out[i + c] = Math.min(255, Math.max(0, Math.fround(photo[i + c] + delta)));
  }
  return out;
}

/** Keep the photo's fine detail (mobilestyle.controls.detail, KeepDetail.java): the photo's luma high-pass added back,
 *  out = clamp(stylized + amount * (Y(photo) - blur(Y(photo))) * (1, 1, 1), 0, 255), blur = the separable Gaussian of
 *  DETAIL_SIGMA px over ±ceil(3 sigma) taps, zero padding, each 1-D pass divided by the same pass over ones (the
 *  border normalisation of detail.py's _blur_along). In float32 (Math.fround at every step, as Java floats). With
 *  keep-colours the detail goes first (PreserveColors(KeepDetail(net)), as the CLI nests them). */
export const DETAIL_SIGMA = 1;

/** The 1-D Gaussian summing to 1, in double then rounded to float32 (detail.py's gaussian_kernel). */
export function detailKernel(sigma = DETAIL_SIGMA) {
  if (!(sigma >= 0.3 && sigma <= 8)) throw new Error(`detail blur sigma ${sigma} outside 0.3..8 px`);
  const radius = Math.ceil(3 * sigma);
  const weights = [];
  for (let k = -radius; k <= radius; k++) weights.push(Math.exp(-0.5 * (k / sigma) * (k / sigma)));
  const sum = weights.reduce((a, b) => a + b, 0);
  return Float32Array.from(weights, (w) => w / sum);
}

/** The kernel's weight inside a line of `length` pixels, per position (the 1-D blur of a line of ones). */
function insideWeights(length, kernel) {
  const radius = kernel.length >> 1;
  const out = new Float32Array(length);
  for (let x = 0; x < length; x++) {
    let sum = 0;
    for (let k = Math.max(-radius, -x); k <= Math.min(radius, length - 1 - x); k++) sum = Math.fround(sum + kernel[k + radius]);
    out[x] = sum;
  }
  return out;
}

/** The photo's luma detail Y - blur(Y): height * width float32, row-major. photo: RGB bytes (or NHWC floats). */
export function lumaDetail(photo, height, width, kernel = detailKernel()) {
  if (photo.length !== height * width * 3) throw new Error(`photo has ${photo.length} values, not ${height}x${width}x3`);
  const [lr, lg, lb] = LUMA_BT601.map(Math.fround);
  const f = Math.fround;
  const luma = new Float32Array(height * width);
  for (let i = 0, j = 0; i < luma.length; i++, j += 3) luma[i] = f(f(f(lr * photo[j]) + f(lg * photo[j + 1])) + f(lb * photo[j + 2]));
  const radius = kernel.length >> 1;
  const normW = insideWeights(width, kernel);
  const normH = insideWeights(height, kernel);
  const rows = new Float32Array(luma.length); // blurred along W
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = Math.max(-radius, -x); k <= Math.min(radius, width - 1 - x); k++) sum = f(sum + f(kernel[k + radius] * luma[row + x + k]));
      rows[row + x] = sum / normW[x];
    }
  }
  const sum = new Float32Array(width); // then along H, a row at a time: the same sums in the same order
  for (let y = 0; y < height; y++) {
    sum.fill(0);
    for (let k = Math.max(-radius, -y); k <= Math.min(radius, height - 1 - y); k++) {
      const weight = kernel[k + radius];
      const source = (y + k) * width;
      for (let x = 0; x < width; x++) sum[x] = sum[x] + f(weight * rows[source + x]);
    }
    const row = y * width;
    for (let x = 0; x < width; x++) luma[row + x] = luma[row + x] - f(sum[x] / normH[y]);
  }
  return luma;
}

/** keep_detail_array: NHWC float32 out, clamped to 0..255. stylized: the model's NHWC output for `photo`; `detail`:
 *  lumaDetail(photo) when computed before (it depends on the photo only). */
export function keepDetail(photo, stylized, height, width, amount, detail = lumaDetail(photo, height, width)) {
  if (!(amount >= 0 && amount <= 2)) throw new Error(`detail amount must be in 0..2, not ${amount}`);
  if (stylized.length !== detail.length * 3) throw new Error(`detail has ${detail.length} pixels, stylized ${stylized.length} values`);
  const a = Math.fround(amount);
  const out = new Float32Array(stylized.length);
  for (let i = 0, j = 0; i < detail.length; i++, j += 3) {
    const add = Math.fround(a * detail[i]);
    for (let c = 0; c < 3; c++) out[j + c] = Math.min(255, Math.max(0, Math.fround(stylized[j + c] + add)));
  }
  return out;
}
