/**
 * Bytes → upright sRGB pixels, with sharp. The format is sniffed from the bytes (never from a
 * Content-Type or file name); vector and document formats are refused; a pixel limit stops
 * decompression bombs before decoding; EXIF orientation is applied; alpha is flattened on white;
 * CMYK, 16-bit and palette images come out as 8-bit sRGB; animated images give their first frame.
 * JPEGs are shrunk on load (libvips decodes at 1/2, 1/4 or 1/8 scale), which is most of the speed.
 */
import sharp from 'sharp';
import type { Rgb } from './pixels.ts';

export class ImageRejectedError extends Error {
  override name = 'ImageRejectedError';
}

const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif']);

export interface DecodeOptions {
  /** Longest side of the decoded image; JPEGs are shrunk on load towards it. */
  maxSide: number;
  /** Refuse images with more pixels than this (width × height from the header). */
  maxPixels: number;
}

export const DEFAULT_DECODE: DecodeOptions = { maxSide: 320, maxPixels: 50_000_000 };

/**
 * The decode a model of `inputSide` px needs: at least `inputSide / 0.7`, so that a product crop
 * filling 70 % of the frame still reaches the model at full resolution. DEFAULT_DECODE's 320 px is
 * that for SqueezeNet's 224 px; a fixed 320 fed every larger encoder (384, 448, 518 px…) an
 * upscaled, blurred crop. A larger `maxSide` asked by the caller is kept.
 */
export function decodeFor(inputSide: number, options: DecodeOptions = DEFAULT_DECODE): DecodeOptions {
  return { ...options, maxSide: Math.max(options.maxSide, Math.ceil((inputSide * 10) / 7)) };
}

export async function decodeImage(bytes: Buffer, options: DecodeOptions = DEFAULT_DECODE): Promise<Rgb> {
  if (bytes.length === 0) throw new ImageRejectedError('empty image (0 bytes)');
  let format: string | undefined;
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    format = meta.format;
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch (error) {
    throw new ImageRejectedError(`not a recognised image: ${(error as Error).message}`);
  }
  if (!format || !RASTER_FORMATS.has(format))
    throw new ImageRejectedError(`unsupported image format: ${format}`);
  if (width <= 0 || height <= 0) throw new ImageRejectedError('image has no dimensions');
  if (width * height > options.maxPixels) {
    throw new ImageRejectedError(
      `image is ${width}×${height} = ${width * height} pixels, over the limit of ${options.maxPixels}`,
    );
  }
  try {
    const { data, info } = await sharp(bytes, {
      limitInputPixels: options.maxPixels,
      failOn: 'error',
      pages: 1,
      sequentialRead: true,
    })
      .autoOrient()
      .resize(options.maxSide, options.maxSide, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (error) {
    throw new ImageRejectedError(`cannot decode ${format} image: ${(error as Error).message}`);
  }
}
