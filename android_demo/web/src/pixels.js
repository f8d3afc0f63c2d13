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
