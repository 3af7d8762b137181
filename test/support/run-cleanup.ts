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
    topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}-`));
    for (let i = 0; i < topics.length; i += DELETE_CHUNK)
      await admin.deleteTopics({ topics: topics.slice(i, i + DELETE_CHUNK), timeout: 60_000 });
  } finally {
    await admin.disconnect();
  }
  const es = new Client({ node: elasticsearchUrl });
  try {
    return { topics: topics.length, indices: await deleteIndices(es, prefix) };
  } finally {
    await es.close();
  }
}

/** Deletes the indices and index templates named `<prefix>-…`; returns how many indices. */
export async function deleteIndices(client: Client, prefix: string): Promise<number> {
  const existing = await client.indices.get({
    index: `${prefix}-*`,
    allow_no_indices: true,
    ignore_unavailable: true,
  });
  for (const index of Object.keys(existing)) await client.indices.delete({ index, ignore_unavailable: true });
  const templates = await client.indices
    .getIndexTemplate({ name: `${prefix}-*` })
    .catch(() => ({ index_templates: [] }));
  for (const t of templates.index_templates) await client.indices.deleteIndexTemplate({ name: t.name });
  return Object.keys(existing).length;
}
