/**
 * Plays a generated scenario against the pipeline: renders each upload's phone-like photos from
 * the catalogue images, and sends the events in event-time order — through the ingest API
 * (multipart uploads, interaction batches) or straight to Kafka for bulk loads (photo bytes into
 * the blob store, uploads with blobRef). Time can be compressed (`speed`: a simulated week in a few
 * minutes) and capped (`rate` events/s); event times stay the simulated ones. Writes the ground
 * truth, with the blob reference of every photo so mentions (`blob:sha256:…`) join to their SKU.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Kafka, Message, Producer } from 'kafkajs';
import { type BlobStore, blobRefOf } from '../../shared/blobstore/blob-store.ts';
import type { Interaction, InventoryLevel, Upload } from '../../shared/contracts/events.ts';
import { retentionMs, topicName } from '../../shared/contracts/topics.ts';
import { connectProducer } from '../../shared/kafka/client.ts';
import { recordHeaders } from '../ingest/record-headers.ts';
import { loadStudioShot, photoRecipe, renderPhonePhoto, type StudioShot } from './phone-photo.ts';
import {
  type GroundTruth,
  generateScenario,
  type PhotoTruth,
  type Scenario,
  type ScenarioOptions,
  type ScenarioProduct,
} from './scenario.ts';

export interface FeedProduct extends ScenarioProduct {
  brand?: string | null;
  images: Array<{ view: string; path: string }>;
}

/** Reads a catalogue feed folder in the luma format (catalogue.json + images/). */
export async function loadCatalogueFeed(dir: string): Promise<FeedProduct[]> {
  const entries = JSON.parse(await readFile(join(dir, 'catalogue.json'), 'utf8')) as Array<{
    sku: string;
    style?: string | null;
    colour?: string | null;
    name?: string | null;
    category?: string | null;
    brand?: string | null;
    price?: number | null;
    images: Array<{ file: string; view: string }>;
  }>;
  return entries
    .filter((entry) => entry.images.length > 0)
    .map((entry) => ({
      sku: entry.sku,
      style: entry.style ?? null,
      colour: entry.colour ?? null,
      name: entry.name ?? null,
      category: entry.category ?? null,
      brand: entry.brand ?? null,
      price: entry.price ?? null,
      views: entry.images.map((image) => image.view),
      images: entry.images.map((image) => ({ view: image.view, path: join(dir, image.file) })),
    }));
}

export type SimulationTarget =
  | { kind: 'http'; url: string; apiKey: string }
  | { kind: 'kafka'; kafka: Kafka; namespace: string; blobStore: BlobStore; producer?: Producer };

export interface SimulationProgress {
  sent: number;
  total: number;
  uploads: number;
  interactions: number;
  /** Uploads and interactions the ingest API refused (0 when sending to Kafka). */
  rejected: number;
  /** Event time of the last event sent. */
  simulatedTime: string;
}

export interface SimulationOptions {
  catalogueDir: string;
  /** Scenario settings; `start` defaults to `days` before now (whole hours), so every event is in the past. */
  scenario: Omit<ScenarioOptions, 'catalogue'>;
  target: SimulationTarget;
  /** Simulated milliseconds per wall millisecond (2016 ≈ a week in 5 minutes). Default: no pacing. */
  speed?: number;
  /** At most this many events per second. Default: no cap. */
  rate?: number;
  /** Also publish the inventory snapshot (one record per SKU) to the inventory topic. */
  inventory?: { kafka: Kafka; namespace: string; producer?: Producer };
  truthFile?: string;
  /** 0 = near-studio photos … 1 = hard phone photos. Default 1. */
  photoStrength?: number;
  /** Photos rendered ahead of sending. Default 6. */
  renderAhead?: number;
  onProgress?: (progress: SimulationProgress) => void;
  signal?: AbortSignal;
  now?: () => number;
}

export interface SimulatedPhoto extends PhotoTruth {
  blobRef: string;
  /** How mentions refer to the photo. */
  imageUrl: string;
}

export interface SimulationTruth extends Omit<GroundTruth, 'photos'> {
  photos: SimulatedPhoto[];
  catalogueDir: string;
}

export interface SimulationResult {
  scenario: Scenario;
  truth: SimulationTruth;
  uploads: number;
  interactions: number;
  rejected: number;
  seconds: number;
}

const INTERACTION_BATCH = 500;
/** Queued interactions wait at most this long (wall clock) for their batch to fill. */
const INTERACTION_MAX_WAIT_MS = 250;
const HOUR_MS = 3_600_000;

/**
 * Straight to Kafka, the record timestamps are the event times, and the broker deletes records
 * older than the topic's retention at its next check: such a load would vanish within minutes.
 * (Through ingest, each such event is refused on its own.)
 */
function refuseExpiredStart(startMs: number, nowMs: number): void {
  const kept = retentionMs('uploads');
  const margin = 24 * HOUR_MS;
  if (Number.isFinite(startMs) && startMs < nowMs - kept + margin) {
    throw new Error(
      `start ${new Date(startMs).toISOString()} is older than the uploads topic keeps records (${Math.round(kept / (24 * HOUR_MS))} days, less a day's margin): the broker would delete them`,
    );
  }
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const catalogue = await loadCatalogueFeed(options.catalogueDir);
  const days = options.scenario.days ?? 7;
  const start =
    options.scenario.start ?? new Date(Math.floor((now() - days * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS);
  if (options.target.kind === 'kafka') refuseExpiredStart(new Date(start).getTime(), now());
  const scenario = generateScenario({ ...options.scenario, start, catalogue });
  const photosByImage = new Map(scenario.truth.photos.map((p) => [`${p.postId}|${p.imageIndex}`, p]));
  const imagePath = new Map(
    catalogue.flatMap((p) => p.images.map((i) => [`${p.sku}|${i.view}`, i.path] as const)),
  );

  const studioCache = new Map<string, Promise<StudioShot>>();
  const studio = (path: string) => {
    let shot = studioCache.get(path);
    if (!shot) {
      shot = readFile(path).then((bytes) => loadStudioShot(bytes));
      studioCache.set(path, shot);
    }
    return shot;
  };
  const renderUpload = (upload: Upload) =>
    Promise.all(
      upload.images.map(async (_, index) => {
        const truth = photosByImage.get(`${upload.postId}|${index}`)!;
        const path = imagePath.get(`${truth.sku}|${truth.view}`) ?? imagePath.get(`${truth.sku}|main`)!;
        const bytes = await renderPhonePhoto(
          await studio(path),
          photoRecipe(truth.photoSeed, options.photoStrength ?? 1),
        );
        return { truth, bytes, blobRef: blobRefOf(bytes) };
      }),
    );

  const sender = await createSender(options);
  try {
    if (options.inventory) await publishInventory(options.inventory, scenario.inventory);

    const events = scenario.events;
    const renders = new Map<number, ReturnType<typeof renderUpload>>();
    const ahead = options.renderAhead ?? 6;
    let nextToRender = 0;
    const renderUpTo = (from: number) => {
      nextToRender = Math.max(nextToRender, from);
      while (nextToRender < events.length && renders.size < ahead) {
        const event = events[nextToRender]!;
        if (event.kind === 'upload') {
          const promise = renderUpload(event.upload);
          promise.catch(() => undefined); // awaited (and its error raised) when its turn comes
          renders.set(nextToRender, promise);
        }
        nextToRender++;
      }
    };

    const photos: SimulatedPhoto[] = [];
    const scenarioStart = Date.parse(scenario.truth.start);
    const wallStart = now();
    let tokens = 0;
    let lastRefill = wallStart;
    const progress: SimulationProgress = {
      sent: 0,
      total: events.length,
      uploads: 0,
      interactions: 0,
      rejected: 0,
      simulatedTime: scenario.truth.start,
    };
    let reported = 0;
    let rejectedUploads = 0;

    for (let i = 0; i < events.length; i++) {
      if (options.signal?.aborted) break;
      const event = events[i]!;
      // Pacing: compressed simulated time, then the rate cap.
      if (options.speed && options.speed > 0) {
        const due = wallStart + (event.at - scenarioStart) / options.speed;
        const wait = due - now();
        if (wait > 5) {
          progress.rejected += await sender.flush();
          await sleep(wait);
        }
      }
      if (options.rate && options.rate > 0) {
        const t = now();
        tokens = Math.min(options.rate, tokens + ((t - lastRefill) / 1000) * options.rate);
        lastRefill = t;
        if (tokens < 1) {
          progress.rejected += await sender.flush();
          await sleep(((1 - tokens) / options.rate) * 1000);
          tokens = 1;
          lastRefill = now();
        }
        tokens -= 1;
      }
      if (event.kind === 'upload') {
        renderUpTo(i);
        const rendered = await (renders.get(i) ?? renderUpload(event.upload));
        renders.delete(i);
        renderUpTo(i + 1);
        // Queued interactions need not go first: they only refer to posts already sent.
        if (await sender.upload(event.upload, rendered)) progress.uploads++;
        else {
          progress.rejected++;
          rejectedUploads++;
        }
        for (const photo of rendered)
          photos.push({ ...photo.truth, blobRef: photo.blobRef, imageUrl: `blob:${photo.blobRef}` });
      } else {
        progress.rejected += await sender.interaction(event.interaction);
        progress.interactions++;
      }
      progress.sent++;
      progress.simulatedTime = new Date(event.at).toISOString();
      if (options.onProgress && (progress.sent - reported >= 200 || progress.sent === events.length)) {
        reported = progress.sent;
        options.onProgress({ ...progress });
      }
    }
    progress.rejected += await sender.flush();
    options.onProgress?.({ ...progress });

    const truth: SimulationTruth = { ...scenario.truth, photos, catalogueDir: options.catalogueDir };
    if (options.truthFile) {
      await mkdir(dirname(options.truthFile), { recursive: true });
      await writeFile(options.truthFile, `${JSON.stringify(truth, null, 1)}\n`);
    }
    return {
      scenario,
      truth,
      uploads: progress.uploads,
      interactions: progress.interactions - (progress.rejected - rejectedUploads),
      rejected: progress.rejected,
      seconds: (now() - started) / 1000,
    };
  } finally {
    await sender.close();
  }
}

interface RenderedPhoto {
  truth: PhotoTruth;
  bytes: Buffer;
  blobRef: string;
}

interface Sender {
  /** True when accepted. */
  upload(upload: Upload, photos: RenderedPhoto[]): Promise<boolean>;
  /** Queues an interaction; returns how many queued ones were rejected by a flush it caused. */
  interaction(interaction: Interaction): Promise<number>;
  /** Sends what is queued; returns how many were rejected. */
  flush(): Promise<number>;
  close(): Promise<void>;
}

async function createSender(options: SimulationOptions): Promise<Sender> {
  const target = options.target;
  if (target.kind === 'http') return httpSender(target.url, target.apiKey);
  const producer = target.producer ?? (await connectProducer(target.kafka));
  return kafkaSender(producer, target.namespace, target.blobStore, !target.producer);
}

function httpSender(url: string, apiKey: string): Sender {
  const origin = new URL(url);
  if (origin.protocol !== 'http:' && origin.protocol !== 'https:')
    throw new Error(`not an http(s) URL: ${url}`);
  let queue: Interaction[] = [];
  let firstQueuedAt = 0;
  const post = async (path: string, body: string | FormData, contentType?: string) => {
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(new URL(path, origin), {
        method: 'POST',
        body,
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(contentType ? { 'content-type': contentType } : {}),
        },
      });
      const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      // Back-pressure and broker hiccups: retry with the same event ids (idempotent downstream).
      if ((response.status === 429 || response.status === 503) && attempt < 8) {
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
        continue;
      }
      return { status: response.status, json };
    }
  };
  const flush = async () => {
    if (queue.length === 0) return 0;
    const batch = queue.map(({ receivedAt: _r, source: _s, ...rest }) => rest);
    queue = [];
    const { status, json } = await post('/v1/interactions', JSON.stringify(batch), 'application/json');
    if (status !== 202 && status !== 400)
      throw new Error(`ingest answered ${status}: ${JSON.stringify(json).slice(0, 300)}`);
    return Number(json.rejected ?? 0);
  };
  return {
    async upload(upload, photos) {
      const { receivedAt: _r, source: _s, images: _i, ...metadata } = upload;
      const form = new FormData();
      form.append('metadata', JSON.stringify(metadata));
      for (const photo of photos)
        form.append('image', new Blob([photo.bytes], { type: 'image/jpeg' }), 'photo.jpg');
      const { status, json } = await post('/v1/uploads', form);
      if (status === 202) return true;
      if (status >= 500) throw new Error(`ingest answered ${status}: ${JSON.stringify(json).slice(0, 300)}`);
      return false;
    },
    async interaction(interaction) {
      if (queue.length === 0) firstQueuedAt = Date.now();
      queue.push(interaction);
      return queue.length >= INTERACTION_BATCH || Date.now() - firstQueuedAt > INTERACTION_MAX_WAIT_MS
        ? flush()
        : 0;
    },
    flush,
    async close() {
      await flush();
    },
  };
}

function kafkaSender(
  producer: Producer,
  namespace: string,
  blobStore: BlobStore,
  ownsProducer: boolean,
): Sender {
  const topics = {
    uploads: topicName('uploads', namespace),
    interactions: topicName('interactions', namespace),
  };
  let queue: Message[] = [];
  let firstQueuedAt = 0;
  const flush = async () => {
    if (queue.length === 0) return 0;
    const messages = queue;
    queue = [];
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic: topics.interactions, messages }] });
    return 0;
  };
  return {
    async upload(upload, photos) {
      for (const photo of photos) await blobStore.put(photo.bytes);
      const value: Upload = {
        ...upload,
        images: photos.map((photo) => ({ blobRef: photo.blobRef, contentType: 'image/jpeg' })),
      };
      await producer.send({
        topic: topics.uploads,
        acks: -1,
        messages: [
          {
            key: value.postId,
            value: JSON.stringify(value),
            headers: recordHeaders('uploads', value.source, `simulator-${value.eventId}`),
            timestamp: String(Date.parse(value.clientTimestamp)),
          },
        ],
      });
      return true;
    },
    async interaction(interaction) {
      if (queue.length === 0) firstQueuedAt = Date.now();
      queue.push({
        key: interaction.postId,
        value: JSON.stringify(interaction),
        headers: recordHeaders('interactions', interaction.source, `simulator-${interaction.eventId}`),
        timestamp: String(Date.parse(interaction.timestamp)),
      });
      return queue.length >= INTERACTION_BATCH || Date.now() - firstQueuedAt > INTERACTION_MAX_WAIT_MS
        ? flush()
        : 0;
    },
    flush,
    async close() {
      await flush();
      if (ownsProducer) await producer.disconnect();
    },
  };
}

/** The ERP's stock snapshot: one compacted record per SKU. */
export async function publishInventory(
  target: { kafka: Kafka; namespace: string; producer?: Producer },
  levels: readonly InventoryLevel[],
): Promise<void> {
  const producer = target.producer ?? (await connectProducer(target.kafka));
  try {
    const topic = topicName('inventory', target.namespace);
    for (let i = 0; i < levels.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: levels.slice(i, i + 500).map((level) => ({ key: level.sku, value: JSON.stringify(level) })),
      });
    }
  } finally {
    if (!target.producer) await producer.disconnect();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
