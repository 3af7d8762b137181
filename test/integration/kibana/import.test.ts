/**
 * `kibana import` against a small local HTTP server that implements the contract of Kibana's
 * saved-objects import endpoint (POST /api/saved_objects/_import, multipart `file`,
 * `overwrite=true`, `kbn-xsrf` required, missing references reported per object). This is NOT
 * Kibana: it tests our client's request and its report, not that Kibana accepts the objects.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SavedObject } from '../../../infra/kibana/saved-objects.ts';
import { formatImportReport, importSavedObjects } from '../../../services/indexer/kibana-import.ts';

interface Received {
  url: string;
  xsrf: string | undefined;
  filename: string | undefined;
  objects: SavedObject[];
}

let server: FastifyInstance;
let baseUrl: string;
const received: Received[] = [];
/** Objects that "already exist" in the fake Kibana (in any space). */
const existing = new Set<string>(['index-pattern:some-other-view']);

beforeAll(async () => {
  server = Fastify();
  await server.register(multipart);
  server.post('/*', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (!/^(\/s\/[^/]+)?\/api\/saved_objects\/_import$/.test(path))
      return reply.code(404).send({ statusCode: 404, error: 'Not Found' });
    if (!request.headers['kbn-xsrf'])
      return reply
        .code(400)
        .send({ statusCode: 400, error: 'Bad Request', message: 'Request must contain a kbn-xsrf header.' });
    const file = await request.file();
    const text = file ? (await file.toBuffer()).toString('utf8') : '';
    const objects = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SavedObject);
    received.push({
      url: request.url,
      xsrf: request.headers['kbn-xsrf'] as string,
      filename: file?.filename,
      objects,
    });
    const overwrite = (request.query as { overwrite?: string }).overwrite === 'true';
    const inFile = new Set(objects.map((o) => `${o.type}:${o.id}`));
    const successResults: unknown[] = [];
    const errors: unknown[] = [];
    for (const o of objects) {
      const missing = o.references.filter(
        (r) => !inFile.has(`${r.type}:${r.id}`) && !existing.has(`${r.type}:${r.id}`),
      );
      const title = String(o.attributes.title ?? o.id);
      if (missing.length > 0)
        errors.push({
          id: o.id,
          type: o.type,
          title,
          meta: { title },
          error: { type: 'missing_references', references: missing.map((r) => ({ type: r.type, id: r.id })) },
        });
      else if (existing.has(`${o.type}:${o.id}`) && !overwrite)
        errors.push({ id: o.id, type: o.type, title, meta: { title }, error: { type: 'conflict' } });
      else
        successResults.push({
          id: o.id,
          type: o.type,
          meta: { title },
          ...(existing.has(`${o.type}:${o.id}`) ? { overwrite: true } : {}),
        });
    }
    for (const o of objects) existing.add(`${o.type}:${o.id}`);
    return {
      success: errors.length === 0,
      successCount: successResults.length,
      successResults,
      ...(errors.length ? { errors } : {}),
    };
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const address = server.server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await server.close();
});

describe('kibana import (against a fake of the import endpoint, not Kibana)', () => {
  it('sends the file as multipart with overwrite and kbn-xsrf, rewrites data views to the prefix, reports each object', async () => {
    const first = await importSavedObjects({
      kibanaUrl: `${baseUrl}/`,
      file: 'infra/kibana/trend-radar.ndjson',
      prefix: 't-shop',
    });
    const request = received.at(-1)!;
    expect(request.url).toBe('/api/saved_objects/_import?overwrite=true');
    expect(request.xsrf).toBeTruthy();
    expect(request.filename).toBe('trend-radar.ndjson');
    expect(request.objects).toHaveLength(21);
    expect(request.objects.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title)).toEqual([
      't-shop-posts',
      't-shop-mentions',
      't-shop-trend-windows',
      't-shop-reorder-alerts',
      't-shop-alert-actions',
    ]);
    expect(first.success).toBe(true);
    expect(first.imported).toHaveLength(21);
    expect(first.imported.every((o) => !o.overwritten)).toBe(true);

    // Again: the same objects are overwritten, and the report says so.
    const second = await importSavedObjects({
      kibanaUrl: baseUrl,
      file: 'infra/kibana/trend-radar.ndjson',
      prefix: 'trendradar',
      space: 'merch',
    });
    expect(received.at(-1)!.url).toBe('/s/merch/api/saved_objects/_import?overwrite=true');
    expect(received.at(-1)!.objects.find((o) => o.type === 'index-pattern')!.attributes.title).toBe(
      'trendradar-posts',
    );
    expect(second.success).toBe(true);
    expect(second.imported.every((o) => o.overwritten)).toBe(true);
    expect(formatImportReport(second)).toMatch(
      /^imported: 21 object\(s\) loaded \(HTTP 200\)\n {2}overwritten index-pattern trend-radar-posts/,
    );
  });

  it('reports missing references per object and fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kibana-import-'));
    const file = join(dir, 'broken.ndjson');
    const lens = {
      id: 'lonely-lens',
      type: 'lens',
      attributes: { title: 'Lonely' },
      references: [{ id: 'gone-view', name: 'indexpattern-datasource-layer-layer1', type: 'index-pattern' }],
    };
    await writeFile(file, `${JSON.stringify(lens)}\n`);
    const report = await importSavedObjects({ kibanaUrl: baseUrl, file, prefix: 'trendradar' });
    expect(report.success).toBe(false);
    expect(report.missingReferences).toEqual([
      {
        type: 'lens',
        id: 'lonely-lens',
        title: 'Lonely',
        kind: 'missing_references',
        detail: 'missing index-pattern gone-view',
      },
    ]);
    expect(formatImportReport(report)).toContain(
      'missing references (import the referenced objects first, or check the file): 1',
    );
  });

  it('reports a refused request clearly', async () => {
    const report = await importSavedObjects({
      kibanaUrl: `${baseUrl}/not-kibana`,
      file: 'infra/kibana/trend-radar.ndjson',
      prefix: 'trendradar',
    });
    expect(report.success).toBe(false);
    expect(report.otherErrors).toEqual([
      { type: '-', id: '-', title: 'import request', kind: 'http 404', detail: 'Not Found' },
    ]);
  });
});
