import { describe, expect, it } from 'vitest';
import { IndexerEnv, indexerGroupId, KibanaImportEnv } from '../../../services/indexer/config.ts';
import { actionFor } from '../../../services/indexer/handler.ts';
import {
  formatImportReport,
  importUrl,
  reportOf,
  withIndexPrefix,
} from '../../../services/indexer/kibana-import.ts';
import { ConfigError, loadConfig } from '../../../shared/config/env.ts';
import { CatalogueEmbedding, Mention } from '../../../shared/contracts/events.ts';
import { encode, InvalidRecordError } from '../../../shared/kafka/codec.ts';
import { buildScenario } from '../../integration/indexer/scenario.ts';

const scenario = buildScenario(new Date('2025-06-01T12:00:00Z'));

describe('records → index actions', () => {
  it('decodes by topic and refuses records that break the contract', () => {
    const mention = scenario.mentions[0]!;
    expect(actionFor('mentions', 'tr', { key: null, value: encode(Mention, mention) })).toMatchObject({
      family: 'mentions',
      id: `${mention.uploadEventId}:${mention.imageIndex}`,
    });
    expect(() =>
      actionFor('mentions', 'tr', { key: null, value: Buffer.from('{"kind":"mention"}') }),
    ).toThrow(InvalidRecordError);
    expect(() => actionFor('uploads', 'tr', { key: null, value: Buffer.from('not json') })).toThrow(
      /not JSON/,
    );
  });

  it('turns a catalogue tombstone into a delete by key, and refuses a malformed key', () => {
    expect(
      actionFor('catalogue-embeddings', 'tr', { key: Buffer.from('BAG-1|squeezenet1.1'), value: null }),
    ).toEqual({
      op: 'delete',
      family: 'catalogue',
      index: 'tr-catalogue-v1',
      id: 'BAG-1|squeezenet1.1',
    });
    expect(() =>
      actionFor('catalogue-embeddings', 'tr', { key: Buffer.from('no-model'), value: null }),
    ).toThrow(/bad catalogue key/);
    const product = scenario.catalogue[0]!;
    expect(
      actionFor('catalogue-embeddings', 'tr', {
        key: Buffer.from('BAG-1|squeezenet1.1'),
        value: encode(CatalogueEmbedding, product),
      }).op,
    ).toBe('index');
  });
});

describe('indexer configuration', () => {
  it('has sane defaults', () => {
    const config = loadConfig(IndexerEnv, {});
    expect(config.INDEXER_TOPICS).toEqual([
      'uploads',
      'mentions',
      'trend-windows',
      'reorder-alerts',
      'alert-actions',
      'catalogue-embeddings',
    ]);
    expect(config.ES_RETENTION_DAYS).toBe(400);
    expect(indexerGroupId(config)).toBe('trendradar.indexer');
    expect(indexerGroupId({ ...config, INDEXER_GROUP_ID: 'mine' })).toBe('mine');
  });

  it('names every bad variable', () => {
    expect(() =>
      loadConfig(IndexerEnv, {
        ES_RETENTION_CRON: 'every night',
        INDEXER_TOPICS: 'mentions,interactions',
        ES_RETENTION_DAYS: '-1',
      }),
    ).toThrow(ConfigError);
    const bad = () =>
      loadConfig(IndexerEnv, { ES_RETENTION_CRON: 'every night', INDEXER_TOPICS: 'mentions,interactions' });
    expect(bad).toThrow(/ES_RETENTION_CRON="every night": not a valid cron expression/);
    expect(bad).toThrow(/INDEXER_TOPICS/);
  });
});

describe('kibana import report', () => {
  it('sorts conflicts, missing references and other errors apart', () => {
    const report = reportOf(200, {
      success: false,
      successCount: 1,
      successResults: [{ type: 'index-pattern', id: 'dv', meta: { title: 'posts' }, overwrite: true }],
      errors: [
        { type: 'lens', id: 'l1', meta: { title: 'Rising' }, error: { type: 'conflict' } },
        {
          type: 'dashboard',
          id: 'd1',
          title: 'Micro-trends',
          error: { type: 'missing_references', references: [{ type: 'lens', id: 'gone' }] },
        },
        { type: 'widget', id: 'w1', error: { type: 'unsupported_type' } },
      ],
    });
    expect(report.success).toBe(false);
    expect(report.imported).toEqual([{ type: 'index-pattern', id: 'dv', title: 'posts', overwritten: true }]);
    expect(report.conflicts.map((p) => p.id)).toEqual(['l1']);
    expect(report.missingReferences).toEqual([
      {
        type: 'dashboard',
        id: 'd1',
        title: 'Micro-trends',
        kind: 'missing_references',
        detail: 'missing lens gone',
      },
    ]);
    expect(report.otherErrors.map((p) => p.kind)).toEqual(['unsupported_type']);
    const text = formatImportReport(report);
    expect(text).toContain('import FAILED');
    expect(text).toContain('conflicts (an object with this id exists and was not overwritten): 1');
  });

  it('builds the endpoint URL for the default and a named space', () => {
    expect(importUrl('http://k:5601/')).toBe('http://k:5601/api/saved_objects/_import?overwrite=true');
    expect(importUrl('http://k:5601', 'merch team')).toBe(
      'http://k:5601/s/merch%20team/api/saved_objects/_import?overwrite=true',
    );
  });

  it('rewrites only data view titles for another prefix', () => {
    const ndjson = [
      JSON.stringify({ type: 'index-pattern', id: 'a', attributes: { title: 'trendradar-mentions' } }),
      JSON.stringify({ type: 'lens', id: 'b', attributes: { title: 'trendradar-mentions' } }),
    ].join('\n');
    const lines = withIndexPrefix(ndjson, 'shop')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.attributes.title)).toEqual(['shop-mentions', 'trendradar-mentions']);
  });
});

describe('kibana import: KIBANA_AUTH', () => {
  it('is optional, trimmed, and blank means unset', () => {
    expect(loadConfig(KibanaImportEnv, {}).KIBANA_AUTH).toBeUndefined();
    expect(loadConfig(KibanaImportEnv, { KIBANA_AUTH: '  ' }).KIBANA_AUTH).toBeUndefined();
    expect(loadConfig(KibanaImportEnv, { KIBANA_AUTH: ' elastic:s3cr:et ' }).KIBANA_AUTH).toBe(
      'elastic:s3cr:et',
    );
  });

  it('refuses a value that is not user:password without repeating it (it may be a bare password)', () => {
    for (const value of ['hunter2-secret', ':hunter2-secret', 'elastic:']) {
      let message = '';
      try {
        loadConfig(KibanaImportEnv, { KIBANA_AUTH: value });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toMatch(/KIBANA_AUTH must be user:password/);
      expect(message).not.toContain('hunter2');
    }
  });
});
