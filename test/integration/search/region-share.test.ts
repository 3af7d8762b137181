/**
 * A merchandiser's filter on one region's share ("alerts where France is at least half") must test
 * that region's own share. `topRegions` is a plain object array, so a filter on its two fields
 * matches across regions; `regionShare.<country>` holds each pair in one field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reorderAlertsMapping } from '../../../infra/elasticsearch/mappings.ts';
import type { ReorderAlert } from '../../../shared/contracts/events.ts';
import { applyIndices } from '../../../shared/elasticsearch/apply.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { reorderAlertAction } from '../../../shared/elasticsearch/documents.ts';
import { aliasName, monthlyIndex } from '../../../shared/elasticsearch/indices.ts';
import { indexForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { buildScenario } from '../indexer/scenario.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('regionshare');
/** A deployment whose alert index predates region shares (made before any template of its prefix). */
const olderPrefix = uniqueNamespace('regionshare-older');
const es = createElasticsearch(elasticsearchUrl);
const scenario = buildScenario(new Date('2025-06-20T12:00:00Z'));
const template = scenario.alerts[0]!;

function alertWith(alertId: string, topRegions: ReorderAlert['topRegions']): ReorderAlert {
  return { ...template, alertId, episodeId: alertId, topRegions };
}

const alerts = [
  alertWith('france-led', [
    { country: 'FR', signals: 60, share: 0.6 },
    { country: 'GB', signals: 10, share: 0.1 },
  ]),
  alertWith('britain-led', [
    { country: 'GB', signals: 60, share: 0.6 },
    { country: 'FR', signals: 10, share: 0.1 },
  ]),
  // A single-region alert: its share serialises as the integer 1.
  alertWith('france-only', [{ country: 'FR', signals: 9, share: 1 }]),
  alertWith('france-quarter', [
    { country: 'FR', signals: 5, share: 0.25 },
    { country: 'IT', signals: 15, share: 0.75 },
  ]),
];

beforeAll(async () => {
  await indexForQueries(
    es,
    prefix,
    scenario.now,
    alerts.map((a) => reorderAlertAction(prefix, a)),
  );
});

afterAll(async () => {
  await deleteIndices(es, prefix);
  await deleteIndices(es, olderPrefix);
  await es.close();
});

async function alertIds(query: string): Promise<string[]> {
  const result = await es.search<{ alertId: string }>({
    index: aliasName(prefix, 'reorder-alerts'),
    query: { query_string: { query } },
    size: 20,
  });
  return result.hits.hits.map((h) => h._source!.alertId).sort();
}

describe('region shares of reorder alerts', () => {
  it("a filter on one region's share matches only alerts where that region has it", async () => {
    expect(await alertIds('regionShare.FR:>=0.5')).toEqual(['france-led', 'france-only']);
    // What the object array gives for the same question: Britain's alert, through GB's share.
    expect(await alertIds('topRegions.country:FR AND topRegions.share:>=0.5')).toContain('britain-led');
  });

  it('keeps fractional shares after a share of exactly 1 (the field is a float, not a long)', async () => {
    const index = monthlyIndex(prefix, 'reorder-alerts', template.windowEnd);
    const mapping = await es.indices.getFieldMapping({ index, fields: 'regionShare.*' });
    const fields = mapping[index]!.mappings;
    expect(Object.keys(fields).sort()).toEqual(['regionShare.FR', 'regionShare.GB', 'regionShare.IT']);
    for (const field of Object.values(fields))
      expect(Object.values(field.mapping)[0]).toEqual({ type: 'float' });
    expect(await alertIds('regionShare.FR:[0.2 TO 0.3]')).toEqual(['france-quarter']);
  });

  it('es apply gives an alerts index made before region shares the field and its float typing', async () => {
    const { dynamic_templates: _templates, ...older } = reorderAlertsMapping;
    const { regionShare: _field, ...olderProperties } = reorderAlertsMapping.properties as Record<
      string,
      unknown
    >;
    const index = `${olderPrefix}-reorder-alerts-2019.03`;
    await es.indices.create({ index, mappings: { ...older, properties: olderProperties } as never });
    const changes = await applyIndices(es, { prefix: olderPrefix, retentionDays: 400, now: scenario.now });
    expect(changes).toContainEqual({
      target: `index ${index}`,
      action: 'fields-added',
      detail: 'regionShare, dynamic templates',
    });
    await es.index({ index, id: 'one', document: { alertId: 'old', regionShare: { ES: 1 } }, refresh: true });
    const mapping = await es.indices.getFieldMapping({ index, fields: 'regionShare.ES' });
    expect(mapping[index]!.mappings['regionShare.ES']!.mapping).toEqual({ ES: { type: 'float' } });
    const again = await applyIndices(es, { prefix: olderPrefix, retentionDays: 400, now: scenario.now });
    expect(again.every((c) => c.action === 'unchanged')).toBe(true);
  });
});
