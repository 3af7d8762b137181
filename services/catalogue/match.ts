/**
 * `trend-radar match`: index a feed in memory and judge photos against it, one JSON line per photo.
 * The same descriptor, index and decision as the embedding worker, without Kafka: for evaluation
 * and for merchandisers checking a photo by hand.
 */
import { readFile } from 'node:fs/promises';
import type { ImageFetcher } from '../../shared/net/image-fetcher.ts';
import { CatalogueIndex } from '../../shared/vision/catalogue-index.ts';
import type { ImageDescriber } from '../../shared/vision/describer.ts';
import { decide, type MatchPolicy } from '../../shared/vision/matcher.ts';
import { embedCatalogue, type ImageProblem } from './embed-catalogue.ts';
import { type FeedProblem, readFeed } from './feed.ts';

export interface MatchLine {
  image: string;
  decision: 'matched' | 'no-match' | 'error';
  matches: Array<{ sku: string; score: number }>;
  error?: string;
}

export interface CatalogueForMatching {
  index: CatalogueIndex;
  feedProblems: FeedProblem[];
  imageProblems: ImageProblem[];
}

export async function indexFeed(
  feedPath: string,
  describer: ImageDescriber,
  fetcher?: ImageFetcher,
): Promise<CatalogueForMatching> {
  const feed = await readFeed(feedPath);
  const embedded = await embedCatalogue(feed.products, { describer, ...(fetcher ? { fetcher } : {}) });
  const index = CatalogueIndex.build(
    embedded.products.map((p) => ({
      sku: p.item.sku,
      style: p.item.style,
      views: p.views.map((v) => ({ view: v.view, vector: v.vector })),
    })),
  );
  return { index, feedProblems: feed.problems, imageProblems: embedded.problems };
}

export async function matchImages(
  images: readonly string[],
  catalogue: CatalogueIndex,
  options: { describer: ImageDescriber; fetcher?: ImageFetcher; top: number; policy: MatchPolicy },
): Promise<MatchLine[]> {
  const lines: MatchLine[] = [];
  for (const image of images) {
    try {
      const bytes = /^https:\/\//i.test(image)
        ? await requireFetcher(options.fetcher)
            .fetch(image)
            .then((r) => r.bytes)
        : await readFile(image);
      const [result] = await options.describer.describe([bytes]);
      if (!result!.ok) throw result!.error;
      // At least two candidates, so the margin to the runner-up can be judged.
      const candidates = catalogue.search(result!.vector, Math.max(options.top, 2));
      const decision = decide(candidates, options.policy);
      lines.push({
        image,
        decision: decision.decision,
        matches: candidates.slice(0, options.top).map((c) => ({ sku: c.sku, score: round(c.score) })),
      });
    } catch (error) {
      lines.push({ image, decision: 'error', matches: [], error: (error as Error).message });
    }
  }
  return lines;
}

function requireFetcher(fetcher: ImageFetcher | undefined): ImageFetcher {
  if (!fetcher) throw new Error('https images need a fetcher');
  return fetcher;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
