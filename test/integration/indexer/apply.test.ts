/** `es apply` and the retention job against the real node. */
import { afterAll, describe, expect, it } from 'vitest';
import { applyIndices } from '../../../shared/elasticsearch/apply.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { aliasName, monthlyIndex } from '../../../shared/elasticsearch/indices.ts';
import { deleteExpiredIndices } from '../../../shared/elasticsearch/retention.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('esapply');
const es = createElasticsearch(elasticsearchUrl);

afterAll(async () => {
  await deleteIndices(es, prefix);
  await es.close();
});

describe('es apply', () => {
  it('creates templates, bootstrap indices and aliases, and changes nothing the second time', async () => {
    const now = new Date('2026-02-10T00:00:00Z');
    const first = await applyIndices(es, { prefix, retentionDays: 400, now });
    expect(first.filter((c) => c.action === 'created').map((c) => c.target)).toContain(
      `index ${prefix}-mentions-2026.02`,
    );
    expect(first.filter((c) => c.target.startsWith('template')).every((c) => c.action === 'created')).toBe(
      true,
    );
    const second = await applyIndices(es, { prefix, retentionDays: 400, now });
    expect(second.every((c) => c.action === 'unchanged')).toBe(true);
    expect(second).toHaveLength(6);
    const aliases = await es.indices.getAlias({ name: aliasName(prefix, 'mentions') });
    expect(Object.keys(aliases)).toEqual([`${prefix}-mentions-2026.02`]);
  });

  it('attaches every new month to the alias with the explicit mapping', async () => {
    const index = monthlyIndex(prefix, 'mentions', '2019-06-01T00:00:00Z');
    await es.index({
      index,
      id: 'x',
      document: { '@timestamp': '2019-06-01T00:00:00Z', sku: 'A-1' },
      refresh: true,
    });
    const mapping = await es.indices.getMapping({ index });
    expect(mapping[index]!.mappings.dynamic).toBe('strict');
    const { count } = await es.count({ index: aliasName(prefix, 'mentions') });
    expect(count).toBe(1);
    await expect(es.index({ index, document: { unmapped: 1 } })).rejects.toThrow(
      /strict_dynamic_mapping_exception/,
    );
  });

  it('reports a mapping that drifted instead of forcing it', async () => {
    const index = `${prefix}-alert-actions-2018.01`;
    await es.indices.create({ index, mappings: { properties: { sku: { type: 'text' } } } });
    const changes = await applyIndices(es, {
      prefix,
      retentionDays: 400,
      now: new Date('2026-02-10T00:00:00Z'),
    });
    expect(changes).toContainEqual({
      target: `index ${index}`,
      action: 'drift',
      detail: 'rebuild needed: sku: text → keyword',
    });
  });

  it('retention deletes months past retention and keeps the rest behind the alias', async () => {
    const deleted = await deleteExpiredIndices(es, prefix, 400, new Date('2026-02-10T00:00:00Z'));
    expect(deleted).toEqual([`${prefix}-alert-actions-2018.01`, `${prefix}-mentions-2019.06`]);
    expect(await es.indices.exists({ index: `${prefix}-mentions-2026.02` })).toBe(true);
    const { count } = await es.count({ index: aliasName(prefix, 'mentions') });
    expect(count).toBe(0);
  });
});
