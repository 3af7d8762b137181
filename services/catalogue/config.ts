import { fileURLToPath } from 'node:url';
import cron from 'node-cron';
import { z } from 'zod';
import { BaseEnv } from '../../shared/config/env.ts';

const csvList = z.string().transform((s) =>
  s
    .split(',')
    .map((part) => part.trim().toLowerCase())
    .filter(Boolean),
);

/** The image encoder, shared by the catalogue sync and the embedding worker (they must agree). */
export const ModelEnv = z.object({
  /** Model manifest (docs of shared/vision/manifest.ts); the model id in it tags every vector. */
  MODEL_MANIFEST: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../../models/squeezenet1.1.manifest.json', import.meta.url))),
  /** Replaces the manifest's `file`, e.g. a model installed by `trend-radar models pull`. */
  MODEL_FILE: z.string().min(1).optional(),
  /** onnxruntime intra-op threads. */
  MODEL_THREADS: z.coerce.number().int().min(1).max(64).default(2),
});

/** How images are fetched over https (catalogue image URLs, member photo URLs). */
export const FetchEnv = z.object({
  IMAGE_FETCH_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(3_000),
  /** Longest wait for response headers and longest silence while reading the body. */
  IMAGE_FETCH_READ_TIMEOUT_MS: z.coerce.number().int().min(50).max(300_000).default(10_000),
  IMAGE_FETCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(20 * 1024 * 1024),
  IMAGE_FETCH_MAX_REDIRECTS: z.coerce.number().int().min(0).max(10).default(3),
  /** Attempts in total for transient failures (timeouts, resets, 429, 5xx). */
  IMAGE_FETCH_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  IMAGE_FETCH_BACKOFF_MS: z.coerce.number().int().min(1).max(60_000).default(250),
  /** Longest one fetch may take, all attempts, redirects and backoff included. */
  IMAGE_FETCH_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(20_000),
  /** Host names exempt from the private-address (SSRF) checks, e.g. an internal CDN; comma-separated. */
  IMAGE_FETCH_ALLOW_HOSTS: csvList.default([]),
  /** PEM file of extra CA certificates trusted besides the system roots (an internal CDN's CA). */
  IMAGE_FETCH_CA_FILE: z.string().min(1).optional(),
});

export const CatalogueEnv = BaseEnv.extend(ModelEnv.shape)
  .extend(FetchEnv.shape)
  .extend({
    /** Feed read by `trend-radar catalogue run` on each scheduled sync (JSON or CSV). */
    CATALOGUE_FEED: z.string().min(1).optional(),
    /** When `catalogue run` re-syncs (node-cron syntax, server time); nightly by default. */
    CATALOGUE_SYNC_CRON: z
      .string()
      .refine((expression) => cron.validate(expression), 'not a valid cron expression')
      .default('30 2 * * *'),
    /** Images decoded and embedded together. */
    CATALOGUE_BATCH_SIZE: z.coerce.number().int().min(1).max(256).default(32),
    /** Refuse to tombstone more than this share of the published SKUs in one sync (a truncated feed). */
    CATALOGUE_MAX_REMOVAL_SHARE: z.coerce.number().min(0).max(1).default(0.5),
  });
export type CatalogueConfig = z.infer<typeof CatalogueEnv>;
