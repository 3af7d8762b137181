/**
 * Test images made with sharp at test time (no binaries in the repository): the awkward cases a
 * member's phone or a hostile client produces. Shared by the vision unit tests and the embedder
 * integration tests.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

/** A product-like photo: a coloured shape on a light studio backdrop, not symmetric. */
export async function productPhoto(width = 1000, height = 1250, colour = '#c0392b'): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="#f4f4f4"/>
    <rect x="${width * 0.3}" y="${height * 0.15}" width="${width * 0.4}" height="${height * 0.55}" fill="${colour}"/>
    <rect x="${width * 0.3}" y="${height * 0.7}" width="${width * 0.15}" height="${height * 0.2}" fill="#222"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
}

/** Top half red, bottom half blue: orientation is visible in the pixels. */
export async function twoToneRaw(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (y < height / 2) raw[i] = 220;
      else raw[i + 2] = 220;
    }
  }
  return raw;
}

export async function badImages(): Promise<Record<string, Buffer>> {
  const jpeg = await productPhoto();
  const noise = await sharp({
    create: {
      width: 64,
      height: 64,
      channels: 3,
      background: '#3366aa',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .png()
    .toBuffer();
  return {
    zeroBytes: Buffer.alloc(0),
    truncatedJpeg: jpeg.subarray(0, Math.floor(jpeg.length / 3)),
    notAnImage: Buffer.from('%PDF-1.7 this is a document, not a photo\n'.repeat(20)),
    svg: Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><image href="file:///etc/passwd"/></svg>',
    ),
    hugePng: pngWithDimensions(noise, 30_000, 30_000),
  };
}

/** Images that look unusual but are fine and must be described. */
export async function awkwardButValidImages(): Promise<{
  cmykJpeg: Buffer;
  png16: Buffer;
  animatedGif: Buffer;
  pngWithAlpha: Buffer;
}> {
  const base = sharp(await productPhoto(600, 750));
  const frame = (colour: string) =>
    sharp({ create: { width: 120, height: 120, channels: 3, background: colour } })
      .raw()
      .toBuffer();
  const frames = Buffer.concat([await frame('#c0392b'), await frame('#2980b9'), await frame('#27ae60')]);
  return {
    cmykJpeg: await base.clone().toColourspace('cmyk').jpeg().toBuffer(),
    png16: await base.clone().toColourspace('rgb16').png().toBuffer(),
    animatedGif: await sharp(frames, { raw: { width: 120, height: 360, channels: 3, pageHeight: 120 } })
      .gif({ loop: 0, delay: [100, 100, 100] })
      .toBuffer(),
    pngWithAlpha: await base.clone().ensureAlpha(0.5).png().toBuffer(),
  };
}

/**
 * The same two-tone picture stored rotated 90° clockwise with EXIF orientation 6 (rotate back by
 * 90° to display): what phones write. Decoding must give the upright picture (red on top).
 */
export async function exifRotatedJpeg(
  width = 300,
  height = 400,
): Promise<{ upright: Buffer; rotated: Buffer }> {
  const raw = await twoToneRaw(width, height);
  const upright = await sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toBuffer();
  // Stored pixels turned 90° anticlockwise; orientation 6 tells viewers to turn them clockwise.
  const stored = await sharp(raw, { raw: { width, height, channels: 3 } })
    .rotate(-90)
    .raw()
    .toBuffer();
  const rotated = await sharp(stored, { raw: { width: height, height: width, channels: 3 } })
    .jpeg()
    .withMetadata({ orientation: 6 })
    .toBuffer();
  return { upright, rotated };
}

/** A real small PNG whose header claims other dimensions: a decompression bomb's calling card. */
export function pngWithDimensions(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  // Signature (8) + IHDR length (4) + "IHDR" (4): width and height follow, then the CRC at 29.
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)) >>> 0, 29);
  return out;
}
