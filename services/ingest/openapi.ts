/**
 * The OpenAPI 3.1 document of the ingest API, generated from the same zod schemas the server
 * validates with (`trend-radar ingest openapi` writes it to docs/api/openapi.json).
 */
import { z } from 'zod';
import { InteractionRequest, UploadRequest } from './validation.ts';

const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

const errorBody = {
  type: 'object',
  required: ['error', 'reason'],
  properties: {
    error: {
      type: 'string',
      description:
        'Short code: unauthenticated, rate-limited, too-large, batch-too-large, malformed-json, unsupported-media-type, invalid, forbidden-url, bad-request, broker-unavailable, overloaded.',
    },
    reason: { type: 'string', description: 'What was wrong, for humans.' },
  },
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** A 503: whatever its cause, it says when to try again (with the same event ids). */
const unavailableResponse = (description: string) => ({
  ...errorResponse(description),
  headers: {
    'Retry-After': {
      description: 'Seconds to wait before retrying with the same event ids.',
      schema: { type: 'integer', minimum: 1 },
    },
  },
});

const itemResult = {
  type: 'object',
  required: ['index', 'status'],
  properties: {
    index: {
      type: 'integer',
      description: 'Position in the batch (0-based; NDJSON: non-empty line number − 1).',
    },
    status: { enum: ['accepted', 'rejected'] },
    eventId: { type: 'string' },
    reason: { type: 'string' },
  },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Trend Radar ingest API',
      version: '1.0.0',
      description:
        'Member uploads and interactions into the event log. A 202 means the broker acknowledged (acks=all). ' +
        'Event ids make re-sends idempotent downstream: after a 503, retry with the same ids.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key minted with `trend-radar ingest mint-key`.',
        },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        UploadRequest: jsonSchema(UploadRequest),
        InteractionRequest: jsonSchema(InteractionRequest),
        Error: errorBody,
        BatchResult: {
          type: 'object',
          required: ['accepted', 'rejected', 'results'],
          properties: {
            accepted: { type: 'integer' },
            rejected: { type: 'integer' },
            results: { type: 'array', items: itemResult },
          },
        },
      },
    },
    paths: {
      '/v1/uploads': {
        post: {
          summary: 'One member upload',
          description:
            'JSON with https image URLs (checked against SSRF rules: public addresses only), or multipart/form-data ' +
            'with a `metadata` field (the upload as JSON; `images` may hold URL images) and one file part per image ' +
            '(JPEG, PNG, WebP or AVIF), stored content-addressed in the blob store and referenced as `blobRef`. ' +
            'HEIC (HEVC-coded HEIF, the iPhone default) is accepted only where the image decoder has HEVC support; ' +
            "the stock build (sharp's prebuilt libvips) has none and answers 415: convert HEIC to JPEG before uploading.",
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/UploadRequest' } },
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['metadata'],
                  properties: {
                    metadata: {
                      type: 'string',
                      description: 'UploadRequest as JSON; `images` may be omitted.',
                    },
                    image: { type: 'array', items: { type: 'string', format: 'binary' } },
                  },
                },
              },
            },
          },
          responses: {
            '202': {
              description: 'Accepted and acknowledged by the broker.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      status: { const: 'accepted' },
                      eventId: { type: 'string' },
                      postId: { type: 'string' },
                      images: { type: 'array', items: { type: 'object' } },
                    },
                  },
                },
              },
            },
            '400': errorResponse('Invalid upload, malformed JSON or a forbidden image URL.'),
            '401': errorResponse('Missing or unknown API key.'),
            '413': errorResponse('Body, image or record too large.'),
            '415': errorResponse(
              'Unsupported content type, a file that is not an image, or an image this deployment cannot decode (HEIC/HEVC on the stock build).',
            ),
            '429': errorResponse('Rate limit of the API key exceeded.'),
            '503': unavailableResponse(
              'The broker did not acknowledge within INGEST_PRODUCE_TIMEOUT_MS or is known to be down (broker-unavailable), too many records wait for it (overloaded), or DNS did not answer for an image host (dns-unavailable); retry after Retry-After.',
            ),
          },
        },
      },
      '/v1/interactions': {
        post: {
          summary: 'A batch of interactions',
          description:
            'A JSON array, or NDJSON (one interaction per line). Each item is judged alone: valid items are accepted even when neighbours are rejected.',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'array', items: { $ref: '#/components/schemas/InteractionRequest' } },
              },
              'application/x-ndjson': { schema: { type: 'string' } },
            },
          },
          responses: {
            '202': {
              description: 'At least one item accepted (and acknowledged); per-item results.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            '400': errorResponse('Malformed body, or no valid item (per-item results included).'),
            '401': errorResponse('Missing or unknown API key.'),
            '413': errorResponse('Body, batch or one record too large.'),
            '415': errorResponse('Unsupported content type.'),
            '429': errorResponse('Rate limit of the API key exceeded.'),
            '503': unavailableResponse(
              'The broker did not acknowledge within INGEST_PRODUCE_TIMEOUT_MS or is known to be down (broker-unavailable), or too many records wait for it (overloaded); retry with the same event ids after Retry-After.',
            ),
          },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'Alive.' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: broker reachable and not draining',
          security: [],
          responses: { '200': { description: 'Ready.' }, '503': { description: 'Not ready.' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: { '200': { description: 'Metrics.' } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI.' } } },
      },
    },
  };
}
