/**
 * Caption and hashtag search is blind to accents, as merchandisers type: "sandalias" finds
 * "Sandálias" whether the client sent the á composed or as a + combining accent, "#cafe" finds
 * "#Café"; Latin letters that have no accent to take off are spelled plain ("soren" finds
 * "Søren", "#strasse" finds "#Straße"); marks that belong to another script's letters are kept.
 * (Product names and brands: find-product.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { Upload } from '../../../shared/contracts/events.ts';
import { createElasticsearch } from '../../../shared/elasticsearch/client.ts';
import { foldAccents, postAction } from '../../../shared/elasticsearch/documents.ts';
import { MerchandiserQueries } from '../../../shared/elasticsearch/queries.ts';
import { withIndexedForQueries } from '../../support/elasticsearch.ts';
import { integrationEnv, uniqueNamespace } from '../../support/env.ts';

const { elasticsearchUrl } = integrationEnv();
const prefix = uniqueNamespace('accents');
const es = createElasticsearch(elasticsearchUrl);
const queries = new MerchandiserQueries(es, prefix);
const now = new Date('2025-06-20T12:00:00Z');

function upload(postId: string, caption: string, hashtags: string[]): Upload {
  return {
    eventId: `e-${postId}`,
    postId,
    memberId: `m-${postId}`,
    images: [{ url: `https://img.example/${postId}.jpg` }],
    caption,
    hashtags,
    location: { city: 'Lisbon', country: 'PT' },
    clientTimestamp: '2025-06-19T10:00:00.000Z',
    receivedAt: '2025-06-19T10:00:01.000Z',
    source: 'test',
  } as Upload;
}

const posts = [
  upload('composed', 'Sandálias novas para o verão', ['verão']),
  upload('decomposed', 'Sanda\u0301lias de couro', []),
  upload('cafe', 'Café crème on the terrace', ['Café']),
  upload('hindi', 'नई साड़ी', ['साड़ी']),
  upload('nordic', 'Søren boots for the Ørestad rain', ['Straße', 'Łódź']),
];

withIndexedForQueries(es, prefix, now, () => posts.map((p) => postAction(prefix, p)));

const found = async (text: string) => (await queries.searchPosts(text, { now })).map((p) => p.postId).sort();

describe('accent-blind post search', () => {
  it('finds a word typed without its accents, in composed and decomposed captions alike', async () => {
    expect(await found('sandalias')).toEqual(['composed', 'decomposed']);
    expect(await found('sandálias')).toEqual(['composed', 'decomposed']);
    expect(await found('verao')).toEqual(['composed']);
  });

  it('finds a hashtag typed without its accent', async () => {
    expect(await found('#cafe')).toEqual(['cafe']);
    expect(await found('#verao')).toEqual(['composed']);
  });

  it('spells plain the Latin letters that have no accent to take off (ø, æ, ß, ł…)', async () => {
    expect(foldAccents('Søren Ørestad Straße Łódź Æsir Œuvre Þór Đorđe')).toBe(
      'Soren Orestad Strasse Lodz AEsir OEuvre THor Dorde',
    );
    expect(await found('soren')).toEqual(['nordic']);
    expect(await found('orestad')).toEqual(['nordic']);
    expect(await found('søren')).toEqual(['nordic']);
    expect(await found('#strasse')).toEqual(['nordic']);
    expect(await found('#lodz')).toEqual(['nordic']);
  });

  it("keeps other scripts' marks, which are part of their letters", async () => {
    expect(foldAccents('साड़ी')).toBe('साड़ी');
    expect(foldAccents('Sanda\u0301lias')).toBe('Sandalias');
    expect(await found('साड़ी')).toEqual(['hindi']);
  });
});
