import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DECODE, decodeImage, ImageRejectedError } from '../../../shared/vision/decode.ts';
import { awkwardButValidImages, badImages, exifRotatedJpeg } from './bad-images.ts';

describe('decodeImage', () => {
  it('refuses each bad image with a reason', async () => {
    const reasons: Record<string, RegExp> = {
      zeroBytes: /empty image/,
      truncatedJpeg: /cannot decode jpeg/,
      notAnImage: /not a recognised image|unsupported/,
      svg: /unsupported image format: svg/,
      hugePng: /30000×30000 = 900000000 pixels, over the limit/,
    };
    const images = await badImages();
    expect(Object.keys(images).sort()).toEqual(Object.keys(reasons).sort());
    for (const [name, bytes] of Object.entries(images)) {
      const error = await decodeImage(bytes).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(ImageRejectedError);
      expect((error as Error).message, name).toMatch(reasons[name]!);
    }
  });

  it('decodes CMYK, 16-bit, animated and transparent images to 8-bit sRGB within the size limit', async () => {
    const { cmykJpeg, png16 } = await awkwardButValidImages();
    expect((await sharp(cmykJpeg).metadata()).space).toBe('cmyk');
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    for (const [name, bytes] of Object.entries(await awkwardButValidImages())) {
      const image = await decodeImage(bytes);
      expect(image.data.length, name).toBe(image.width * image.height * 3);
      expect(Math.max(image.width, image.height), name).toBeLessThanOrEqual(DEFAULT_DECODE.maxSide);
      expect(image.width, name).toBeGreaterThan(0);
    }
  });

  it('takes the first frame of an animated GIF', async () => {
    const { animatedGif } = await awkwardButValidImages();
    expect((await sharp(animatedGif).metadata()).pages).toBe(3);
    const image = await decodeImage(animatedGif);
    expect([image.width, image.height]).toEqual([120, 120]);
    // First frame is red.
    expect(Array.from(image.data.subarray(0, 3))).toEqual([192, 57, 43].map((v) => expect.closeTo(v, -1.2)));
  });

  it('keeps colours of a CMYK JPEG close to the RGB original', async () => {
    const { cmykJpeg } = await awkwardButValidImages();
    const image = await decodeImage(cmykJpeg);
    // The product's red centre stays red, not inverted or washed out.
    const centre = ((image.height >> 1) * image.width + (image.width >> 1)) * 3;
    const [r, g, b] = image.data.subarray(centre, centre + 3);
    expect(r!).toBeGreaterThan(150);
    expect(g!).toBeLessThan(110);
    expect(b!).toBeLessThan(110);
  });

  it('applies EXIF orientation: a phone photo stored sideways comes out upright', async () => {
    const { upright, rotated } = await exifRotatedJpeg();
    expect((await sharp(rotated).metadata()).orientation).toBe(6);
    for (const bytes of [upright, rotated]) {
      const image = await decodeImage(bytes);
      expect(image.height).toBeGreaterThan(image.width);
      const top = image.data.subarray(((image.height >> 3) * image.width + (image.width >> 1)) * 3);
      const bottom = image.data.subarray((((7 * image.height) >> 3) * image.width + (image.width >> 1)) * 3);
      expect(top[0]!).toBeGreaterThan(150); // red on top
      expect(bottom[2]!).toBeGreaterThan(150); // blue below
    }
  });

  it('flattens transparency on white', async () => {
    const transparent = await sharp({
      create: { width: 10, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const image = await decodeImage(transparent);
    expect(Array.from(image.data.subarray(0, 3))).toEqual([255, 255, 255]);
  });
});
