import { describe, expect, it } from 'vitest';
import { copyTopics } from '../../../services/replay/commands.ts';

const contracts = [
  { id: 'uploads', version: 1 },
  { id: 'dead-letters', version: 1 },
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
      /unknown topic "nosuch": give a contract id \(uploads, dead-letters\)/,
    );
  });

  it('takes --to as a contract id, a full name, or any other topic name', () => {
    expect(copyTopics({ topic: 'dead-letters', to: 'uploads' }, 'prod', contracts).target).toBe(
      'prod.uploads.v1',
    );
    expect(copyTopics({ topic: 'dead-letters', to: 'staging.uploads.v1' }, 'prod', contracts).target).toBe(
      'staging.uploads.v1',
    );
    expect(copyTopics({ topic: 'uploads', to: 'scratch-copy' }, 'prod', contracts).target).toBe(
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
