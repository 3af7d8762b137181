/** The headers every record on the uploads and interactions topics carries (all strings). */
import { type TopicId, topicSpec } from '../../shared/contracts/topics.ts';
import { SCHEMA_HEADER } from '../../shared/kafka/codec.ts';

export function recordHeaders(topic: TopicId, source: string, requestId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    [SCHEMA_HEADER]: `${topic}.v${topicSpec(topic).version}`,
    'trendradar-source': source,
    'trendradar-request-id': requestId,
  };
}
