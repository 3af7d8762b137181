/**
 * One thread of the describer pool (describer-pool.ts): its own onnxruntime session (one intra-op
 * thread by default), sharp decode, descriptor preparation and inference, so none of it runs on
 * the service's main thread. A task is a model batch of image bytes; the answer holds one result
 * per image, in order. A bad image is a result of its own (`ok: false`, with the error's name and
 * message) and never fails its neighbours; only a failure of the batch itself (inference) fails the
 * task.
 *
 * Tasks may arrive while one is in inference: their images start decoding at once (on libuv's
 * threads), and preparation + inference run one task after the other.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { DecodeOptions } from './decode.ts';
import { ImageDescriber } from './describer.ts';
import { ImageEncoder } from './encoder.ts';
import { loadManifest } from './manifest.ts';

export interface WorkerSetup {
  entry: string;
  manifestPath: string;
  modelFile?: string;
  threads: number;
  decode: DecodeOptions;
  /** libvips threads per image operation (process-wide); unset leaves sharp's default. */
  sharpConcurrency?: number;
}

export interface WorkerTask {
  id: number;
  images: Uint8Array[];
}

export type WorkerImageResult =
  | { ok: true; vector: Float32Array }
  | { ok: false; name: string; message: string };

export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'failed'; name: string; message: string }
  | { kind: 'done'; id: number; results: WorkerImageResult[] }
  | { kind: 'error'; id: number; name: string; message: string };

const port = parentPort!;
const setup = workerData as WorkerSetup;

function errorResult(error: unknown): { ok: false; name: string; message: string } {
  const e = error instanceof Error ? error : new Error(String(error));
  return { ok: false, name: e.name, message: e.message };
}

async function main(): Promise<void> {
  if (setup.sharpConcurrency) sharp.concurrency(setup.sharpConcurrency);
  const loaded = await loadManifest(setup.manifestPath, setup.modelFile);
  // The pool verified the checksum once before starting its workers.
  const encoder = await ImageEncoder.load(loaded, { threads: setup.threads, skipVerify: true });
  const describer = new ImageDescriber(encoder, setup.decode);
  let previous: Promise<void> = Promise.resolve();

  port.on('message', (task: WorkerTask) => {
    // Decoding starts at once; preparation errors stay in their slot.
    const prepared = task.images.map((bytes) =>
      describer
        .prepare(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
        .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
    );
    previous = previous.then(async () => {
      try {
        const described = await describer.describePrepared(await Promise.all(prepared));
        const results = described.map(
          (r): WorkerImageResult => (r.ok ? r : { ok: false, name: r.error.name, message: r.error.message }),
        );
        const message: WorkerMessage = { kind: 'done', id: task.id, results };
        port.postMessage(
          message,
          results.flatMap((r) => (r.ok ? [r.vector.buffer as ArrayBuffer] : [])),
        );
      } catch (error) {
        const e = errorResult(error);
        port.postMessage({
          kind: 'error',
          id: task.id,
          name: e.name,
          message: e.message,
        } satisfies WorkerMessage);
      }
    });
  });
  port.postMessage({ kind: 'ready' } satisfies WorkerMessage);
}

main().catch((error: unknown) => {
  const e = errorResult(error);
  port.postMessage({ kind: 'failed', name: e.name, message: e.message } satisfies WorkerMessage);
});
