/** Uploads and the records that carry them, for the embedder handler's tests. */
import type { Upload } from '../../../shared/contracts/events.ts';
import type { InboundRecord } from '../../../shared/kafka/consumer-runner.ts';
import { CatalogueIndex } from '../../../shared/vision/catalogue-index.ts';

/** An upload of stored blobs (`sha256:…` references). */
export const blobUpload = (id: string, blobRefs: string[]): Upload => ({
  eventId: `evt-${id}`,
  postId: `post-${id}`,
  memberId: 'member-1',
  images: blobRefs.map((blobRef) => ({ blobRef })),
  caption: '',
  hashtags: [],
  location: { country: 'GB', city: 'London' },
  clientTimestamp: '2026-11-20T10:00:00.000Z',
  receivedAt: '2026-11-20T10:00:01.000Z',
  source: 'test',
});

/** A record of the uploads topic holding `value` (the encoded upload, or bytes that are not one). */
export const uploadsRecord = (value: Buffer, offset: number, key: Buffer | null = null): InboundRecord =>
  ({
    topic: 'uploads',
    partition: 0,
    offset: String(offset),
    key,
    value,
    headers: {},
    timestamp: 0,
    message: { offset: String(offset), key, value, timestamp: '0' },
  }) as unknown as InboundRecord;

/** The handler's settings that these tests do not vary: an empty catalogue, the default policy. */
export const handlerSettings = {
  index: () => CatalogueIndex.empty(),
  policy: { threshold: 0.5, margin: 0.02 },
  keepCandidates: 2,
  mentionsTopic: 'mentions',
  deadLetterTopic: 'dead-letters',
  service: 'embedder',
};
