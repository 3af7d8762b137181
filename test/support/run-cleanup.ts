/**
 * What an integration run leaves on servers it did not start: every test namespace carries the
 * run's id, so the run deletes exactly its own topics, indices and index templates at the end.
 * Without this a long-lived broker keeps every test topic ever made, and its heap runs out.
 */
import { Client } from '@elastic/elasticsearch';
import { createKafka } from '../../shared/kafka/client.ts';

const DELETE_CHUNK = 100;

export async function deleteRunData(
  prefix: string,
  kafkaBrokers: string[],
  elasticsearchUrl: string,
): Promise<{ topics: number; indices: number }> {
  const admin = createKafka({ brokers: kafkaBrokers, clientId: 'integration-cleanup' }).admin();
  await admin.connect();
  let topics: string[];
  try {
    topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    for (let i = 0; i < topics.length; i += DELETE_CHUNK)
      await admin.deleteTopics({ topics: topics.slice(i, i + DELETE_CHUNK), timeout: 60_000 });
  } finally {
    await admin.disconnect();
  }
  const es = new Client({ node: elasticsearchUrl });
  try {
    const indices = Object.keys(
      await es.indices.get({ index: `${prefix}*`, allow_no_indices: true, ignore_unavailable: true }),
    );
    for (const index of indices) await es.indices.delete({ index, ignore_unavailable: true });
    const templates = await es.indices
      .getIndexTemplate({ name: `${prefix}*` })
      .catch(() => ({ index_templates: [] }));
    for (const template of templates.index_templates)
      await es.indices.deleteIndexTemplate({ name: template.name });
    return { topics: topics.length, indices: indices.length };
  } finally {
    await es.close();
  }
}
