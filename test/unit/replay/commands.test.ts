import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  copySummary,
  copyTopics,
  redriveNote,
  register,
  repeatWarning,
} from '../../../services/replay/commands.ts';

const contracts = [
  { id: 'uploads', version: 1 },
  { id: 'dead-letters', version: 1 },
  { id: 'reorder-alerts', version: 1 },
];

describe('replay copy: source and target', () => {
  it('maps a full source name to its contract topic in the --to-namespace', () => {
    // The audited case: this used to be refused as a copy "into itself".
    expect(
      copyTopics({ topic: 'trendradar.uploads.v1', toNamespace: 'staging' }, 'trendradar', contracts),
    ).toEqual({ source: 'trendradar.uploads.v1', target: 'staging.uploads.v1' });
    expect(copyTopics({ topic: 'uploads', toNamespace: 'staging' }, 'prod', contracts)).toEqual({
      source: 'prod.uploads.v1',
      target: 'staging.uploads.v1',
    });
  });

  it('refuses an unknown source with the valid ids', () => {
    expect(() => copyTopics({ topic: 'nosuch', toNamespace: 'staging' }, 'prod', contracts)).toThrow(
      /unknown topic "nosuch": give a contract id \(uploads, dead-letters, reorder-alerts\)/,
    );
  });

  it('takes --to as a contract id, a full name, or any other topic name', () => {
    expect(copyTopics({ topic: 'uploads', to: 'reorder-alerts' }, 'prod', contracts).target).toBe(
      'prod.reorder-alerts.v1',
    );
    expect(copyTopics({ topic: 'uploads', to: 'staging.uploads.v1' }, 'prod', contracts).target).toBe(
      'staging.uploads.v1',
    );
    expect(copyTopics({ topic: 'uploads', to: 'scratch-copy' }, 'prod', contracts).target).toBe(
      'scratch-copy',
    );
    expect(copyTopics({ topic: 'dead-letters', to: 'scratch-copy' }, 'prod', contracts).target).toBe(
      'scratch-copy',
    );
  });

  it('wants exactly one of --to and --to-namespace, and a valid namespace', () => {
    expect(() => copyTopics({ topic: 'uploads' }, 'prod', contracts)).toThrow(/exactly one of/);
    expect(() => copyTopics({ topic: 'uploads', to: 'x', toNamespace: 'y' }, 'prod', contracts)).toThrow(
      /exactly one of/,
    );
    expect(() => copyTopics({ topic: 'uploads', toNamespace: 'Bad NS' }, 'prod', contracts)).toThrow(
      /--to-namespace "Bad NS" is not a namespace/,
    );
  });
});

describe('replay copy: re-driving dead letters', () => {
  it('refuses to copy every dead letter onto a contract topic', () => {
    // The audited case: an alert action's dead letter landed on uploads.
    expect(() => copyTopics({ topic: 'dead-letters', to: 'uploads' }, 'prod', contracts)).toThrow(
      /refusing to copy all of prod\.dead-letters\.v1 onto prod\.uploads\.v1: .*--original-topic uploads/,
    );
    expect(() =>
      copyTopics({ topic: 'staging.dead-letters.v1', to: 'staging.uploads.v1' }, 'prod', contracts),
    ).toThrow(/--original-topic uploads/);
  });

  it("filters on the original topic, named in the dead-letter topic's namespace", () => {
    expect(
      copyTopics({ topic: 'dead-letters', to: 'uploads', originalTopic: 'uploads' }, 'prod', contracts),
    ).toEqual({
      source: 'prod.dead-letters.v1',
      target: 'prod.uploads.v1',
      originalTopic: 'prod.uploads.v1',
    });
    expect(
      copyTopics(
        {
          topic: 'staging.dead-letters.v1',
          to: 'staging.reorder-alerts.v1',
          originalTopic: 'reorder-alerts',
        },
        'prod',
        contracts,
      ).originalTopic,
    ).toBe('staging.reorder-alerts.v1');
  });

  it('refuses dead letters of one topic onto another, and the filter on other sources', () => {
    expect(() =>
      copyTopics(
        { topic: 'dead-letters', to: 'uploads', originalTopic: 'reorder-alerts' },
        'prod',
        contracts,
      ),
    ).toThrow(
      /dead letters of prod\.reorder-alerts\.v1 onto prod\.uploads\.v1: they belong on reorder-alerts/,
    );
    expect(() =>
      copyTopics({ topic: 'uploads', toNamespace: 'staging', originalTopic: 'uploads' }, 'prod', contracts),
    ).toThrow(/--original-topic .* needs --topic dead-letters/);
    expect(() =>
      copyTopics({ topic: 'dead-letters', to: 'uploads', originalTopic: 'uploadz' }, 'prod', contracts),
    ).toThrow(/unknown topic "uploadz"/);
  });

  it('copies all dead letters into another dead-letter topic, filtered or not', () => {
    expect(copyTopics({ topic: 'dead-letters', toNamespace: 'staging' }, 'prod', contracts)).toEqual({
      source: 'prod.dead-letters.v1',
      target: 'staging.dead-letters.v1',
    });
    expect(
      copyTopics(
        { topic: 'dead-letters', toNamespace: 'staging', originalTopic: 'uploads' },
        'prod',
        contracts,
      ).originalTopic,
    ).toBe('prod.uploads.v1');
  });
});

describe('replay copy: dead letters of one service', () => {
  it('takes --service with the dead-letter topic only', () => {
    expect(
      copyTopics(
        { topic: 'dead-letters', to: 'uploads', originalTopic: 'uploads', service: 'indexer' },
        'prod',
        contracts,
      ),
    ).toEqual({
      source: 'prod.dead-letters.v1',
      target: 'prod.uploads.v1',
      originalTopic: 'prod.uploads.v1',
      service: 'indexer',
    });
    expect(
      copyTopics({ topic: 'dead-letters', toNamespace: 'staging', service: 'embedder' }, 'prod', contracts)
        .service,
    ).toBe('embedder');
    expect(() =>
      copyTopics({ topic: 'uploads', toNamespace: 'staging', service: 'indexer' }, 'prod', contracts),
    ).toThrow(/--service selects dead letters .* needs --topic dead-letters, not uploads/);
    expect(() =>
      copyTopics({ topic: 'dead-letters', toNamespace: 'staging', service: ' ' }, 'prod', contracts),
    ).toThrow(/--service needs a service name/);
  });

  it('prints what a re-drive left out, duplicates included, and why there are several dead letters', () => {
    const result = { copied: 4, skipped: 0, filtered: 3, duplicates: 4, replayId: 'replay-x' };
    expect(copySummary(result, { originalTopic: 'prod.uploads.v1' })).toBe(
      'copied 4 records (0 outside the time window, 3 dead letters of other topics, ' +
        '4 more dead letters of a record already re-driven in this run) with replay.id=replay-x',
    );
    expect(copySummary(result, { originalTopic: 'prod.uploads.v1', service: 'indexer' })).toContain(
      '3 dead letters of other topics or of other services than indexer',
    );
    expect(copySummary(result, {})).toBe(
      'copied 4 records (0 outside the time window) with replay.id=replay-x',
    );
    expect(redriveNote()).toMatch(
      /once by each service that consumes its topic .*rewound .*puts each original record .* back once.*--from where this one ends/,
    );
    expect(redriveNote('indexer')).toContain("--service indexer keeps one service's");
  });
});

describe('replay copy: running it twice', () => {
  it('warns in every plan that a second run duplicates the range', () => {
    expect(repeatWarning('staging.uploads.v1')).toMatch(
      /copied into staging\.uploads\.v1 before, running it again puts every record there twice/,
    );
  });
});

describe("replay reset-group: an aggregator stage's group", () => {
  it('is refused before the broker is asked, --dry-run, --yes and --create included', async () => {
    for (const extra of [[], ['--dry-run'], ['--yes', '--create']]) {
      const program = new Command('trend-radar').exitOverride().configureOutput({ writeErr: () => {} });
      register(program);
      await expect(
        program.parseAsync(
          [
            'replay',
            'reset-group',
            '--group',
            'trendradar.aggregator.trends',
            '--topic',
            'signals-by-sku',
            '--to',
            'earliest',
            ...extra,
          ],
          { from: 'user' },
        ),
      ).rejects.toThrow(/refusing to reset trendradar\.aggregator\.trends: .*re-read record twice/s);
    }
  });
});
