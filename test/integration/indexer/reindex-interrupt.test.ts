/**
 * `trend-radar reindex --yes` interrupted by SIGTERM, as an operator (or a supervisor) does it, on
 * the real broker and node: the CLI runs in a child process, gets SIGTERM once it is indexing, and
 * must stop cleanly — exit 143, one line saying the indices are partial and that running reindex
 * again rebuilds them, and its consumer out of the indexer's group at once, so that a reindex run
 * right after is not refused for a "live member" and rebuilds complete indices. And a member a
 * reindex left behind (killed without stopping) is named as a reindex's, not an indexer's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexerEnv, indexerGroupId } from '../../../services/indexer/config.ts';
import { REINDEX_CLIENT_ID_SUFFIX, reindex } from '../../../services/indexer/reindex.ts';
import { loadConfig } from '../../../shared/config/env.ts';
import { TrendWindow } from '../../../shared/contracts/events.ts';
import { topicName } from '../../../shared/contracts/topics.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { createKafka } from '../../../shared/kafka/client.ts';
import { encode } from '../../../shared/kafka/codec.ts';
import { applyTopics } from '../../../shared/kafka/topics-admin.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';
import { deleteIndices } from '../../support/run-cleanup.ts';
import { countDocs, produceRaw } from './harness.ts';
import { buildScenario } from './scenario.ts';

const { kafkaBrokers, elasticsearchUrl } = integrationEnv();
const namespace = uniqueNamespace('reindex-sigterm');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'reindex-interrupt-test' });
const es = createElasticsearch(elasticsearchUrl);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const groupId = `${namespace}.indexer`;
/** Enough windows that, five to a bulk request, the reindex indexes for several seconds. */
const COPIES = 40;
const windows = buildScenario().windows.flatMap((w) =>
  Array.from({ length: COPIES }, (_, i) => ({ ...w, windowId: `${w.windowId}#${i}` })),
);

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  KAFKA_BROKERS: kafkaBrokers.join(','),
  ELASTICSEARCH_URL: elasticsearchUrl,
  TOPIC_NAMESPACE: namespace,
  ES_INDEX_PREFIX: namespace,
  ...extra,
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startReindex(extra: Record<string, string> = {}): Run {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'shared/cli/main.ts', 'reindex', '--yes', '--topics', 'trend-windows'],
    { cwd: root, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The last `reindexed done/total` the CLI printed. */
function progressOf(stdout: string): { done: number; total: number } | undefined {
  const all = [...stdout.matchAll(/reindexed (\d+)\/(\d+) records/g)];
  const last = all.at(-1);
  return last ? { done: Number(last[1]), total: Number(last[2]) } : undefined;
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

beforeAll(async () => {
  await applyTopics(kafka, { namespace });
  await produceRaw(
    kafka,
    topicName('trend-windows', namespace),
    windows.map((w) => ({ key: w.sku, value: encode(TrendWindow, w) })),
  );
});

afterAll(async () => {
  await deleteIndices(es, namespace);
  await es.close();
});

describe('reindex interrupted by SIGTERM', () => {
  it('exits 143 saying the indices are partial, leaves the group, and a re-run rebuilds them', async () => {
    // Small bulk requests, one partition at a time: slow enough to be caught indexing.
    const first = startReindex({ INDEXER_BATCH_SIZE: '5', INDEXER_CONCURRENCY: '1' });
    const indexing = await until(() => {
      const p = progressOf(first.stdout());
      return p !== undefined && p.done > 0;
    }, 120_000);
    expect(indexing, `never started indexing:\n${first.stdout()}\n${first.stderr()}`).toBe(true);
    const before = progressOf(first.stdout())!;
    expect(before.done).toBeLessThan(before.total);
    first.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    const { code, signal } = await first.exited;
    expect({ code, signal }, first.stderr()).toEqual({ code: 143, signal: null });
    // A clean stop takes a moment, not the 30 s of a session timeout.
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(first.stderr()).toMatch(
      new RegExp(
        `reindex interrupted \\(SIGTERM\\): stopped consuming, abandoned the bulk request in flight and left group ${groupId}; ` +
          `the ${namespace} indices of trend-windows are PARTIAL \\(deleted, not fully rebuilt\\)\\. ` +
          'Run `trend-radar reindex` again to rebuild them\\.',
      ),
    );
    expect(await countDocs(es, namespace, 'trend-windows')).toBeLessThan(windows.length);

    // The group was left: no member lingers for the session timeout.
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [group] = (await admin.describeGroups([groupId])).groups;
      expect(group?.members ?? []).toEqual([]);
    } finally {
      await admin.disconnect();
    }

    // Run again at once: not refused, and the indices are whole.
    const second = startReindex();
    const again = await second.exited;
    expect(second.stderr()).not.toMatch(/live member/);
    expect(again, second.stderr()).toEqual({ code: 0, signal: null });
    expect(second.stdout()).toMatch(/deleted \d+ indices, re-read \d+ records from 1 topics/);
    expect(await countDocs(es, namespace, 'trend-windows')).toBe(windows.length);
  });

  it("names a member a reindex left behind as a reindex's, with its session timeout", async () => {
    // A reindex killed without stopping (SIGKILL) leaves its member; here one joined by hand.
    const leftover = createKafka({
      brokers: kafkaBrokers,
      clientId: `trendradar${REINDEX_CLIENT_ID_SUFFIX}`,
    }).consumer({ groupId, allowAutoTopicCreation: false });
    await leftover.connect();
    try {
      const joined = new Promise<void>((resolve) => leftover.on(leftover.events.GROUP_JOIN, () => resolve()));
      await leftover.subscribe({ topics: [topicName('trend-windows', namespace)] });
      await leftover.run({ autoCommit: false, eachBatch: async () => leftover.pause([{ topic: '*' }]) });
      await joined;
      const config = loadConfig(IndexerEnv, {
        KAFKA_BROKERS: kafkaBrokers.join(','),
        TOPIC_NAMESPACE: namespace,
        ES_INDEX_PREFIX: namespace,
        ELASTICSEARCH_URL: elasticsearchUrl,
        INDEXER_TOPICS: 'trend-windows',
        LOG_LEVEL: 'silent',
      });
      expect(indexerGroupId(config)).toBe(groupId);
      await expect(
        reindex(config, {
          kafka,
          elasticsearch: es,
          logger: createLogger('reindex-interrupt-test', 'silent'),
        }),
      ).rejects.toThrow(
        new RegExp(
          `consumer group ${groupId.replace(/\./g, '\\.')} has 1 live member\\(s\\) from a reindex \\(trendradar-reindex on .+\\): ` +
            'another reindex is running, or one that was killed .* still listed until its session times out \\(up to 30 s\\)',
        ),
      );
    } finally {
      await leftover.disconnect();
    }
    // Refused before anything changed: the indices the first test rebuilt are all there.
    expect(await countDocs(es, namespace, 'trend-windows')).toBe(windows.length);
  });
});
