/**
 * PNG and JPEG files to 8-bit pixels with two well-kept pure-JS decoders: pngjs (every colour type: grey, grey + alpha,
 * palette, RGB, RGBA; 1–16 bits, interlaced; 16-bit samples are scaled to 8 bits) and jpeg-js (baseline and progressive,
 * grey, YCbCr, CMYK/YCCK with Adobe's transform). The format is told by the file's signature, not its name. Sizes are
 * checked from the header before any pixel is decoded, so a hostile file can't make the decoder allocate gigabytes.
 */
import { PNG } from "pngjs";
import { decode as decodeJpeg } from "jpeg-js";
import { DatasetError } from "./dataset";
import type { Pixels } from "./imageTransform";

/** Largest image decoded, in pixels (a 64-megapixel image is 256 MB as RGBA). */
export const MAX_IMAGE_PIXELS = 64_000_000;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export type ImageFormat = "png" | "jpeg";

export function imageFormatOf(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return null;
}

function checkPixels(width: number, height: number, file: string): void {
  if (width <= 0 || height <= 0) throw new DatasetError(`${file}: image of ${width}×${height} pixels`);
  if (width * height > MAX_IMAGE_PIXELS)
    throw new DatasetError(
      `${file}: ${width}×${height} pixels is over the ${MAX_IMAGE_PIXELS / 1e6}-megapixel limit for one image`,
    );
}

function decodePng(bytes: Buffer, file: string): Pixels {
  // IHDR is the first chunk: width and height big-endian at bytes 16 and 20.
  if (bytes.length < 24) throw new DatasetError(`${file}: truncated PNG (${bytes.length} bytes)`);
  checkPixels(bytes.readUInt32BE(16), bytes.readUInt32BE(20), file);
  let png: PNG;
  try {
    png = PNG.sync.read(bytes);
  } catch (err) {
    throw new DatasetError(`${file}: truncated or corrupt PNG (${(err as Error).message})`);
  }
  // pngjs always hands back RGBA; a colour type without alpha has it at 255.
  return { width: png.width, height: png.height, channels: 4, data: png.data };
}

function decodeJpegFile(bytes: Buffer, file: string): Pixels {
  try {
    // Not tolerant: a truncated file is an error, as Pillow's default (LOAD_TRUNCATED_IMAGES off) makes it.
    const image = decodeJpeg(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: false,
      maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
      maxMemoryUsageInMB: 1024,
    });
    checkPixels(image.width, image.height, file);
    return { width: image.width, height: image.height, channels: 3, data: image.data };
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(`${file}: truncated or corrupt JPEG (${(err as Error).message})`);
  }
}

/** Decodes one PNG or JPEG file's bytes; `file` names it in errors. Returns RGBA (PNG) or RGB (JPEG) pixels. */
export function decodeImage(bytes: Buffer, file: string): Pixels {
  const format = imageFormatOf(bytes);
  if (format === "png") return decodePng(bytes, file);
  if (format === "jpeg") return decodeJpegFile(bytes, file);
  const start = Buffer.from(bytes.subarray(0, 4)).toString("hex");
  throw new DatasetError(`${file}: not a PNG or JPEG file (it starts with 0x${start || "(empty)"})`);
}
