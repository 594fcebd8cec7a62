/**
 * The ImageFolder pixel transform, pure (no files): decoded RGB → grey or RGB → torchvision's `Resize(S)` then
 * `CenterCrop((H, W))` with S = max(H, W), i.e. the shorter side scaled to S (the longer one to int(S · long / short)),
 * bilinear, then the centre H × W cut out (offsets rounded half to even, as Python's round()).
 *
 * The resize is Pillow's (torchvision resizes PIL images with `Image.resize(size, BILINEAR)`): a triangle filter whose
 * support widens with the reduction factor (so downscaling is antialiased), weights in 22-bit fixed point, a horizontal
 * pass rounded to 8 bits, then a vertical pass (Pillow src/libImaging/Resample.c). Only the output pixels inside the
 * crop are computed. Grey is Pillow's `convert("L")`: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2).
 */

/** Decoded pixels, interleaved rows of `channels` 8-bit samples. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Pillow's ImagingResample precision: 32 bits − 8 for the sample − 2 for sign and overflow headroom. */
const PRECISION_BITS = 22;

/** One output sample's taps along one axis: the first input index and the fixed-point weights. */
interface AxisCoefficients {
  first: Int32Array;
  weights: Int32Array[];
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter, for outputs [start, start + count). */
function axisCoefficients(inSize: number, outSize: number, start: number, count: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = 1 * filterScale;
  const first = new Int32Array(count);
  const weights: Int32Array[] = [];
  for (let i = 0; i < count; i++) {
    const center = (start + i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(center - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(center + support + 0.5));
    const raw: number[] = [];
    let total = 0;
    for (let x = lo; x < hi; x++) {
      const t = Math.abs((x - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      raw.push(w);
      total += w;
    }
    const fixed = new Int32Array(raw.length);
    raw.forEach((w, k) => {
      const normalised = total !== 0 ? w / total : w;
      fixed[k] = Math.trunc(
        normalised < 0 ? -0.5 + normalised * (1 << PRECISION_BITS) : 0.5 + normalised * (1 << PRECISION_BITS),
      );
    });
    first[i] = lo;
    weights.push(fixed);
  }
  return { first, weights };
}

/** Pillow's clip8 of a fixed-point sum that already holds the rounding half. */
function clip8(sum: number): number {
  if (sum >= 1 << (PRECISION_BITS + 8)) return 255;
  if (sum <= 0) return 0;
  return Math.floor(sum / (1 << PRECISION_BITS));
}

/** Python's round() on x.5 values: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's Resize(S) output size for an image of width × height (shorter side S, aspect kept, truncated). */
export function resizedSize(width: number, height: number, side: number): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((side * long) / short);
  return width <= height ? { width: side, height: newLong } : { width: newLong, height: side };
}

/** Pillow's `convert("L")` of interleaved RGB (or RGBA: alpha ignored, as `convert("RGB")` drops it). */
export function toGrey(image: Pixels): Pixels {
  if (image.channels === 1) return image;
  const pixels = image.width * image.height;
  const out = new Uint8Array(pixels);
  const { data, channels } = image;
  for (let p = 0; p < pixels; p++) {
    const o = p * channels;
    out[p] = (data[o] * 19595 + data[o + 1] * 38470 + data[o + 2] * 7471 + 0x8000) >>> 16;
  }
  return { width: image.width, height: image.height, channels: 1, data: out };
}

/** Interleaved RGB from grey (replicated) or RGBA (alpha dropped, as Pillow's `convert("RGB")`). */
export function toRgb(image: Pixels): Pixels {
  if (image.channels === 3) return image;
  const pixels = image.width * image.height;
  const out = new Uint8Array(pixels * 3);
  const { data, channels } = image;
  for (let p = 0; p < pixels; p++) {
    if (channels === 1) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = data[p];
    else for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * channels + c];
  }
  return { width: image.width, height: image.height, channels: 3, data: out };
}

/**
 * `Resize(max(H, W))` then `CenterCrop((H, W))` of an image already in the output's channel count, written into
 * `out` (H × W × channels, from `offset`).
 */
export function resizeCenterCrop(image: Pixels, height: number, width: number, out: Uint8Array, offset = 0): void {
  const { channels, data } = image;
  const resized = resizedSize(image.width, image.height, Math.max(height, width));
  const top = roundHalfEven((resized.height - height) / 2);
  const left = roundHalfEven((resized.width - width) / 2);
  const horizontal = axisCoefficients(image.width, resized.width, left, width);
  const vertical = axisCoefficients(image.height, resized.height, top, height);
  // The rows the vertical pass reads, resampled horizontally once each (Pillow's ybox_first .. ybox_last).
  const rowFirst = vertical.first[0];
  let rowEnd = 0;
  for (let y = 0; y < height; y++) rowEnd = Math.max(rowEnd, vertical.first[y] + vertical.weights[y].length);
  const rowCount = Math.max(0, rowEnd - rowFirst);
  const temp = new Uint8Array(rowCount * width * channels);
  const half = 1 << (PRECISION_BITS - 1);
  for (let r = 0; r < rowCount; r++) {
    const rowBase = (rowFirst + r) * image.width * channels;
    for (let x = 0; x < width; x++) {
      const taps = horizontal.weights[x];
      const base = rowBase + horizontal.first[x] * channels;
      for (let c = 0; c < channels; c++) {
        let sum = half;
        for (let k = 0; k < taps.length; k++) sum += data[base + k * channels + c] * taps[k];
        temp[(r * width + x) * channels + c] = clip8(sum);
      }
    }
  }
  const rowSize = width * channels;
  for (let y = 0; y < height; y++) {
    const taps = vertical.weights[y];
    const base = (vertical.first[y] - rowFirst) * rowSize;
    const target = offset + y * rowSize;
    for (let i = 0; i < rowSize; i++) {
      let sum = half;
      for (let k = 0; k < taps.length; k++) sum += temp[base + k * rowSize + i] * taps[k];
      out[target + i] = clip8(sum);
    }
  }
}
