/**
 * A labelled set of phone-like photos of a catalogue (photos/*.jpg + labels.json), for checking an
 * image matcher: `trend-radar simulate photos --catalogue DIR --out OUT`, then compare the matcher's
 * top SKU per file with `labels.json`.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadStudioShot, photoRecipe, renderPhonePhoto } from './phone-photo.ts';
import { createRng } from './scenario.ts';
import { loadCatalogueFeed } from './simulate.ts';

export interface PhotoLabel {
  file: string;
  sku: string;
  style: string | null;
  view: string;
  photoSeed: number;
  strength: number;
}

export async function writePhotoSet(options: {
  catalogueDir: string;
  out: string;
  count: number;
  seed?: number;
  strength?: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<PhotoLabel[]> {
  const feed = await loadCatalogueFeed(options.catalogueDir);
  const rng = createRng(options.seed ?? 1);
  const strength = options.strength ?? 1;
  await mkdir(join(options.out, 'photos'), { recursive: true });
  const labels: PhotoLabel[] = [];
  for (let i = 0; i < options.count; i++) {
    const product = feed[Math.floor(rng() * feed.length)]!;
    const image = product.images[Math.floor(rng() * product.images.length)]!;
    const photoSeed = Math.floor(rng() * 2 ** 31);
    const photo = await renderPhonePhoto(
      await loadStudioShot(await readFile(image.path)),
      photoRecipe(photoSeed, strength),
    );
    const file = `photos/${String(i).padStart(5, '0')}.jpg`;
    await writeFile(join(options.out, file), photo);
    labels.push({
      file,
      sku: product.sku,
      style: product.style ?? null,
      view: image.view,
      photoSeed,
      strength,
    });
    options.onProgress?.(i + 1, options.count);
  }
  await writeFile(join(options.out, 'labels.json'), `${JSON.stringify(labels, null, 1)}\n`);
  return labels;
}
