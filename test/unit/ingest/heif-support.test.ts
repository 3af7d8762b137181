import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  canDecodeHeifCoding,
  checkHeifDecodable,
  decodableFormatsList,
  heifInputSuffixes,
} from '../../../shared/vision/heif-support.ts';
import { avifPhoto, heicPhoto } from '../../support/heic.ts';

describe('HEIF decodability, from what the installed sharp can decode', () => {
  // The sharp the lockfile pins ships a libvips that decodes AV1 only: if an upgrade brings HEVC,
  // this fails and says so, and HEIC can be accepted again.
  it('the test HEIC reads as HEVC-coded HEIF, which the installed sharp cannot decode', async () => {
    const heic = await heicPhoto();
    expect(await sharp(heic).metadata()).toMatchObject({ format: 'heif', compression: 'hevc' });
    expect(heifInputSuffixes()).toEqual(['.avif']);
    await expect(sharp(heic).raw().toBuffer()).rejects.toThrow(/HEVC/);
  });

  it('refuses HEIC (HEVC) on a build without an HEVC decoder, saying so and naming the formats to send', async () => {
    const verdict = await checkHeifDecodable(await heicPhoto(), ['.avif']);
    expect(verdict).toMatchObject({ ok: false, coding: 'hevc' });
    expect(!verdict.ok && verdict.reason).toMatch(
      /HEIC \(HEVC-coded HEIF\) is not supported by this deployment.*send JPEG, PNG, WebP or AVIF/,
    );
  });

  it('accepts AVIF (AV1-coded HEIF), which this build decodes', async () => {
    const avif = await avifPhoto();
    expect(await checkHeifDecodable(avif)).toEqual({ ok: true, coding: 'av1' });
    await expect(sharp(avif).raw().toBuffer()).resolves.toBeInstanceOf(Buffer);
  });

  it('would accept HEIC again on a build whose HEIF loader has an HEVC decoder', async () => {
    const withHevc = ['.heic', '.heif', '.avif'];
    expect(await checkHeifDecodable(await heicPhoto(), withHevc)).toEqual({ ok: true, coding: 'hevc' });
    expect(canDecodeHeifCoding('hevc', withHevc)).toBe(true);
    expect(decodableFormatsList(withHevc)).toBe('JPEG, PNG, WebP, AVIF or HEIC');
    expect(decodableFormatsList(['.avif'])).toBe('JPEG, PNG, WebP or AVIF');
    expect(decodableFormatsList([])).toBe('JPEG, PNG or WebP');
  });

  it('refuses a HEIF signature over bytes the HEIF loader cannot read', async () => {
    const verdict = await checkHeifDecodable(Buffer.from('\0\0\0\x1cftypheic\0\0\0\0mif1heic'));
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(/not a readable HEIF\/AVIF image/);
  });

  it('leaves a coding the loader says nothing about to the decoder', () => {
    expect(canDecodeHeifCoding('uncompressed', ['.avif'])).toBeUndefined();
  });
});
