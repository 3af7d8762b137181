import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  LOOKS_LIKE_MAX_SIZE,
  looksLikeRequest,
  register,
  reindexTopics,
  risingRequest,
  searchFailure,
  sizeFlag,
  timelineRequest,
} from '../../../services/indexer/commands.ts';
import {
  DAILY_WINDOW_MS,
  elasticsearchReason,
  KNN_MAX_CANDIDATES,
} from '../../../shared/elasticsearch/queries.ts';

const flags = { since: '24h', by: 'sku', size: '20' };

describe('search rising: flags', () => {
  it('passes --country and --category to the per-SKU and the grouped queries', () => {
    expect(risingRequest({ ...flags, country: 'IT', category: 'bags' })).toEqual({
      by: 'sku',
      options: { since: '24h', size: 20, country: 'IT', category: 'bags' },
    });
    expect(risingRequest({ ...flags, by: 'category', country: 'IT' })).toEqual({
      by: 'category',
      options: { since: '24h', size: 20, country: 'IT' },
    });
    expect(risingRequest({ ...flags, by: 'country' })).toEqual({
      by: 'country',
      options: { since: '24h', size: 20 },
    });
  });

  it('refuses an unknown --by and a --size that is not a count', () => {
    expect(() => risingRequest({ ...flags, by: 'colour' })).toThrow(
      '--by must be one of sku, country, category, not "colour"',
    );
    expect(() => risingRequest({ ...flags, size: 'abc' })).toThrow(/--size must be a whole number/);
    expect(() => risingRequest({ ...flags, size: '0' })).toThrow(/--size must be a whole number/);
  });

  it('rejects --by colour on the command line before any query runs', async () => {
    const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    await expect(
      program.parseAsync(['search', 'rising', '--by', 'colour'], { from: 'user' }),
    ).rejects.toThrow(/argument 'colour' is invalid\. Allowed choices are sku, country, category/);
  });
});

const cli = () => {
  const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
  register(program);
  return program;
};

describe('search posts|text|looks-like: --size', () => {
  it('is a whole number, 1 or more', () => {
    expect(sizeFlag('5', 'posts')).toBe(5);
    expect(sizeFlag(' 20 ', 'posts')).toBe(20);
    for (const bad of ['abc', '-3', '2.5', '0', ''])
      expect(() => sizeFlag(bad, 'posts')).toThrow(
        `--size must be a whole number of posts (1 or more), not "${bad}"`,
      );
  });

  it('is refused on the command line before any query runs', async () => {
    // The audited case: abc, -3 and 2.5 reached Elasticsearch.
    for (const args of [
      ['search', 'posts', 'BAG-1', '--size', 'abc'],
      ['search', 'text', '#tote', '--size', '-3'],
      ['search', 'looks-like', 'BAG-1', '--size', '2.5'],
    ])
      await expect(cli().parseAsync(args, { from: 'user' })).rejects.toThrow(/--size must be a whole number/);
  });
});

describe('search timeline: --daily', () => {
  it('asks for the daily windows, and the hourly ones without it', () => {
    expect(timelineRequest({ since: '14d', daily: true })).toEqual({ since: '14d', sizeMs: DAILY_WINDOW_MS });
    expect(timelineRequest({ since: '7d', country: 'GB' })).toEqual({ since: '7d', country: 'GB' });
    expect(DAILY_WINDOW_MS).toBe(86_400_000);
  });
});

describe('search looks-like: flags', () => {
  it('leaves out the photos matched to the SKU unless --include-matched', () => {
    expect(looksLikeRequest({ size: '20' })).toEqual({ size: 20, includeMatched: false });
    expect(looksLikeRequest({ size: '5', model: 'm', includeMatched: true })).toEqual({
      size: 5,
      modelId: 'm',
      includeMatched: true,
    });
  });

  it("takes --size up to Elasticsearch's kNN limit, refused beyond before any query", async () => {
    expect(LOOKS_LIKE_MAX_SIZE).toBe(KNN_MAX_CANDIDATES);
    expect(looksLikeRequest({ size: '10000' }).size).toBe(10_000);
    expect(() => looksLikeRequest({ size: '10001' })).toThrow(
      "--size is at most 10,000 photos (Elasticsearch's kNN limit), not 10001",
    );
    await expect(
      cli().parseAsync(['search', 'looks-like', 'BAG-1', '--size', '20000'], { from: 'user' }),
    ).rejects.toThrow(/--size is at most 10,000 photos/);
  });
});

describe('search: an Elasticsearch refusal', () => {
  // The shape of the client's ResponseError for a kNN query over vectors of another dimension.
  const refused = Object.assign(new Error('search_phase_execution_exception'), {
    name: 'ResponseError',
    meta: {
      statusCode: 400,
      body: {
        error: {
          root_cause: [{ type: 'query_shard_exception', reason: 'failed to create query: …' }],
          type: 'search_phase_execution_exception',
          reason: 'all shards failed',
          failed_shards: [
            {
              shard: 0,
              reason: {
                type: 'query_shard_exception',
                reason: 'failed to create query: …',
                caused_by: { type: 'illegal_argument_exception', reason: 'dimensions [8] vs [4]' },
              },
            },
          ],
        },
        status: 400,
      },
    },
  });

  it("names the command and Elasticsearch's deepest reason", () => {
    expect(elasticsearchReason(refused)).toBe('illegal_argument_exception: dimensions [8] vs [4]');
    const error = searchFailure('looks-like', refused, elasticsearchReason(refused)) as Error;
    expect(error.message).toBe(
      'search looks-like: Elasticsearch refused the query (HTTP 400): illegal_argument_exception: dimensions [8] vs [4]',
    );
    expect(error.cause).toBe(refused);
  });

  it('leaves other errors (connection refused…) to the CLI', () => {
    const down = Object.assign(new Error('connect ECONNREFUSED'), { name: 'ConnectionError', meta: {} });
    expect(elasticsearchReason(down)).toBeUndefined();
    expect(searchFailure('rising', down, undefined)).toBe(down);
  });
});

describe('reindex: --topics', () => {
  it('takes indexed topic ids, comma-separated', () => {
    expect(reindexTopics('uploads, mentions')).toEqual(['uploads', 'mentions']);
  });

  it('names the flag, not the environment variable, for an unknown id', () => {
    // The audited case: "INDEXER_TOPICS.0: Invalid option".
    expect(() => reindexTopics('uploadz')).toThrow(
      '--topics names "uploadz", which the indexer does not index: give one or more of uploads, mentions, ' +
        'trend-windows, reorder-alerts, alert-actions, catalogue-embeddings, comma-separated',
    );
    expect(() => reindexTopics(' , ')).toThrow(/^--topics names no topic/);
  });
});

describe('reindex: confirmation', () => {
  const tty = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
  afterEach(() => {
    if (tty) Object.defineProperty(process.stdin, 'isTTY', tty);
    else delete (process.stdin as { isTTY?: boolean }).isTTY;
    vi.restoreAllMocks();
  });

  it('refuses without a terminal and without --yes, deleting nothing', async () => {
    // The audited case: the prompt was printed and the command exited 0 having done nothing.
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    await expect(cli().parseAsync(['reindex', '--topics', 'uploads'], { from: 'user' })).rejects.toThrow(
      /reindex deletes the \S+ indices of uploads .*re-run with --yes/s,
    );
    expect(out).not.toHaveBeenCalled();
  });

  it('checks --topics before anything else', async () => {
    await expect(
      cli().parseAsync(['reindex', '--topics', 'uploadz', '--yes'], { from: 'user' }),
    ).rejects.toThrow(/^--topics names "uploadz"/);
  });
});
