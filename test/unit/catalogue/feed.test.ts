import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCsvFeed, parseJsonFeed, readFeed } from '../../../services/catalogue/feed.ts';
import { ensureCatalogue } from '../../../services/simulator/catalogue-files.ts';

describe('JSON catalogue feed', () => {
  it('reads the luma format, resolving relative files against the feed folder', () => {
    const feed = parseJsonFeed(
      JSON.stringify([
        {
          sku: 'MB03-BLACK',
          style: 'MB03',
          colour: 'black',
          images: [
            { file: 'images/mb03-black-0.jpg', view: 'main' },
            { url: 'https://cdn.example.com/mb03-alt.jpg', view: 'alt1' },
          ],
          name: null,
          category: null,
          price: null,
        },
      ]),
      '/data/feed',
    );
    expect(feed.problems).toEqual([]);
    expect(feed.products).toEqual([
      {
        sku: 'MB03-BLACK',
        style: 'MB03',
        colour: 'black',
        name: null,
        category: null,
        brand: null,
        price: null,
        images: [
          { view: 'main', location: '/data/feed/images/mb03-black-0.jpg', kind: 'file' },
          { view: 'alt1', location: 'https://cdn.example.com/mb03-alt.jpg', kind: 'url' },
        ],
      },
    ]);
  });

  it('skips bad products with a reason and keeps the rest', () => {
    const feed = parseJsonFeed(
      JSON.stringify({
        products: [
          { sku: 'OK-1', images: [{ file: 'a.jpg' }] },
          { sku: 'bad sku!', images: [{ file: 'b.jpg' }] },
          { sku: 'NO-IMAGES', images: [] },
          { sku: 'HTTP-ONLY', images: [{ url: 'http://insecure.example.com/x.jpg' }] },
          { sku: 'BOTH', images: [{ file: 'c.jpg', url: 'https://x.example.com/c.jpg' }] },
          { sku: 'OK-1', images: [{ file: 'dup.jpg' }] },
          { sku: 'NEG', price: -1, images: [{ file: 'd.jpg' }] },
        ],
      }),
      '/f',
    );
    expect(feed.products.map((p) => p.sku)).toEqual(['OK-1']);
    expect(feed.products[0]!.images[0]!.view).toBe('main');
    expect(feed.problems.map((p) => [p.at, p.sku])).toEqual([
      [1, 'bad sku!'],
      [2, 'NO-IMAGES'],
      [3, 'HTTP-ONLY'],
      [4, 'BOTH'],
      [5, 'OK-1'],
      [6, 'NEG'],
    ]);
    expect(feed.problems[4]!.message).toMatch(/duplicate SKU/);
    expect(feed.problems[2]!.message).toMatch(/https/);
  });

  it('refuses a feed that is not JSON or not a list, with a clear error', () => {
    expect(() => parseJsonFeed('{not json', '/f')).toThrow(/not JSON/);
    expect(() => parseJsonFeed('{"sku": "X"}', '/f')).toThrow(/array of products/);
  });
});

describe('CSV catalogue feed', () => {
  it('groups one row per image into products', () => {
    const csv = [
      'sku,style,colour,name,category,price,brand,image,view',
      'SH01-RED,SH01,red,Court shoe,Shoes,450,Maison,images/sh01-red.jpg,main',
      'SH01-RED,SH01,red,Court shoe,Shoes,450,Maison,https://cdn.example.com/sh01-red-back.jpg,back',
      'SH01-BLACK,SH01,black,Court shoe,Shoes,,Maison,/abs/sh01-black.jpg,',
    ].join('\n');
    const feed = parseCsvFeed(csv, '/feeds');
    expect(feed.problems).toEqual([]);
    expect(feed.products).toEqual([
      {
        sku: 'SH01-RED',
        style: 'SH01',
        colour: 'red',
        name: 'Court shoe',
        category: 'Shoes',
        brand: 'Maison',
        price: 450,
        images: [
          { view: 'main', location: '/feeds/images/sh01-red.jpg', kind: 'file' },
          { view: 'back', location: 'https://cdn.example.com/sh01-red-back.jpg', kind: 'url' },
        ],
      },
      {
        sku: 'SH01-BLACK',
        style: 'SH01',
        colour: 'black',
        name: 'Court shoe',
        category: 'Shoes',
        brand: 'Maison',
        price: null,
        images: [{ view: 'main', location: '/abs/sh01-black.jpg', kind: 'file' }],
      },
    ]);
  });

  it('reports a row without an image or with a bad price', () => {
    const csv = ['sku,image,price', 'A-1,,', 'B-2,b.jpg,abc', 'C-3,c.jpg,10'].join('\n');
    const feed = parseCsvFeed(csv, '/f');
    expect(feed.products.map((p) => p.sku)).toEqual(['C-3']);
    expect(feed.problems.map((p) => p.sku)).toEqual(['A-1', 'B-2']);
  });
});

describe('readFeed: a file or the folder holding it', () => {
  const luma = fileURLToPath(new URL('../../../../shared/datasets/luma-catalogue', import.meta.url));

  it('reads the catalogue.json of a folder, as the simulator and the demo are given one', async () => {
    const fromFolder = await readFeed(luma);
    const fromFile = await readFeed(join(luma, 'catalogue.json'));
    expect(fromFolder.products.length).toBe(450);
    expect(fromFolder).toEqual(fromFile);
  });

  it('names what a folder lacks instead of failing on reading a directory', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'feed-'));
    try {
      await expect(readFeed(empty)).rejects.toThrow(
        `${empty} is a folder without catalogue.json or catalogue.csv`,
      );
    } finally {
      await rm(empty, { recursive: true });
    }
  });
});

describe('ensureCatalogue: the simulator takes the feed folder', () => {
  it('points a catalogue.json path to its folder', async () => {
    const file = fileURLToPath(
      new URL('../../../../shared/datasets/luma-catalogue/catalogue.json', import.meta.url),
    );
    await expect(ensureCatalogue(file, false, () => {})).rejects.toThrow(
      `${file} is a file: a catalogue here is the feed's folder (the one holding catalogue.json and its images), e.g. ${dirname(file)}`,
    );
  });
});
