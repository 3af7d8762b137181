/**
 * Catalogue feeds: JSON (an array of products, each with `images: [{file|url, view}]`, the format of
 * ../shared/datasets/luma-catalogue/catalogue.json) or CSV with one row per image:
 *   sku,style,colour,name,category,price,brand,image,view
 * where `image` is a file path or an https URL. Relative files resolve against the feed's folder.
 * Every product is validated on its own: a bad row is reported and skipped, never fatal for the rest.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { Sku } from '../../shared/contracts/primitives.ts';

export const FeedImage = z
  .object({
    file: z.string().min(1).optional(),
    url: z.url({ protocol: /^https$/, error: 'image URLs must be https' }).optional(),
    view: z.string().min(1).max(40).default('main'),
  })
  .refine(
    (i) => (i.file === undefined) !== (i.url === undefined),
    'each image needs exactly one of file or url',
  );

const nullableText = (max: number) =>
  z
    .string()
    .max(max)
    .nullish()
    .transform((v) => (v === undefined || v === '' ? null : v));

export const FeedProduct = z.object({
  sku: Sku,
  style: nullableText(64),
  colour: nullableText(64),
  name: nullableText(300),
  category: nullableText(120),
  brand: nullableText(120),
  price: z.coerce
    .number()
    .nonnegative()
    .nullish()
    .transform((v) => v ?? null),
  images: z.array(FeedImage).min(1).max(20),
});
export type FeedProduct = z.infer<typeof FeedProduct>;

export interface ResolvedImage {
  view: string;
  /** Absolute file path, or an https URL. */
  location: string;
  kind: 'file' | 'url';
}

export interface CatalogueItem extends Omit<FeedProduct, 'images'> {
  images: ResolvedImage[];
}

export interface FeedProblem {
  /** Position in the feed (0-based product or CSV row) and the SKU when known. */
  at: number;
  sku?: string;
  message: string;
}

export interface ParsedFeed {
  products: CatalogueItem[];
  problems: FeedProblem[];
}

export function parseJsonFeed(text: string, baseDir: string): ParsedFeed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`catalogue feed is not JSON: ${(error as Error).message}`);
  }
  const list = Array.isArray(json) ? json : (json as { products?: unknown })?.products;
  if (!Array.isArray(list))
    throw new Error('a JSON catalogue feed is an array of products (or {"products": [...]})');
  return validateProducts(list, baseDir);
}

export function parseCsvFeed(text: string, baseDir: string): ParsedFeed {
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (error) {
    throw new Error(`catalogue CSV cannot be parsed: ${(error as Error).message}`);
  }
  const bySku = new Map<string, { at: number; product: Record<string, unknown>; images: unknown[] }>();
  rows.forEach((row, at) => {
    const sku = row.sku ?? '';
    const entry = bySku.get(sku) ?? {
      at,
      product: { ...row, price: row.price === '' ? null : row.price },
      images: [],
    };
    const image = row.image ?? '';
    entry.images.push({
      ...(/^https?:\/\//i.test(image) ? { url: image } : { file: image || undefined }),
      view: row.view || 'main',
    });
    bySku.set(sku, entry);
  });
  const products = [...bySku.values()].map(({ product, images }) => {
    const { image: _image, view: _view, ...rest } = product;
    return { ...rest, images };
  });
  return validateProducts(products, baseDir);
}

function validateProducts(list: unknown[], baseDir: string): ParsedFeed {
  const products: CatalogueItem[] = [];
  const problems: FeedProblem[] = [];
  const seen = new Set<string>();
  list.forEach((raw, at) => {
    const parsed = FeedProduct.safeParse(raw);
    const sku =
      typeof (raw as { sku?: unknown })?.sku === 'string' ? (raw as { sku: string }).sku : undefined;
    if (!parsed.success) {
      const message = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(product)'}: ${i.message}`)
        .join('; ');
      problems.push({ at, sku, message });
      return;
    }
    if (seen.has(parsed.data.sku)) {
      problems.push({ at, sku, message: 'duplicate SKU: the first occurrence is kept' });
      return;
    }
    seen.add(parsed.data.sku);
    const { images, ...product } = parsed.data;
    products.push({
      ...product,
      images: images.map((image) =>
        image.url
          ? { view: image.view, location: image.url, kind: 'url' }
          : {
              view: image.view,
              location: isAbsolute(image.file!) ? image.file! : resolve(baseDir, image.file!),
              kind: 'file',
            },
      ),
    });
  });
  return { products, problems };
}

/**
 * Reads a feed file; the format follows the extension (.csv, otherwise JSON). A folder stands for
 * the feed in it (`catalogue.json`, else `catalogue.csv`), as the simulator and the demo take one.
 */
export async function readFeed(given: string): Promise<ParsedFeed> {
  const path = (await stat(given)).isDirectory() ? await feedFileIn(given) : given;
  const text = await readFile(path, 'utf8');
  const baseDir = dirname(resolve(path));
  return extname(path).toLowerCase() === '.csv' ? parseCsvFeed(text, baseDir) : parseJsonFeed(text, baseDir);
}

async function feedFileIn(folder: string): Promise<string> {
  for (const name of ['catalogue.json', 'catalogue.csv']) {
    const file = join(folder, name);
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  throw new Error(`${folder} is a folder without catalogue.json or catalogue.csv: give the feed file`);
}
