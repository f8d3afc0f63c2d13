// Pillow's Lanczos resize and mobilestyle.images.center_crop_square, ported (like the app's core/PilResize.java)
// so the page prepares a photo exactly as Python does. Pixels: Uint8Array RGB, row-major, 3 bytes per pixel.
// Pillow: src/libImaging/Resample.c — separable, horizontal pass then vertical, 22-bit fixed-point weights.

const PRECISION_BITS = 32 - 8 - 2;
const SUPPORT = 3.0;

function sinc(x) {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

function lanczos(x) {
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** Filter taps for one axis: bounds (first index, count) and Int32 fixed-point weights, ksize per output. */
function taps(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < count; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < count ? (ww !== 0 ? k[x] / ww : k[x]) : 0;
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { ksize, bounds, weights };
}

function clip8(sum) {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

// One separable pass along x (alongX) or y. Sums stay inside int32 exactly as in C (|weights| < 2^22 * ~1.3,
// 255 * 73 taps), so `| 0` mirrors C int math.
function resampleAxis(src, width, height, outLen, alongX) {
  const { ksize, bounds, weights } = taps(alongX ? width : height, outLen);
  const lines = alongX ? height : width;
  const outWidth = alongX ? outLen : width;
  const inStep = alongX ? 3 : width * 3;
  const outStep = alongX ? 3 : outWidth * 3;
  const out = new Uint8Array(outWidth * (alongX ? height : outLen) * 3);
  for (let line = 0; line < lines; line++) {
    const inBase = alongX ? line * width * 3 : line * 3;
    const outBase = alongX ? line * outWidth * 3 : line * 3;
    for (let o = 0; o < outLen; o++) {
      const first = bounds[o * 2];
      const count = bounds[o * 2 + 1];
      let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      for (let t = 0; t < count; t++) {
        const w = weights[o * ksize + t];
        const i = inBase + (first + t) * inStep;
        r = (r + src[i] * w) | 0;
        g = (g + src[i + 1] * w) | 0;
        b = (b + src[i + 2] * w) | 0;
      }
      const j = outBase + o * outStep;
      out[j] = clip8(r);
      out[j + 1] = clip8(g);
      out[j + 2] = clip8(b);
    }
  }
  return out;
}

/** Image.resize((outWidth, outHeight), Image.LANCZOS) on RGB bytes. */
export function resize(rgb, width, height, outWidth, outHeight) {
  let pixels = rgb;
  if (outWidth !== width) pixels = resampleAxis(pixels, width, height, outWidth, true);
  if (outHeight !== height) pixels = resampleAxis(pixels, outWidth, height, outHeight, false);
  return pixels;
}

/** Python's round(): half to even. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** mobilestyle.images.center_crop_square: short side to `size` (Lanczos), then the centre square. */
export function centerCropSquare(rgb, width, height, size) {
  const scale = size / Math.min(width, height);
  const newWidth = Math.max(1, roundHalfEven(width * scale));
  const newHeight = Math.max(1, roundHalfEven(height * scale));
  const scaled = newWidth === width && newHeight === height ? rgb : resize(rgb, width, height, newWidth, newHeight);
  const left = Math.floor((newWidth - size) / 2);
  const top = Math.floor((newHeight - size) / 2);
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const from = ((top + y) * newWidth + left) * 3;
    out.set(scaled.subarray(from, from + size * 3), y * size * 3);
  }
  return out;
}
