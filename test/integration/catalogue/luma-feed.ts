/** Small catalogue feeds made of luma products, written to a temp folder with absolute image paths. */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared beside the checkout (every developer and CI has it). */
export const LUMA_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/datasets/luma-catalogue',
);

export interface LumaProduct {
  sku: string;
  style: string | null;
  colour: string | null;
  name: string | null;
  category: string | null;
  price: number | null;
  images: Array<{ file: string; view: string }>;
}

/** Luma products with at least `minViews` views, image paths made absolute. */
export function lumaProducts(count: number, minViews = 1, skip = 0): LumaProduct[] {
  const all = JSON.parse(readFileSync(join(LUMA_DIR, 'catalogue.json'), 'utf8')) as LumaProduct[];
  return all
    .filter((p) => p.images.length >= minViews)
    .slice(skip, skip + count)
    .map((p) => ({ ...p, images: p.images.map((i) => ({ ...i, file: join(LUMA_DIR, i.file) })) }));
}

export async function writeJsonFeed(
  dir: string,
  name: string,
  products: readonly LumaProduct[],
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(products, null, 1));
  return path;
}

export async function writeCsvFeed(
  dir: string,
  name: string,
  products: readonly LumaProduct[],
): Promise<string> {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`);
  const lines = ['sku,style,colour,name,category,price,brand,image,view'];
  for (const p of products) {
    for (const image of p.images) {
      lines.push(
        [p.sku, p.style, p.colour, p.name, p.category, p.price, null, image.file, image.view]
          .map(cell)
          .join(','),
      );
    }
  }
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
