/**
 * Each image is counted once (onImage), on its final outcome: not on an attempt that ends in a
 * retry, and as `unusable` when it is dead-lettered after its last transient failure. Driven as the
 * consumer runner drives the handler: the uploads answered `retry` run again, up to maxAttempts.
 */
import { describe, expect, it } from 'vitest';
import { embedderHandler } from '../../../services/embedder/handler.ts';
import { type Upload, Upload as UploadSchema } from '../../../shared/contracts/events.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import type { InboundRecord, Outcome } from '../../../shared/kafka/consumer-runner.ts';
import {
  BLOBS,
  blobUpload,
  emptyRefusingDescriber,
  handlerSettings,
  testImageSources,
  uploadsRecord,
} from './fixtures.ts';

const { good, missing, empty } = BLOBS;
const record = (u: Upload, offset: number) =>
  uploadsRecord(encode(UploadSchema, u), offset, Buffer.from(u.postId));
const describer = emptyRefusingDescriber(3);

/** Runs the records to their final outcomes as the runner would; returns the onImage calls and the final outcomes. */
async function runToTheEnd(records: InboundRecord[], maxAttempts: number) {
  const counted: string[] = [];
  const handler = embedderHandler({
    describer,
    sources: testImageSources,
    ...handlerSettings,
    onImage: (result) => counted.push(result),
  });
  const final = new Map<InboundRecord, Outcome>();
  let pending = records;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const outcomes = await handler(pending, { heartbeat: async () => {}, attempt, maxAttempts });
    const retry: InboundRecord[] = [];
    pending.forEach((r, i) => {
      const outcome = outcomes[i]!;
      if (outcome.kind === 'retry' && attempt < maxAttempts) retry.push(r);
      else final.set(r, outcome);
    });
    pending = retry;
  }
  const tally: Record<string, number> = {};
  for (const result of counted) tally[result] = (tally[result] ?? 0) + 1;
  return { counted, tally, final: records.map((r) => final.get(r)!.kind) };
}

describe('embedder image counts', () => {
  it('counts an image that never loads once, as unusable, when it is finally dead-lettered', async () => {
    const { tally, final } = await runToTheEnd([record(blobUpload('gone', [missing]), 0)], 5);
    expect(final).toEqual(['dead']);
    expect(tally).toEqual({ unusable: 1 });
  });

  it('adds up to the images: good images of a retried upload are not counted on every attempt', async () => {
    const records = [
      record(blobUpload('partial', [good, missing]), 0),
      record(blobUpload('none', [missing, empty]), 1),
      record(blobUpload('fine', [good, good]), 2),
      record(blobUpload('bad', [empty]), 3),
    ];
    const { counted, tally, final } = await runToTheEnd(records, 5);
    expect(final).toEqual(['done', 'dead', 'done', 'dead']);
    expect(counted).toHaveLength(7);
    // Empty catalogue: a described image is a no-match.
    expect(tally).toEqual({ 'no-match': 3, unusable: 4 });
  });

  it('counts nothing for an attempt that ends in a retry', async () => {
    const counted: string[] = [];
    const handler = embedderHandler({
      describer,
      sources: testImageSources,
      ...handlerSettings,
      onImage: (result) => counted.push(result),
    });
    const outcomes = await handler([record(blobUpload('later', [good, missing]), 0)], {
      heartbeat: async () => {},
      attempt: 1,
      maxAttempts: 3,
    });
    expect(outcomes.map((o) => o.kind)).toEqual(['retry']);
    expect(counted).toEqual([]);
  });
});
