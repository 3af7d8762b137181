import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AggregatorEnv } from '../../../services/aggregator/config.ts';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { IndexerEnv } from '../../../services/indexer/config.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { NotifierEnv } from '../../../services/notifier/config.ts';
import { SimulatorEnv } from '../../../services/simulator/config.ts';
import { BaseEnv, ConfigError, loadConfig } from '../../../shared/config/env.ts';

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig(BaseEnv, {});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.TOPIC_NAMESPACE).toBe('trendradar');
    expect(config.ELASTICSEARCH_URL).toBe('http://127.0.0.1:9200');
  });

  it('parses lists and numbers and treats empty strings as unset', () => {
    const config = loadConfig(BaseEnv, { KAFKA_BROKERS: 'a:1, b:2', METRICS_PORT: '9464', LOG_LEVEL: '' });
    expect(config.KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
    expect(config.METRICS_PORT).toBe(9464);
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('names every bad variable, its value and the reason in one error', () => {
    const schema = BaseEnv.extend({ WINDOW_MINUTES: z.coerce.number().int().positive() });
    let error: unknown;
    try {
      loadConfig(schema, {
        ELASTICSEARCH_URL: 'not a url',
        TOPIC_NAMESPACE: 'Bad Name',
        WINDOW_MINUTES: '-5',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('ELASTICSEARCH_URL="not a url"');
    expect(message).toContain('TOPIC_NAMESPACE="Bad Name": lowercase letters');
    expect(message).toContain('WINDOW_MINUTES="-5"');
  });
});

describe('loadConfig: blank and numeric values', () => {
  const schema = BaseEnv.extend({
    WINDOW_MS: z.coerce.number().int().min(0).default(500),
    RATIO: z.coerce.number().optional(),
    NAME: z.string().default('x'),
  });

  it.each([' ', '\t', ' \n '])('treats a blank value (%j) as unset, not as 0', (blank) => {
    const config = loadConfig(schema, { WINDOW_MS: blank, METRICS_PORT: blank, NAME: blank });
    expect(config).toMatchObject({ WINDOW_MS: 500, METRICS_PORT: 0, NAME: 'x' });
    expect(config.RATIO).toBeUndefined();
  });

  it('trims values', () => {
    expect(loadConfig(schema, { WINDOW_MS: ' 250\t', RATIO: ' -0.5 ', NAME: ' y ' })).toMatchObject({
      WINDOW_MS: 250,
      RATIO: -0.5,
      NAME: 'y',
    });
  });

  it.each(['0x10', '1e3', '0b1', '0o7', 'Infinity', '10ms', '1_000', '.'])(
    'refuses %j for a numeric setting, naming the variable',
    (value) => {
      expect(() => loadConfig(schema, { WINDOW_MS: value })).toThrow(
        `WINDOW_MS=${JSON.stringify(value)}: must be a decimal number`,
      );
    },
  );

  it('accepts plain decimals', () => {
    for (const [value, expected] of [
      ['0', 0],
      ['+7', 7],
      ['1.', 1],
      ['.25', 0.25],
      ['0.00003', 0.00003],
    ] as const) {
      expect(loadConfig(schema, { RATIO: value }).RATIO).toBe(expected);
    }
  });

  it('applies to every numeric setting of every service', () => {
    const schemas = [
      AggregatorEnv,
      CatalogueEnv,
      EmbedderEnv,
      IndexerEnv,
      IngestEnv,
      NotifierEnv,
      SimulatorEnv,
    ];
    let checked = 0;
    for (const schema of schemas) {
      const defaults = schema.safeParse({}).data as Record<string, unknown> | undefined;
      if (!defaults) continue;
      for (const [key, value] of Object.entries(defaults)) {
        if (typeof value !== 'number') continue;
        checked++;
        expect(() => loadConfig(schema, { [key]: '0x10' }), key).toThrow(
          `${key}="0x10": must be a decimal number`,
        );
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});

describe('docs/configuration.md', () => {
  it('documents every setting that a service validates', async () => {
    const docs = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const schemas = [
      AggregatorEnv,
      CatalogueEnv,
      EmbedderEnv,
      IndexerEnv,
      IngestEnv,
      NotifierEnv,
      SimulatorEnv,
    ];
    const names = new Set(schemas.flatMap((schema) => Object.keys(schema.shape)));
    expect(names.size).toBeGreaterThan(50);
    const undocumented = [...names].filter((name) => !docs.includes(`| \`${name}\` |`));
    expect(undocumented).toEqual([]);
  });
});
