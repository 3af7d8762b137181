/** Builds the vision library's fetcher and describer from this service family's env settings. */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { ImageFetcher } from '../../shared/net/image-fetcher.ts';
import type { UrlPolicy } from '../../shared/net/ssrf.ts';
import type { DecodeOptions } from '../../shared/vision/decode.ts';
import type { ImageDescriber } from '../../shared/vision/describer.ts';
import { DescriberPool } from '../../shared/vision/describer-pool.ts';
import { loadDescriber } from '../../shared/vision/load.ts';
import type { CatalogueConfig } from './config.ts';

type FetchSettings = Pick<
  CatalogueConfig,
  | 'IMAGE_FETCH_CONNECT_TIMEOUT_MS'
  | 'IMAGE_FETCH_READ_TIMEOUT_MS'
  | 'IMAGE_FETCH_MAX_BYTES'
  | 'IMAGE_FETCH_MAX_REDIRECTS'
  | 'IMAGE_FETCH_ATTEMPTS'
  | 'IMAGE_FETCH_BACKOFF_MS'
  | 'IMAGE_FETCH_DEADLINE_MS'
  | 'IMAGE_FETCH_ALLOW_HOSTS'
  | 'IMAGE_FETCH_CA_FILE'
>;

export function createImageFetcher(config: FetchSettings, resolve?: UrlPolicy['resolve']): ImageFetcher {
  // An explicit `ca` replaces Node's trust store, so the system roots are passed along with the extra CA.
  const ca = config.IMAGE_FETCH_CA_FILE
    ? [...rootCertificates, readFileSync(config.IMAGE_FETCH_CA_FILE, 'utf8')].join('\n')
    : undefined;
  return new ImageFetcher({
    connectTimeoutMs: config.IMAGE_FETCH_CONNECT_TIMEOUT_MS,
    readTimeoutMs: config.IMAGE_FETCH_READ_TIMEOUT_MS,
    maxBytes: config.IMAGE_FETCH_MAX_BYTES,
    maxRedirects: config.IMAGE_FETCH_MAX_REDIRECTS,
    attempts: config.IMAGE_FETCH_ATTEMPTS,
    backoffMs: config.IMAGE_FETCH_BACKOFF_MS,
    deadlineMs: config.IMAGE_FETCH_DEADLINE_MS,
    policy: { allowHosts: config.IMAGE_FETCH_ALLOW_HOSTS, ...(resolve ? { resolve } : {}) },
    ...(ca ? { ca } : {}),
  });
}

export function loadModel(
  config: Pick<CatalogueConfig, 'MODEL_MANIFEST' | 'MODEL_FILE' | 'MODEL_THREADS'>,
  decode?: Partial<DecodeOptions>,
): Promise<ImageDescriber> {
  return loadDescriber({
    manifestPath: config.MODEL_MANIFEST,
    threads: config.MODEL_THREADS,
    ...(config.MODEL_FILE ? { modelFile: config.MODEL_FILE } : {}),
    ...(decode ? { decode } : {}),
  });
}

/** The describer on `workers` worker threads (decode, descriptor and inference off the main thread). */
export function loadModelPool(
  config: Pick<CatalogueConfig, 'MODEL_MANIFEST' | 'MODEL_FILE'>,
  workers?: number,
  decode?: Partial<DecodeOptions>,
): Promise<DescriberPool> {
  return DescriberPool.start({
    manifestPath: config.MODEL_MANIFEST,
    ...(config.MODEL_FILE ? { modelFile: config.MODEL_FILE } : {}),
    ...(workers ? { size: workers } : {}),
    ...(decode ? { decode } : {}),
  });
}
