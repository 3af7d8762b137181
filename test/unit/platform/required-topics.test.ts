import { describe, expect, it } from 'vitest';
import {
  MissingTopicsError,
  missingTopics,
  missingTopicsMessage,
  requireTopics,
} from '../../../shared/kafka/required-topics.ts';

describe('required topics', () => {
  it('lists the broker-side names the broker lacks, in the order asked, once each', () => {
    const existing = ['ns.uploads.v1', 'other.interactions.v1', 'ns.dead-letters.v1'];
    expect(
      missingTopics(['uploads', 'interactions', 'dead-letters', 'interactions'], 'ns', existing),
    ).toEqual(['ns.interactions.v1']);
    expect(missingTopics(['uploads', 'dead-letters'], 'ns', existing)).toEqual([]);
    expect(missingTopics(['uploads', 'mentions'], 'fresh', [])).toEqual([
      'fresh.uploads.v1',
      'fresh.mentions.v1',
    ]);
  });

  it('names the missing topics, the namespace and the command that creates them', () => {
    expect(missingTopicsMessage('ingest', 'fresh', ['fresh.uploads.v1', 'fresh.interactions.v1'])).toBe(
      'ingest cannot start: its 2 topics do not exist on the broker (TOPIC_NAMESPACE=fresh): ' +
        'fresh.uploads.v1, fresh.interactions.v1\n' +
        "  create the namespace's topics with `TOPIC_NAMESPACE=fresh trend-radar topics apply` (same KAFKA_BROKERS), then start it again",
    );
    expect(missingTopicsMessage('catalogue sync', 'x', ['x.catalogue-embeddings.v1'])).toMatch(
      /^catalogue sync cannot start: its topic does not exist on the broker \(TOPIC_NAMESPACE=x\): x\.catalogue-embeddings\.v1\n/,
    );
  });

  it('throws MissingTopicsError from the topics an admin client lists, and nothing when all are there', async () => {
    const admin = { listTopics: async () => ['ns.uploads.v1'] } as unknown as Parameters<
      typeof requireTopics
    >[0];
    const error = await requireTopics(admin, 'ingest', 'ns', ['uploads', 'interactions']).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MissingTopicsError);
    expect(error).toMatchObject({
      name: 'MissingTopicsError',
      namespace: 'ns',
      missing: ['ns.interactions.v1'],
    });
    await expect(requireTopics(admin, 'ingest', 'ns', ['uploads'])).resolves.toBeUndefined();
  });
});
