/**
 * The describer on worker threads: `size` workers (describe-worker.ts), each with its own
 * onnxruntime session, decode and descriptor preparation, so a service's main thread only moves
 * bytes and results (onnxruntime-node runs inference synchronously on the calling thread, and the
 * descriptor's pixel work is plain JavaScript: on the main thread both would stall Kafka I/O).
 *
 * `describe` cuts the images into model-sized batches, one task each; every worker holds up to
 * `tasksPerWorker` tasks so the next batch decodes while one is in inference; further tasks wait
 * in order. A bad image is an ImageRejectedError in its own slot; a failed batch (inference) or a
 * worker that dies rejects only the tasks it held, and a dead worker is replaced.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DEFAULT_DECODE, type DecodeOptions, ImageRejectedError } from './decode.ts';
import type { WorkerMessage, WorkerSetup, WorkerTask } from './describe-worker.ts';
import type { DescribeResult, Describer } from './describer.ts';
import { DESCRIPTOR_ID } from './descriptor.ts';
import { loadManifest, type ModelManifest, ModelMismatchError, verifyModelFile } from './manifest.ts';

export interface DescriberPoolOptions {
  manifestPath: string;
  modelFile?: string;
  /** Worker threads; defaults to the machine's available parallelism. */
  size?: number;
  /** onnxruntime intra-op threads per worker (1: the workers are the parallelism). */
  threadsPerWorker?: number;
  decode?: Partial<DecodeOptions>;
  /** Tasks (model batches) handed to one worker at once. */
  tasksPerWorker?: number;
  /** libvips threads per image operation; 1 by default, the workers being the parallelism. */
  sharpConcurrency?: number;
}

export class DescriberError extends Error {
  override name = 'DescriberError';
}

interface Task {
  id: number;
  images: Uint8Array[];
  resolve: (results: DescribeResult[]) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  tasks: Map<number, Task>;
  ready: boolean;
}

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./describe-worker.ts', import.meta.url).href;

export class DescriberPool implements Describer {
  readonly descriptorId = DESCRIPTOR_ID;
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;
  private broken: Error | undefined;

  private constructor(
    readonly manifest: ModelManifest,
    private readonly setup: WorkerSetup,
    readonly size: number,
    private readonly tasksPerWorker: number,
  ) {}

  static async start(options: DescriberPoolOptions): Promise<DescriberPool> {
    const loaded = await loadManifest(options.manifestPath, options.modelFile);
    await verifyModelFile(loaded);
    const setup: WorkerSetup = {
      entry: ENTRY,
      manifestPath: loaded.manifestPath,
      modelFile: loaded.modelPath,
      threads: options.threadsPerWorker ?? 1,
      decode: { ...DEFAULT_DECODE, ...options.decode },
      sharpConcurrency: options.sharpConcurrency ?? 1,
    };
    const size = Math.max(1, options.size ?? availableParallelism());
    const pool = new DescriberPool(loaded.manifest, setup, size, Math.max(1, options.tasksPerWorker ?? 2));
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get modelId(): string {
    return this.manifest.id;
  }

  /** Batches that can be worked on at once (what a caller should keep in flight). */
  get parallelism(): number {
    return this.size * this.tasksPerWorker;
  }

  async describe(images: readonly Buffer[]): Promise<DescribeResult[]> {
    const { maxBatch } = this.manifest;
    const batches: Promise<DescribeResult[]>[] = [];
    for (let start = 0; start < images.length; start += maxBatch)
      batches.push(this.submit(images.slice(start, start + maxBatch)));
    return (await Promise.all(batches)).flat();
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new DescriberError('the describer pool is closed');
    for (const task of this.queue.splice(0)) task.reject(error);
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        for (const task of slot.tasks.values()) task.reject(error);
        slot.tasks.clear();
        return slot.worker.terminate();
      }),
    );
  }

  private submit(images: readonly Buffer[]): Promise<DescribeResult[]> {
    if (this.closed) return Promise.reject(new DescriberError('the describer pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<DescribeResult[]>((resolve, reject) => {
      // Copied views: a Buffer may share its memory with others (Node's pool), so nothing is transferred.
      const bytes = images.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      this.queue.push({ id: this.nextId++, images: bytes, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const slot of this.slots) {
        if (!slot.ready || slot.tasks.size >= this.tasksPerWorker) continue;
        if (!best || slot.tasks.size < best.tasks.size) best = slot;
      }
      if (!best) return;
      const task = this.queue.shift()!;
      best.tasks.set(task.id, task);
      best.worker.postMessage({ id: task.id, images: task.images } satisfies WorkerTask);
    }
  }

  private spawn(): Promise<void> {
    const worker = new Worker(BOOT, { workerData: this.setup, execArgv: [] });
    const slot: Slot = { worker, tasks: new Map(), ready: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        const wasReady = slot.ready;
        slot.ready = false;
        const index = this.slots.indexOf(slot);
        if (index < 0) return; // closed, or already handled
        this.slots.splice(index, 1);
        for (const task of slot.tasks.values()) task.reject(error);
        slot.tasks.clear();
        void worker.terminate();
        if (!wasReady) {
          // A worker that cannot even start (model, loader) will not start next time either.
          this.broken = error;
          for (const task of this.queue.splice(0)) task.reject(error);
          reject(error);
          return;
        }
        if (!this.closed) this.spawn().catch(() => {});
      };
      worker.on('message', (message: WorkerMessage) => {
        switch (message.kind) {
          case 'ready':
            slot.ready = true;
            resolve();
            this.dispatch();
            return;
          case 'failed':
            // A model that does not fit its manifest keeps its class: callers tell it apart.
            fail(
              message.name === 'ModelMismatchError'
                ? new ModelMismatchError(message.message)
                : new DescriberError(`describer worker failed to start: ${message.message}`),
            );
            return;
          case 'done': {
            const task = slot.tasks.get(message.id);
            if (!task) return;
            slot.tasks.delete(message.id);
            task.resolve(
              message.results.map((r) =>
                r.ok ? { ok: true, vector: r.vector } : { ok: false, error: rebuildError(r.name, r.message) },
              ),
            );
            this.dispatch();
            return;
          }
          case 'error': {
            const task = slot.tasks.get(message.id);
            if (!task) return;
            slot.tasks.delete(message.id);
            task.reject(rebuildError(message.name, message.message));
            this.dispatch();
            return;
          }
        }
      });
      worker.on('error', (error) => fail(new DescriberError(`describer worker crashed: ${error.message}`)));
      worker.on('exit', (code) => fail(new DescriberError(`describer worker exited with code ${code}`)));
    });
  }
}

/**
 * The error classes callers tell apart (an unusable image is permanent, a model that does not fit
 * its manifest is fatal, anything else is transient).
 */
function rebuildError(name: string, message: string): Error {
  if (name === 'ImageRejectedError') return new ImageRejectedError(message);
  if (name === 'ModelMismatchError') return new ModelMismatchError(message);
  const error = new Error(message);
  error.name = name;
  return error;
}
