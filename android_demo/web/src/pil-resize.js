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

// Sums stay inside int32 exactly as in C (|weights| < 2^22 * ~1.3, 255 * 73 taps), so `| 0` mirrors C int math.
function horizontal(src, width, height, outWidth) {
  const { ksize, bounds, weights } = taps(width, outWidth);
  const out = new Uint8Array(outWidth * height * 3);
  for (let y = 0; y < height; y++) {
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = bounds[xx * 2];
      const count = bounds[xx * 2 + 1];
      let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      for (let x = 0; x < count; x++) {
        const w = weights[xx * ksize + x];
        const i = (y * width + xmin + x) * 3;
        r = (r + src[i] * w) | 0;
        g = (g + src[i + 1] * w) | 0;
        b = (b + src[i + 2] * w) | 0;
      }
      const o = (y * outWidth + xx) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

function vertical(src, width, height, outHeight) {
  const { ksize, bounds, weights } = taps(height, outHeight);
  const out = new Uint8Array(width * outHeight * 3);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2];
    const count = bounds[yy * 2 + 1];
    for (let x = 0; x < width; x++) {
      let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
      for (let y = 0; y < count; y++) {
        const w = weights[yy * ksize + y];
        const i = ((ymin + y) * width + x) * 3;
        r = (r + src[i] * w) | 0;
        g = (g + src[i + 1] * w) | 0;
        b = (b + src[i + 2] * w) | 0;
      }
      const o = (yy * width + x) * 3;
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
    }
  }
  return out;
}

/** Image.resize((outWidth, outHeight), Image.LANCZOS) on RGB bytes. */
export function resize(rgb, width, height, outWidth, outHeight) {
  let pixels = rgb;
  if (outWidth !== width) pixels = horizontal(pixels, width, height, outWidth);
  if (outHeight !== height) pixels = vertical(pixels, outWidth, height, outHeight);
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
