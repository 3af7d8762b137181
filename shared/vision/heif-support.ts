/**
 * Which HEIF images the installed sharp can decode. HEIF is a container: the iPhone's HEIC holds
 * HEVC-coded images, AVIF holds AV1-coded ones, and a libvips/libheif build may carry a decoder for
 * one coding and not the other (sharp's prebuilt libvips decodes AV1 only: HEVC is patent-encumbered).
 * The edges (ingest, the URL image fetcher) ask here, so that an image the embedder could never
 * decode is refused when it arrives, not accepted and dead-lettered later.
 *
 * The answer comes from the running build, not from a list in the code: libvips' HEIF loader
 * advertises `.avif` when it has an AV1 decoder and `.heic`/`.heif` when it has an HEVC one
 * (`sharp.format.heif.input.fileSuffix`), and the coding of an image is read from its header
 * (`metadata().compression`). A sharp built with HEVC support accepts HEIC again, unchanged.
 */
import sharp from 'sharp';

/** The file suffixes that show a decoder for each coding sharp reports as `compression`. */
const SUFFIXES_OF_CODING: Readonly<Record<string, readonly string[]>> = {
  av1: ['.avif'],
  hevc: ['.heic', '.heif'],
};

const NAME_OF_CODING: Readonly<Record<string, string>> = {
  av1: 'AVIF (AV1-coded HEIF)',
  hevc: 'HEIC (HEVC-coded HEIF)',
};

/** The suffixes the installed libvips' HEIF loader takes (empty when it has no HEIF loader). */
export function heifInputSuffixes(): readonly string[] {
  const input = sharp.format.heif?.input;
  return input?.buffer ? (input.fileSuffix ?? []) : [];
}

/**
 * Whether a HEIF coding (`hevc`, `av1`) can be decoded, judged from the loader's suffixes; `undefined`
 * for a coding the suffixes say nothing about (left to the decoder).
 */
export function canDecodeHeifCoding(
  coding: string,
  suffixes: readonly string[] = heifInputSuffixes(),
): boolean | undefined {
  const shown = SUFFIXES_OF_CODING[coding];
  if (!shown) return undefined;
  return shown.some((suffix) => suffixes.includes(suffix));
}

/** The raster formats an upload may be in with this build, for error messages ("JPEG, PNG, WebP or AVIF"). */
export function decodableFormatsList(suffixes: readonly string[] = heifInputSuffixes()): string {
  const formats = ['JPEG', 'PNG', 'WebP'];
  if (canDecodeHeifCoding('av1', suffixes)) formats.push('AVIF');
  if (canDecodeHeifCoding('hevc', suffixes)) formats.push('HEIC');
  return `${formats.slice(0, -1).join(', ')} or ${formats.at(-1)}`;
}

export type HeifVerdict =
  | { ok: true; coding: string | undefined }
  | { ok: false; coding: string | undefined; reason: string };

/**
 * Whether the HEIF/AVIF image in `bytes` (an ISO-BMFF `ftyp` container) can be decoded here. Only
 * the header is read. A container the HEIF loader cannot parse at all is refused too: the decoder
 * would fail on it the same way.
 */
export async function checkHeifDecodable(
  bytes: Buffer,
  suffixes: readonly string[] = heifInputSuffixes(),
): Promise<HeifVerdict> {
  let format: string | undefined;
  let coding: string | undefined;
  try {
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    format = meta.format;
    coding = meta.compression;
  } catch (error) {
    return {
      ok: false,
      coding: undefined,
      reason: `not a readable HEIF/AVIF image (${firstLine((error as Error).message)})`,
    };
  }
  if (format !== 'heif') return { ok: false, coding, reason: `not a HEIF/AVIF image (read as ${format})` };
  if (coding !== undefined && canDecodeHeifCoding(coding, suffixes) === false) {
    return {
      ok: false,
      coding,
      reason:
        `${NAME_OF_CODING[coding] ?? `${coding}-coded HEIF`} is not supported by this deployment ` +
        `(its image decoder has no ${coding.toUpperCase()} support); send ${decodableFormatsList(suffixes)}`,
    };
  }
  return { ok: true, coding };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
