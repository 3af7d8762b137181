import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AggregatorEnv } from '../../../services/aggregator/config.ts';
import { CatalogueEnv } from '../../../services/catalogue/config.ts';
import { EmbedderEnv } from '../../../services/embedder/config.ts';
import { IndexerEnv } from '../../../services/indexer/config.ts';
import { IngestEnv } from '../../../services/ingest/config.ts';
import { NotifierEnv } from '../../../services/notifier/config.ts';
import { SimulatorEnv } from '../../../services/simulator/config.ts';
import { BaseEnv, ConfigError, loadConfig, StackEnv, serversFromEnv } from '../../../shared/config/env.ts';

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
      StackEnv,
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

describe('KAFKA_BROKERS', () => {
  it('wants host:port for every broker, naming the ones without', () => {
    expect(() => loadConfig(BaseEnv, { KAFKA_BROKERS: '127.0.0.1' })).toThrow(
      'KAFKA_BROKERS="127.0.0.1": every broker must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:9092 — "127.0.0.1" is not',
    );
    expect(() => loadConfig(BaseEnv, { KAFKA_BROKERS: 'a:9092,b,c:0,d:70000,e:x' })).toThrow(
      /"b", "c:0", "d:70000", "e:x" are not/,
    );
    expect(
      loadConfig(BaseEnv, { KAFKA_BROKERS: 'kafka-1.internal:9092, 10.0.0.2:19092' }).KAFKA_BROKERS,
    ).toEqual(['kafka-1.internal:9092', '10.0.0.2:19092']);
  });
});

describe('StackEnv: the local stack settings', () => {
  it('defaults when unset or blank', () => {
    const defaults = {
      TREND_RADAR_HOME: join(homedir(), '.cache', 'trend-radar'),
      STACK_KAFKA_PORT: 9092,
      STACK_ELASTICSEARCH_PORT: 9200,
      STACK_KAFKA_HEAP: '512m',
      STACK_ELASTICSEARCH_HEAP: '1g',
    };
    expect(loadConfig(StackEnv, {})).toEqual(defaults);
    // A blank home used to mean "the current folder", which could put stack/ into the checkout.
    expect(
      loadConfig(StackEnv, {
        TREND_RADAR_HOME: '',
        STACK_KAFKA_PORT: '',
        STACK_ELASTICSEARCH_PORT: ' ',
        STACK_KAFKA_HEAP: '',
      }),
    ).toEqual(defaults);
  });

  it('refuses a relative home, a port out of range and a bad heap, naming each variable', () => {
    let message = '';
    try {
      loadConfig(StackEnv, {
        TREND_RADAR_HOME: 'stack-home',
        STACK_KAFKA_PORT: '65535',
        STACK_ELASTICSEARCH_PORT: '0',
        STACK_ELASTICSEARCH_HEAP: 'lots',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('TREND_RADAR_HOME="stack-home": must be an absolute path');
    expect(message).toContain(
      'STACK_KAFKA_PORT="65535": must be a port from 1 to 65534 (the KRaft controller takes the next port)',
    );
    expect(message).toContain('STACK_ELASTICSEARCH_PORT="0": must be a port from 1 to 65435');
    expect(message).toContain('STACK_ELASTICSEARCH_HEAP="lots": a JVM heap size such as 512m or 2g');
  });

  it('names the variable of a port that is not a number', () => {
    expect(() => loadConfig(StackEnv, { STACK_KAFKA_PORT: 'abc' })).toThrow(
      'STACK_KAFKA_PORT="abc": must be a decimal number',
    );
    expect(() => loadConfig(StackEnv, { STACK_KAFKA_PORT: '9092.5' })).toThrow(
      'STACK_KAFKA_PORT="9092.5": must be a whole number',
    );
  });

  it('reads ~ as the home folder and keeps absolute paths', () => {
    expect(loadConfig(StackEnv, { TREND_RADAR_HOME: '~/tr' }).TREND_RADAR_HOME).toBe(join(homedir(), 'tr'));
    expect(loadConfig(StackEnv, { TREND_RADAR_HOME: ' /srv/tr ' }).TREND_RADAR_HOME).toBe('/srv/tr');
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
      StackEnv,
    ];
    const names = new Set(schemas.flatMap((schema) => Object.keys(schema.shape)));
    expect(names.size).toBeGreaterThan(50);
    const undocumented = [...names].filter((name) => !docs.includes(`| \`${name}\` |`));
    expect(undocumented).toEqual([]);
  });
});

describe('serversFromEnv: servers named by the environment (then nothing local starts)', () => {
  it('is null unless both servers are named, a blank value counting as unset', () => {
    expect(serversFromEnv({})).toBeNull();
    expect(serversFromEnv({ KAFKA_BROKERS: '127.0.0.1:9092' })).toBeNull();
    expect(serversFromEnv({ KAFKA_BROKERS: ' ', ELASTICSEARCH_URL: 'http://es:9200' })).toBeNull();
  });

  it('gives the validated servers when both are named', () => {
    expect(
      serversFromEnv({ KAFKA_BROKERS: ' k1:9092, k2:9093 ', ELASTICSEARCH_URL: ' http://es:9200 ' }),
    ).toEqual({
      kafkaBrokers: ['k1:9092', 'k2:9093'],
      elasticsearchUrl: 'http://es:9200',
    });
  });

  it('refuses a malformed server instead of falling back to a default', () => {
    expect(() => serversFromEnv({ KAFKA_BROKERS: 'k1', ELASTICSEARCH_URL: 'http://es:9200' })).toThrow(
      ConfigError,
    );
  });
});

describe('settings that used to pass validation and fail later without their name', () => {
  it('ELASTICSEARCH_URL must be http or https', () => {
    for (const url of ['ftp://example', 'mailto:ops@example.com', 'file:///srv/es']) {
      expect(() => loadConfig(BaseEnv, { ELASTICSEARCH_URL: url }), url).toThrow(
        `ELASTICSEARCH_URL=${JSON.stringify(url)}: must be an http:// or https:// URL`,
      );
    }
    expect(loadConfig(BaseEnv, { ELASTICSEARCH_URL: 'https://es.internal:9243' }).ELASTICSEARCH_URL).toBe(
      'https://es.internal:9243',
    );
  });

  it('INDEXER_BACKOFF_INITIAL_MS must not be over INDEXER_BACKOFF_MAX_MS', () => {
    expect(() =>
      loadConfig(IndexerEnv, { INDEXER_BACKOFF_INITIAL_MS: '100000', INDEXER_BACKOFF_MAX_MS: '50' }),
    ).toThrow('INDEXER_BACKOFF_INITIAL_MS="100000": must be at most INDEXER_BACKOFF_MAX_MS (50)');
    // Against the other's default too.
    expect(() => loadConfig(IndexerEnv, { INDEXER_BACKOFF_MAX_MS: '100' })).toThrow(
      /INDEXER_BACKOFF_INITIAL_MS: must be at most INDEXER_BACKOFF_MAX_MS \(100\)/,
    );
    const equal = loadConfig(IndexerEnv, {
      INDEXER_BACKOFF_INITIAL_MS: '700',
      INDEXER_BACKOFF_MAX_MS: '700',
    });
    expect(equal.INDEXER_BACKOFF_MAX_MS).toBe(700);
  });

  it('INGEST_PRODUCE_TIMEOUT_MS is a bounded number of milliseconds', () => {
    expect(loadConfig(IngestEnv, {}).INGEST_PRODUCE_TIMEOUT_MS).toBe(10_000);
    expect(loadConfig(IngestEnv, { INGEST_PRODUCE_TIMEOUT_MS: '2500' }).INGEST_PRODUCE_TIMEOUT_MS).toBe(
      2_500,
    );
    expect(() => loadConfig(IngestEnv, { INGEST_PRODUCE_TIMEOUT_MS: '0' })).toThrow(
      /INGEST_PRODUCE_TIMEOUT_MS="0"/,
    );
  });
});
