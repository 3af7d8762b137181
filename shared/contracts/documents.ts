/**
 * Documents a data engineer reads instead of the TypeScript: one JSON Schema per topic value and
 * key, and an AsyncAPI 3.0 document of all topics with their Kafka bindings. Generated from the
 * zod schemas (`trend-radar contracts`); a unit test fails when the committed copies are stale.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { TOPICS, type TopicSpec } from './topics.ts';

const toJsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });

const messageName = (spec: TopicSpec) =>
  spec.id
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

export function topicJsonSchemas(): Record<string, object> {
  const files: Record<string, object> = {};
  for (const spec of TOPICS) {
    const base = `${spec.id}.v${spec.version}`;
    files[`${base}.key.schema.json`] = {
      title: `${spec.id} key: ${spec.keyDescription}`,
      ...toJsonSchema(spec.key),
    };
    files[`${base}.value.schema.json`] = spec.value
      ? { title: `${spec.id} value`, description: spec.description, ...toJsonSchema(spec.value) }
      : {
          title: `${spec.id} value`,
          description: `${spec.description} The value is the original record's bytes.`,
        };
  }
  return files;
}

export function asyncApiDocument(): object {
  const channels: Record<string, object> = {};
  const operations: Record<string, object> = {};
  const messages: Record<string, object> = {};
  for (const spec of TOPICS) {
    const name = messageName(spec);
    messages[name] = {
      name,
      title: spec.id,
      summary: spec.description,
      contentType: spec.value ? 'application/json' : 'application/octet-stream',
      payload: spec.value ? toJsonSchema(spec.value) : { description: 'original record bytes' },
      bindings: { kafka: { key: toJsonSchema(spec.key), bindingVersion: '0.5.0' } },
    };
    channels[spec.id] = {
      address: `{namespace}.${spec.id}.v${spec.version}`,
      description: `${spec.description} Key: ${spec.keyDescription}. Produced by ${spec.producedBy.join(', ')}; consumed by ${spec.consumedBy.join(', ')}.`,
      parameters: { namespace: { description: 'TOPIC_NAMESPACE of the deployment', default: 'trendradar' } },
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
      bindings: {
        kafka: {
          partitions: spec.partitions,
          topicConfiguration: Object.fromEntries(
            Object.entries(spec.config).map(([key, value]) => [
              key,
              key === 'cleanup.policy' ? [value] : Number(value),
            ]),
          ),
          bindingVersion: '0.5.0',
        },
      },
    };
    operations[`send${name}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${spec.id}` },
      summary: `Produced by ${spec.producedBy.join(', ')}`,
    };
    operations[`receive${name}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${spec.id}` },
      summary: `Consumed by ${spec.consumedBy.join(', ')}`,
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Trend Radar topics',
      version: '1.0.0',
      description:
        'Every Kafka topic of the Trend Radar pipeline. Values are JSON validated by zod on both sides; a record that breaks its contract goes to the dead-letter topic. Incompatible changes get a new topic version.',
    },
    defaultContentType: 'application/json',
    servers: {
      local: {
        host: '127.0.0.1:9092',
        protocol: 'kafka',
        description: 'the local stack (`trend-radar stack up`)',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}

/** docs/contracts of this repository, wherever the command runs from. */
export const CONTRACTS_DIR = fileURLToPath(new URL('../../docs/contracts', import.meta.url));

/** Writes the documents into `outDir` (a relative one is taken from the current directory). */
export async function writeContractDocuments(outDir: string = CONTRACTS_DIR): Promise<string[]> {
  await mkdir(join(outDir, 'schemas'), { recursive: true });
  const written: string[] = [];
  for (const [file, schema] of Object.entries(topicJsonSchemas())) {
    const path = join(outDir, 'schemas', file);
    await writeFile(path, `${JSON.stringify(schema, null, 2)}\n`);
    written.push(path);
  }
  const asyncapi = join(outDir, 'asyncapi.json');
  await writeFile(asyncapi, `${JSON.stringify(asyncApiDocument(), null, 2)}\n`);
  written.push(asyncapi);
  return written;
}
