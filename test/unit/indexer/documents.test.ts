import { errors } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { fieldType } from '../../../infra/kibana/checks.ts';
import type { Mention } from '../../../shared/contracts/events.ts';
import { conflictingTypes, missingProperties } from '../../../shared/elasticsearch/apply.ts';
import {
  bulkOperations,
  classifyItem,
  isUnavailable,
  isVectorRejection,
} from '../../../shared/elasticsearch/bulk.ts';
import {
  catalogueAction,
  catalogueDeleteAction,
  foldAccents,
  foldForSearch,
  mentionAction,
  postAction,
  reorderAlertAction,
  trendWindowAction,
  withoutVectors,
} from '../../../shared/elasticsearch/documents.ts';
import type { FamilyId } from '../../../shared/elasticsearch/indices.ts';
import { monthEnd, monthlyIndex, monthSuffix } from '../../../shared/elasticsearch/indices.ts';
import { meanOfUnitVectors, parseDuration } from '../../../shared/elasticsearch/queries.ts';
import { expiredIndices } from '../../../shared/elasticsearch/retention.ts';
import { buildScenario } from '../../integration/indexer/scenario.ts';

const scenario = buildScenario(new Date('2025-03-31T22:00:00Z'));

/** Dotted paths of a document's values that the family's mapping does not map. */
function unmappedPaths(family: FamilyId, document: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(document).flatMap(([key, value]) => {
    const path = `${prefix}${key}`;
    if (value && typeof value === 'object' && !Array.isArray(value))
      return fieldType(family, path) === 'object'
        ? unmappedPaths(family, value as Record<string, unknown>, `${path}.`)
        : [path];
    return fieldType(family, path) === undefined ? [path] : [];
  });
}

describe('documents from events', () => {
  it('picks the monthly index from the event time in UTC, whatever offset the producer used', () => {
    const upload = { ...scenario.uploads[0]!, clientTimestamp: '2025-03-31T23:30:00-02:00' };
    const action = postAction('tr', upload);
    expect(action).toMatchObject({ op: 'index', index: 'tr-posts-2025.04', id: upload.postId });
    expect(action.op === 'index' && action.document['@timestamp']).toBe('2025-04-01T01:30:00.000Z');
  });

  it('addresses uploaded bytes as blob: and keeps coordinates only when both are present', () => {
    const upload = {
      ...scenario.uploads[0]!,
      images: [{ blobRef: `sha256:${'b'.repeat(64)}` }],
      location: { country: 'GB', city: 'London', lat: 51.5 },
    };
    const action = postAction('tr', upload);
    expect(action.op === 'index' && action.document.imageUrls).toEqual([`blob:sha256:${'b'.repeat(64)}`]);
    expect(action.op === 'index' && action.document.location).toEqual({ country: 'GB', city: 'London' });
  });

  it('indexes a mention under its photo id, with the mention id, and a no-match without a SKU', () => {
    const matched = mentionAction('tr', scenario.mentions[0]!);
    expect(matched).toMatchObject({
      id: 'evt-0:0',
      document: { photoId: 'evt-0:0', mentionId: 'evt-0:0:BAG-1', sku: 'BAG-1', rank: 1 },
    });
    const noMatch = mentionAction('tr', scenario.mentions.at(-1)!);
    expect(noMatch.op === 'index' && noMatch.document).toMatchObject({
      kind: 'no-match',
      candidates: [{ sku: 'COAT-1', score: 0.31 }],
    });
    expect(noMatch.op === 'index' && 'sku' in noMatch.document).toBe(false);
  });

  it('gives a re-processed photo the same document, versioned by processedAt so the newest wins', () => {
    const first = scenario.mentions[0]!;
    const again = {
      ...first,
      kind: 'no-match' as const,
      mentionId: 'evt-0:0:none',
      candidates: [],
      processedAt: '2025-04-02T00:00:00.000Z',
    };
    const a = mentionAction('tr', first);
    const b = mentionAction('tr', again);
    expect([b.index, b.id]).toEqual([a.index, a.id]);
    expect(a.op === 'index' && a.version).toBe(Date.parse(first.processedAt));
    expect(b.op === 'index' && b.version).toBe(Date.parse('2025-04-02T00:00:00.000Z'));
    expect(bulkOperations([a])[0]).toEqual({
      index: {
        _index: a.index,
        _id: 'evt-0:0',
        version: Date.parse(first.processedAt),
        version_type: 'external_gte',
      },
    });
  });

  it('versions the catalogue document by updatedAt, whichever key (descriptor or legacy) wrote it', () => {
    const product = scenario.catalogue[0]!;
    const action = catalogueAction('tr', { ...product, updatedAt: '2025-06-01T00:00:00+02:00' });
    expect(action.op === 'index' && action.version).toBe(Date.parse('2025-05-31T22:00:00Z'));
  });

  it('strips the vector fields, nested ones included, and nothing else', () => {
    const mention = mentionAction('tr', scenario.mentions[0]!);
    const stripped = withoutVectors(mention);
    expect(stripped.op === 'index' && 'photoEmbedding' in stripped.document).toBe(false);
    expect(stripped.op === 'index' && stripped.document.sku).toBe('BAG-1');
    expect(stripped.op === 'index' && stripped.vectorFields).toBeUndefined();
    expect(mention.op === 'index' && Array.isArray(mention.document.photoEmbedding)).toBe(true);
    const catalogue = withoutVectors(catalogueAction('tr', scenario.catalogue[0]!));
    expect(catalogue.op === 'index' && catalogue.document.views).toEqual([
      { view: 'front', contentHash: '0'.repeat(64) },
      { view: 'back', contentHash: '3'.repeat(64) },
    ]);
  });

  it('lower-cases the category of a trend window', () => {
    const window = { ...scenario.windows[0]!, category: 'Bags' };
    const action = trendWindowAction('tr', window);
    expect(action.op === 'index' && action.document.category).toBe('bags');
    expect(trendWindowAction('tr', { ...window, category: null }).op === 'index').toBe(true);
  });

  it("writes a trend window's product name and brand under the alerts' field names, and without accents", () => {
    const window = { ...scenario.windows[0]!, name: 'Wild Thing Pâquerette', brand: 'Chloé' };
    const action = trendWindowAction('tr', window);
    const document = action.op === 'index' ? action.document : {};
    expect(document.product).toEqual({
      name: 'Wild Thing Pâquerette',
      nameFolded: 'wild thing paquerette',
      brand: 'Chloé',
      brandFolded: 'chloe',
    });
    // The alert of the same product has them at the same paths, mapped alike in both indices, so
    // one Kibana query (`product.name : "wild thing"`) finds both.
    const base = scenario.alerts[0]!;
    const alert = reorderAlertAction('tr', {
      ...base,
      product: { ...base.product, name: window.name, brand: window.brand },
    });
    expect(alert.op === 'index' && alert.document.product).toMatchObject({
      name: window.name,
      brand: window.brand,
    });
    const paths = [
      'product.name',
      'product.name.keyword',
      'product.brand',
      'product.nameFolded',
      'product.brandFolded',
      'category',
    ];
    for (const path of paths) {
      expect([path, fieldType('trend-windows', path)]).toEqual([path, fieldType('reorder-alerts', path)]);
      expect([path, fieldType('trend-windows', path)]).toEqual([path, fieldType('mentions', path)]);
    }
    expect(fieldType('trend-windows', 'product.name')).toBe('text');
    // Every field of the document is mapped (the index is strict).
    expect(unmappedPaths('trend-windows', document)).toEqual([]);
  });

  it('writes no product on a window without name or brand (unknown SKU, or written before them)', () => {
    const { name: _name, brand: _brand, ...older } = scenario.windows[0]!;
    for (const window of [older, { ...older, name: null, brand: null }]) {
      const action = trendWindowAction('tr', window);
      expect(action.op === 'index' && 'product' in action.document).toBe(false);
    }
    const brandOnly = trendWindowAction('tr', { ...older, name: null, brand: 'Luma' });
    expect(brandOnly.op === 'index' && brandOnly.document.product).toEqual({
      brand: 'Luma',
      brandFolded: 'luma',
    });
  });

  it('spells plain the Latin letters that have no mark to take off, and lower-cases the folded copies', () => {
    expect(foldAccents('Søren Boot')).toBe('Soren Boot');
    expect(foldAccents('Ørsted & Æsir')).toBe('Orsted & AEsir');
    expect(foldAccents('Straße Œuvre Łukasz Đorđe Þór ǿ')).toBe('Strasse OEuvre Lukasz Dorde THor o');
    expect(foldForSearch('Łukasz')).toBe('lukasz');
    expect(foldForSearch('CHLOE\u0301')).toBe('chloe');
    // Other scripts keep their letters and marks (a lower-case of their own, where they have case).
    expect(foldForSearch('साड़ी')).toBe('साड़ी');
  });

  it('stores names and brands composed (NFC), whatever form the catalogue sent', () => {
    const decomposed = { name: 'Pa\u0302querette Mule', brand: 'CHLOE\u0301' };
    const window = trendWindowAction('tr', { ...scenario.windows[0]!, ...decomposed });
    expect(window.op === 'index' && window.document.product).toEqual({
      name: 'Pâquerette Mule',
      nameFolded: 'paquerette mule',
      brand: 'CHLOÉ',
      brandFolded: 'chloe',
    });
    const base = scenario.alerts[0]!;
    const alert = reorderAlertAction('tr', { ...base, product: { ...base.product, ...decomposed } });
    expect(alert.op === 'index' && alert.document.product).toMatchObject({
      name: 'Pâquerette Mule',
      brand: 'CHLOÉ',
    });
    const mention = mentionAction('tr', { ...scenario.mentions[0]!, ...decomposed } as Mention);
    expect(mention.op === 'index' && mention.document.product).toMatchObject({
      name: 'Pâquerette Mule',
      brand: 'CHLOÉ',
    });
  });

  it("gives an alert the folded name and brand, and the lower-cased category at the windows' path", () => {
    const base = scenario.alerts[0]!;
    const action = reorderAlertAction('tr', {
      ...base,
      product: { ...base.product, name: 'Søren Boot', brand: 'Maison Vermeil', category: 'Shoes' },
    });
    const document = action.op === 'index' ? action.document : {};
    expect(document.category).toBe('shoes');
    expect(document.product).toMatchObject({
      name: 'Søren Boot',
      nameFolded: 'soren boot',
      brand: 'Maison Vermeil',
      brandFolded: 'maison vermeil',
      category: 'Shoes',
    });
    const { product, category } = document;
    expect(unmappedPaths('reorder-alerts', { product, category })).toEqual([]);
    // A product without category, name or brand (the alert's product fields are nullable).
    const bare = reorderAlertAction('tr', {
      ...base,
      product: { ...base.product, name: null, brand: null, category: null },
    });
    expect(bare.op === 'index' && 'category' in bare.document).toBe(false);
    expect(bare.op === 'index' && bare.document.product).not.toHaveProperty('nameFolded');
  });

  it("indexes a mention's product facts and margin; a mention written before them has neither", () => {
    // A mention as the embedder wrote it before product facts and margins.
    const {
      margin: _margin,
      name: _name,
      brand: _brand,
      category: _category,
      ...older
    } = scenario.mentions[0] as Mention & {
      margin?: number;
      name?: string;
      brand?: string;
      category?: string;
    };
    const enriched = {
      ...older,
      margin: 0.012,
      name: 'Wild Thing',
      brand: 'Maison Vermeil',
      category: 'Shoes',
    } as Mention;
    const action = mentionAction('tr', enriched);
    const document = action.op === 'index' ? action.document : {};
    expect(document).toMatchObject({
      sku: 'BAG-1',
      margin: 0.012,
      category: 'shoes',
      product: {
        name: 'Wild Thing',
        nameFolded: 'wild thing',
        brand: 'Maison Vermeil',
        brandFolded: 'maison vermeil',
      },
    });
    const { product, category, margin } = document;
    expect(unmappedPaths('mentions', { product, category, margin })).toEqual([]);
    expect(fieldType('mentions', 'margin')).toBe('float');
    const before = mentionAction('tr', older as Mention);
    for (const field of ['margin', 'product', 'category'])
      expect([field, before.op === 'index' && field in before.document]).toEqual([field, false]);
  });

  it('derives the country of a per-country window and none for global', () => {
    const windows = scenario.windows.slice(0, 12).map((w) => trendWindowAction('tr', w));
    const countries = new Set(windows.map((w) => (w.op === 'index' ? w.document.country : null)));
    expect(countries).toEqual(new Set([undefined, 'GB']));
  });

  it('files an alert by its evidence window, not by when it was raised, so a re-raise overwrites', () => {
    const alert = scenario.alerts[0]!;
    const first = reorderAlertAction('tr', alert);
    const reRaised = reorderAlertAction('tr', { ...alert, raisedAt: '2025-05-02T00:00:00Z' });
    expect(reRaised.index).toBe(first.index);
    expect(reRaised.id).toBe(first.id);
    expect(first.op === 'index' && first.document.firstPhotoUrl).toBe(alert.photos[0]!.imageUrl);
  });

  it('writes the catalogue as one document per SKU and model, and deletes it by the same id', () => {
    const product = scenario.catalogue[0]!;
    const upsert = catalogueAction('tr', product);
    expect(upsert).toMatchObject({ index: 'tr-catalogue-v1', id: 'BAG-1|squeezenet1.1' });
    expect(upsert.op === 'index' && (upsert.document.views as unknown[]).length).toBe(2);
    expect(catalogueDeleteAction('tr', 'BAG-1|squeezenet1.1')).toEqual({
      op: 'delete',
      family: 'catalogue',
      index: 'tr-catalogue-v1',
      id: 'BAG-1|squeezenet1.1',
    });
    // A tombstone under the key with the descriptor deletes the same document.
    expect(catalogueDeleteAction('tr', 'BAG-1|squeezenet1.1@colour-v2').id).toBe('BAG-1|squeezenet1.1');
  });
});

describe('monthly indices and retention', () => {
  it('names and parses months', () => {
    expect(monthSuffix('2025-12-31T23:59:59.999Z')).toBe('2025.12');
    expect(monthlyIndex('tr', 'mentions', '2025-01-01T00:00:00Z')).toBe('tr-mentions-2025.01');
    expect(monthEnd('tr', 'mentions', 'tr-mentions-2025.12')).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(monthEnd('tr', 'mentions', 'tr-mentions-2025.13')).toBeNull();
    expect(monthEnd('tr', 'mentions', 'tr-posts-2025.01')).toBeNull();
    expect(() => monthSuffix('yesterday')).toThrow(/not a valid instant/);
  });

  it('expires whole months once they ended more than the retention ago, never the catalogue', () => {
    const indices = [
      'tr-mentions-2024.01', // ended 2024-02-01
      'tr-mentions-2024.02', // ended 2024-03-01
      'tr-posts-2024.01',
      'tr-catalogue-v1',
      'other-mentions-2020.01',
      'tr-mentions-2025.03',
    ];
    const now = new Date('2024-03-02T00:00:00Z');
    expect(expiredIndices('tr', indices, now, 30)).toEqual(['tr-mentions-2024.01', 'tr-posts-2024.01']);
    expect(expiredIndices('tr', indices, now, 1)).toEqual([
      'tr-mentions-2024.01',
      'tr-mentions-2024.02',
      'tr-posts-2024.01',
    ]);
  });
});

describe('bulk item outcomes', () => {
  it('tells indexed, transient and rejected apart', () => {
    expect(classifyItem('index', { status: 201 })).toEqual({ status: 'indexed' });
    expect(classifyItem('delete', { status: 404 })).toEqual({ status: 'indexed' });
    expect(
      classifyItem('index', {
        status: 429,
        error: { type: 'es_rejected_execution_exception', reason: 'queue full' },
      }),
    ).toEqual({
      status: 'retry',
      reason: 'es_rejected_execution_exception: queue full',
    });
    expect(classifyItem('index', { status: 503 }).status).toBe('retry');
    expect(
      classifyItem('index', {
        status: 400,
        error: {
          type: 'document_parsing_exception',
          reason: '[1:12] failed to parse',
          caused_by: { type: 'illegal_argument_exception', reason: 'has more dimensions than defined' },
        },
      }),
    ).toEqual({
      status: 'rejected',
      reason: 'document_parsing_exception: [1:12] failed to parse (has more dimensions than defined)',
    });
  });

  it('treats a version conflict as superseded: a newer version is already indexed', () => {
    expect(
      classifyItem('index', {
        status: 409,
        error: { type: 'version_conflict_engine_exception', reason: 'current version [5] is higher' },
      }),
    ).toMatchObject({ status: 'indexed', note: 'superseded' });
  });

  it('recognises a rejection caused by a vector field, and only that', () => {
    const fields = ['photoEmbedding'];
    expect(
      isVectorRejection(
        "document_parsing_exception: [1:436] failed to parse: The [dense_vector] field [photoEmbedding] in doc [document with id 'M2'] has more dimensions than defined in the mapping [8]",
        fields,
      ),
    ).toBe(true);
    expect(
      isVectorRejection(
        'document_parsing_exception: failed to parse: The [cosine] similarity does not support vectors with zero magnitude.',
        ['views.vector'],
      ),
    ).toBe(true);
    expect(
      isVectorRejection(
        'strict_dynamic_mapping_exception: mapping set to strict, [extra] not allowed',
        fields,
      ),
    ).toBe(false);
    expect(isVectorRejection('The [dense_vector] field [photoEmbedding] …', [])).toBe(false);
  });

  it('treats connection failures, 5xx and auth failures as an outage, an unparsable or too large request as not', () => {
    const meta = (statusCode: number) => ({ statusCode, body: {}, headers: {}, meta: {} }) as never;
    expect(isUnavailable(new errors.ConnectionError('connect ECONNREFUSED'))).toBe(true);
    expect(isUnavailable(new errors.TimeoutError('timeout'))).toBe(true);
    expect(isUnavailable(new errors.ResponseError(meta(503)))).toBe(true);
    expect(isUnavailable(new errors.ResponseError(meta(429)))).toBe(true);
    expect(isUnavailable(new errors.ResponseError(meta(401)))).toBe(true);
    expect(isUnavailable(new errors.ResponseError(meta(400)))).toBe(false);
    expect(isUnavailable(new errors.ResponseError(meta(413)))).toBe(false);
    expect(isUnavailable(new Error('bug'))).toBe(false);
  });
});

describe('additive mapping updates', () => {
  const wanted = {
    sku: { type: 'keyword' },
    photoEmbedding: { type: 'dense_vector', similarity: 'cosine' },
    location: { properties: { country: { type: 'keyword' }, point: { type: 'geo_point' } } },
  };

  it('sends only what an existing index lacks, so a vector dimension already set is not touched', () => {
    const existing = {
      sku: { type: 'keyword' },
      photoEmbedding: { type: 'dense_vector', dims: 8 },
      location: { properties: { country: { type: 'keyword' } } },
    };
    expect(missingProperties(wanted, existing)).toEqual({
      location: { properties: { point: { type: 'geo_point' } } },
    });
    expect(missingProperties(wanted, wanted)).toEqual({});
  });

  it('names the fields whose type changed', () => {
    expect(
      conflictingTypes(wanted, {
        sku: { type: 'text' },
        location: { properties: { point: { type: 'keyword' } } },
      }),
    ).toEqual(['sku: text → keyword', 'location.point: keyword → geo_point']);
  });
});

describe('query helpers', () => {
  it('parses look-back durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('6h')).toBe(6 * 3_600_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(() => parseDuration('6 hours')).toThrow(/not a duration/);
  });

  it('averages view vectors by direction, not by magnitude', () => {
    const mean = meanOfUnitVectors([
      [10, 0],
      [0, 1],
    ]);
    expect(mean[0]).toBeCloseTo(Math.SQRT1_2);
    expect(mean[1]).toBeCloseTo(Math.SQRT1_2);
    expect(() => meanOfUnitVectors([[1, 0], [1]])).toThrow(/dimensions/);
  });
});
