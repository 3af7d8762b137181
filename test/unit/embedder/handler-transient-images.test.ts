/**
 * An image failing transiently (its blob not in the store yet) retries the whole upload while
 * attempts remain; on the last attempt it is dead-lettered on its own (dlq.image.index, under the
 * transient error's class) and the upload's good images keep their mentions.
 */
import { describe, expect, it } from 'vitest';
import { embedderHandler } from '../../../services/embedder/handler.ts';
import { type Mention, type Upload, Upload as UploadSchema } from '../../../shared/contracts/events.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import type { OutboundRecord, Outcome } from '../../../shared/kafka/consumer-runner.ts';
import {
  BLOBS,
  blobUpload,
  emptyRefusingDescriber,
  handlerSettings,
  testImageSources,
  uploadsRecord,
} from './fixtures.ts';

const { good, missing, empty } = BLOBS;
const upload = blobUpload;
const record = (u: Upload, offset: number) =>
  uploadsRecord(encode(UploadSchema, u), offset, Buffer.from(u.postId));
// The empty blob is refused like an undecodable image; the others are described.
const handler = embedderHandler({
  describer: emptyRefusingDescriber(4),
  sources: testImageSources,
  ...handlerSettings,
});

const records = [
  record(upload('partial', [good, missing]), 0),
  record(upload('none', [missing, empty]), 1),
  record(upload('fine', [good]), 2),
];
const run = (attempt: number) => handler(records, { heartbeat: async () => {}, attempt, maxAttempts: 3 });
const outputsOf = (outcome: Outcome): OutboundRecord[] => (outcome.kind === 'done' ? outcome.outputs! : []);
const header = (out: OutboundRecord, name: string) => String(out.headers?.[name]);

describe('embedder handler on a transient image failure', () => {
  it('retries the upload while attempts remain', async () => {
    const outcomes = await run(2);
    expect(outcomes.map((o) => o.kind)).toEqual(['retry', 'retry', 'done']);
    expect(outcomes[0]).toMatchObject({ error: { name: 'BlobNotFoundError' } });
  });

  it('on the last attempt: mentions for the good images, the failed one dead-lettered alone', async () => {
    const outcomes = await run(3);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'dead', 'done']);

    const partial = outputsOf(outcomes[0]!);
    const mentions = partial.filter((o) => o.topic === 'mentions');
    expect(mentions.map((o) => (JSON.parse(String(o.value)) as Mention).mentionId)).toEqual([
      'evt-partial:0:none',
    ]);
    const dead = partial.filter((o) => o.topic === 'dead-letters');
    expect(dead).toHaveLength(1);
    expect(header(dead[0]!, 'dlq.image.index')).toBe('1');
    // The transient class is kept: re-driving the upload once the blob is there will work.
    expect(header(dead[0]!, 'dlq.error.class')).toBe('BlobNotFoundError');
    expect(header(dead[0]!, 'dlq.error')).toMatch(/^image 1 \(blob:sha256:b+\): blob .* not found/);
    expect(header(dead[0]!, 'dlq.attempts')).toBe('3');
    expect(header(dead[0]!, 'dlq.original.offset')).toBe('0');

    // No good image: the upload goes as a whole, with every image's reason.
    const none = outcomes[1]!;
    expect(none.kind === 'dead' && none.error).toMatchObject({
      name: 'BlobNotFoundError',
      message: expect.stringMatching(/^image 0 .*not found; image 1 .*empty image/),
    });
    expect(outputsOf(outcomes[2]!).map((o) => o.topic)).toEqual(['mentions']);
  });
});
