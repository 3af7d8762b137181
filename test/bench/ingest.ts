/**
 * `npm run bench ingest [seconds-per-phase]`: throughput and latency of the ingest service into the
 * real broker, beside the raw kafkajs producer (same settings: idempotent, acks=all) on the same
 * broker in the same run.
 *
 * The service runs as its own process (`trend-radar ingest run`, as in production) on 127.0.0.1;
 * this process is the load generator and the baseline producer. Phases, each time-boxed:
 *   1. raw producer: interaction records in sendBatch chunks of 500;
 *   2. HTTP max load: closed loop, 24 connections, batches of 500 interactions;
 *   3. HTTP half load: open loop at half the rate of phase 2, batches of 100, latency per request;
 *   4. uploads: JSON uploads (https image URL on a public IP literal, so the SSRF rules run without DNS)
 *      and multipart uploads with a small JPEG (blob store write).
 * The last line is one JSON object with every figure and the ratio to the baseline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { FormData, Pool } from 'undici';
import { mintApiKey } from '../../services/ingest/api-keys.ts';
import { topicName, topicSpec } from '../../shared/contracts/topics.ts';
import { connectProducer, createKafka } from '../../shared/kafka/client.ts';
import { applyTopics } from '../../shared/kafka/topics-admin.ts';
import { benchServers } from './lib/servers.ts';

const HOST = '127.0.0.1';
const BATCH = 500;

export default async function bench(args: string[]): Promise<void> {
  const phaseSeconds = Number(args[0] ?? 8);
  const { kafkaBrokers: brokers } = await benchServers();
  const namespace = `bench-ingest-${randomBytes(3).toString('hex')}`;
  const kafka = createKafka({ brokers, clientId: 'bench-ingest' });
  await applyTopics(kafka, { namespace, specs: [topicSpec('uploads'), topicSpec('interactions')] });
  const topic = topicName('interactions', namespace);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const runId = randomBytes(3).toString('hex');
  let seq = 0;
  const interaction = () => ({
    eventId: `b-${runId}-${seq++}`,
    type: 'like',
    postId: `post-${seq % 5000}`,
    memberId: `member-${seq % 20000}`,
    timestamp: new Date(Date.now() - 1000).toISOString(),
    country: 'GB',
  });

  // 1. Baseline: the raw producer.
  const producer = await connectProducer(kafka);
  let rawCount = 0;
  const rawStarted = performance.now();
  const rawUntil = rawStarted + phaseSeconds * 1000;
  const rawWorker = async () => {
    while (performance.now() < rawUntil) {
      const messages = Array.from({ length: BATCH }, () => {
        const value = { ...interaction(), receivedAt: new Date().toISOString(), source: 'bench' };
        return { key: value.postId, value: JSON.stringify(value) };
      });
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
      rawCount += BATCH;
    }
  };
  await Promise.all([rawWorker(), rawWorker(), rawWorker(), rawWorker()]);
  const rawRate = rawCount / ((performance.now() - rawStarted) / 1000);
  await producer.disconnect();
  log(`raw producer: ${Math.round(rawRate)} records/s`);

  // The service, as its own process.
  const { key, entry } = mintApiKey('bench');
  const blobDir = await mkdtemp(join(tmpdir(), 'bench-ingest-blobs-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'shared/cli/main.ts', 'ingest', 'run'], {
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers.join(','),
      TOPIC_NAMESPACE: namespace,
      BLOB_STORE_DIR: blobDir,
      INGEST_HOST: HOST,
      INGEST_PORT: String(port),
      INGEST_API_KEYS: `${entry.name}:${entry.sha256}`,
      INGEST_RATE_LIMIT_PER_MINUTE: '1000000',
      INGEST_MAX_BATCH: String(BATCH),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://${HOST}:${port}`;
  const pool = new Pool(origin, { connections: 24, pipelining: 1, keepAliveTimeout: 30_000 });
  try {
    await waitReady(origin, child);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const post = async (path: string, body: string | FormData, extra: Record<string, string> = headers) => {
      const started = performance.now();
      const response = await pool.request({ origin, path, method: 'POST', headers: extra, body });
      await response.body.dump();
      if (response.statusCode !== 202) throw new Error(`${path} answered ${response.statusCode}`);
      return performance.now() - started;
    };
    const bodies = (size: number, count: number) =>
      Array.from({ length: count }, () => JSON.stringify(Array.from({ length: size }, interaction)));

    // Warm-up (JIT, connections, producer metadata).
    await closedLoop(2, 24, bodies(BATCH, 40), (body) => post('/v1/interactions', body));

    // 2. Max load.
    const max = await closedLoop(phaseSeconds, 24, bodies(BATCH, 1000), (body) =>
      post('/v1/interactions', body),
    );
    const maxRate = (max.requests * BATCH) / max.seconds;
    log(`http max load: ${Math.round(maxRate)} interactions/s, p99 ${max.p99.toFixed(1)} ms`);

    // 3. Half load, open loop. Bodies are built first and both processes get a moment to collect
    // the max-load garbage, so the phase measures the service, not the previous phase's GC.
    const halfRate = maxRate / 2;
    const halfBatch = 100;
    const halfBodies = bodies(halfBatch, Math.ceil((halfRate * phaseSeconds) / halfBatch) + 10);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const half = await openLoop(phaseSeconds, halfRate / halfBatch, halfBodies, (body) =>
      post('/v1/interactions', body),
    );
    log(
      `http half load: ${Math.round((half.requests * halfBatch) / half.seconds)} interactions/s, p99 ${half.p99.toFixed(1)} ms`,
    );

    // 4. Uploads.
    let uploadSeq = 0;
    const upload = () => ({
      eventId: `bu-${runId}-${uploadSeq}`,
      postId: `bpost-${runId}-${uploadSeq++}`,
      memberId: 'member-1',
      images: [{ url: 'https://93.184.215.14/photos/red-shoe.jpg' }],
      caption: 'new in',
      hashtags: ['ootd'],
      location: { country: 'GB', city: 'London' },
      clientTimestamp: new Date(Date.now() - 1000).toISOString(),
    });
    const jsonUploads = await closedLoop(
      phaseSeconds / 2,
      24,
      Array.from({ length: 60_000 }, () => JSON.stringify(upload())),
      (body) => post('/v1/uploads', body),
    );
    const jpeg = await sharp({ create: { width: 320, height: 320, channels: 3, background: '#b01c2e' } })
      .jpeg({ quality: 80 })
      .toBuffer();
    let variant = 0;
    const multipartUploads = await closedLoop(
      phaseSeconds / 2,
      8,
      Array.from({ length: 20_000 }, () => JSON.stringify({ ...upload(), images: undefined })),
      (metadata) => {
        const form = new FormData();
        form.append('metadata', metadata);
        // A distinct image each time so every request really writes a blob.
        const bytes = Buffer.concat([jpeg, Buffer.from(String(variant++))]);
        form.append('image', new Blob([bytes], { type: 'image/jpeg' }), 'photo.jpg');
        return post('/v1/uploads', form, { authorization: `Bearer ${key}` });
      },
    );

    const result = {
      bench: 'ingest',
      phaseSeconds,
      rawProducer: { recordsPerSecond: Math.round(rawRate) },
      httpMaxLoad: {
        interactionsPerSecond: Math.round(maxRate),
        batch: BATCH,
        connections: 24,
        p50Ms: round(max.p50),
        p99Ms: round(max.p99),
        ratioToRawProducer: round(maxRate / rawRate, 3),
      },
      httpHalfLoad: {
        targetInteractionsPerSecond: Math.round(halfRate),
        interactionsPerSecond: Math.round((half.requests * halfBatch) / half.seconds),
        batch: halfBatch,
        p50Ms: round(half.p50),
        p99Ms: round(half.p99),
      },
      uploadsJson: {
        perSecond: Math.round(jsonUploads.requests / jsonUploads.seconds),
        p50Ms: round(jsonUploads.p50),
        p99Ms: round(jsonUploads.p99),
      },
      uploadsMultipart: {
        perSecond: Math.round(multipartUploads.requests / multipartUploads.seconds),
        p50Ms: round(multipartUploads.p50),
        p99Ms: round(multipartUploads.p99),
      },
      targets: {
        interactionsPerSecondAtLeast20000: maxRate >= 20_000,
        ratioAtLeast0_5: maxRate / rawRate >= 0.5,
        halfLoadP99Under50Ms: half.p99 < 50,
      },
    };
    console.log(JSON.stringify(result));
  } finally {
    await pool.close();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(blobDir, { recursive: true, force: true });
  }
}

interface LoadResult {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
}

/** `concurrency` workers send back to back until the time is up or the bodies run out. */
async function closedLoop<T>(
  seconds: number,
  concurrency: number,
  bodies: T[],
  send: (body: T) => Promise<number>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  let next = 0;
  const worker = async () => {
    while (performance.now() < until && next < bodies.length) latencies.push(await send(bodies[next++]!));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summarise(latencies, (performance.now() - started) / 1000);
}

/** Requests at a fixed rate regardless of how fast answers come (no coordinated omission). */
async function openLoop<T>(
  seconds: number,
  perSecond: number,
  bodies: T[],
  send: (body: T) => Promise<number>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const inFlight: Array<Promise<void>> = [];
  const started = performance.now();
  const total = Math.min(bodies.length, Math.floor(seconds * perSecond));
  for (let i = 0; i < total; i++) {
    const due = started + (i / perSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const scheduled = due;
    inFlight.push(
      send(bodies[i]!).then(() => {
        // Latency from when the request was due, so a stalled generator cannot hide queueing.
        latencies.push(performance.now() - scheduled);
      }),
    );
  }
  await Promise.all(inFlight);
  return summarise(latencies, (performance.now() - started) / 1000);
}

function summarise(latencies: number[], seconds: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { requests: latencies.length, seconds, p50: at(0.5), p99: at(0.99) };
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(origin: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ingest exited with ${child.exitCode}`);
    const ok = await fetch(`${origin}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('ingest did not become ready within 60 s');
}
