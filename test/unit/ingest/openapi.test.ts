import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../services/ingest/openapi.ts';

describe('OpenAPI document', () => {
  const doc = openApiDocument() as {
    paths: Record<string, unknown>;
    components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
  };

  it('describes both endpoints with request schemas derived from the contracts, minus server fields', () => {
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/uploads', '/v1/interactions', '/readyz']),
    );
    const interaction = doc.components.schemas.InteractionRequest!;
    expect(interaction.required).toEqual(
      expect.arrayContaining(['eventId', 'type', 'postId', 'memberId', 'timestamp']),
    );
    expect(Object.keys(interaction.properties!)).not.toContain('receivedAt');
    expect(Object.keys(interaction.properties!)).not.toContain('source');
    expect(interaction.properties!.type).toMatchObject({
      enum: ['like', 'save', 'wishlist', 'share', 'comment'],
    });
    const upload = doc.components.schemas.UploadRequest!;
    expect(upload.required).not.toContain('caption');
    expect(Object.keys(upload.properties!)).toEqual(
      expect.arrayContaining(['images', 'location', 'clientTimestamp']),
    );
  });

  it('matches the committed docs/api/openapi.json (run `trend-radar ingest openapi` after changing a schema)', async () => {
    const committed = JSON.parse(await readFile('docs/api/openapi.json', 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
