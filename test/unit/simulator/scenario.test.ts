import { describe, expect, it } from 'vitest';
import {
  createRng,
  generateScenario,
  localHour,
  poisson,
  type Scenario,
  type ScenarioProduct,
  seasonalMultiplier,
  seasonOf,
} from '../../../services/simulator/scenario.ts';
import { Interaction, InventoryLevel, Upload } from '../../../shared/contracts/events.ts';

const HOUR = 3_600_000;

function catalogue(): ScenarioProduct[] {
  const products: ScenarioProduct[] = [
    { sku: 'WT-RED', name: 'Wild Thing Pump', category: 'shoes', colour: 'red', views: ['main', 'back'] },
    { sku: 'WT-BLACK', name: 'Wild Thing Pump', category: 'shoes', colour: 'black', views: ['main', 'back'] },
  ];
  const kinds = ['Bikini', 'Wool Coat', 'Tote Bag', 'Midi Dress', 'Loafer'];
  for (let i = 0; i < 120; i++) {
    const kind = kinds[i % kinds.length]!;
    products.push({ sku: `P${i}`, name: `${kind} ${i}`, category: kind.toLowerCase(), views: ['main'] });
  }
  return products;
}

const scenario: Scenario = generateScenario({
  seed: 42,
  catalogue: catalogue(),
  start: '2025-06-02T00:00:00Z',
});
const skuOfPost = new Map(scenario.truth.photos.map((p) => [p.postId, p.sku]));
const uploads = scenario.events.flatMap((e) => (e.kind === 'upload' ? [e.upload] : []));
const interactions = scenario.events.flatMap((e) => (e.kind === 'interaction' ? [e.interaction] : []));

describe('generateScenario', () => {
  it('is deterministic in its options and changes with the seed', () => {
    const again = generateScenario({ seed: 42, catalogue: catalogue(), start: '2025-06-02T00:00:00Z' });
    expect(JSON.stringify(again)).toBe(JSON.stringify(scenario));
    const other = generateScenario({ seed: 43, catalogue: catalogue(), start: '2025-06-02T00:00:00Z' });
    expect(JSON.stringify(other.events.slice(0, 50))).not.toBe(JSON.stringify(scenario.events.slice(0, 50)));
  });

  it('emits contract-valid events in event-time order inside the scenario', () => {
    const start = Date.parse(scenario.truth.start);
    const end = Date.parse(scenario.truth.end);
    for (let i = 1; i < scenario.events.length; i++) {
      expect(scenario.events[i]!.at).toBeGreaterThanOrEqual(scenario.events[i - 1]!.at);
    }
    for (const upload of uploads) expect(Upload.safeParse(upload).success).toBe(true);
    for (const interaction of interactions) expect(Interaction.safeParse(interaction).success).toBe(true);
    for (const event of scenario.events) {
      expect(event.at).toBeGreaterThanOrEqual(start);
      expect(event.at).toBeLessThan(end);
    }
    expect(uploads.length).toBe(scenario.stats.uploads);
    expect(interactions.length).toBe(scenario.stats.interactions);
    expect(
      new Set(scenario.events.map((e) => (e.kind === 'upload' ? e.upload : e.interaction).eventId)).size,
    ).toBe(scenario.events.length);
  });

  it('records the SKU of every uploaded image and only interactions on existing, earlier posts', () => {
    const imageCount = uploads.reduce((sum, u) => sum + u.images.length, 0);
    expect(scenario.truth.photos).toHaveLength(imageCount);
    const postTime = new Map(uploads.map((u) => [u.postId, Date.parse(u.clientTimestamp)]));
    for (const interaction of interactions) {
      expect(postTime.get(interaction.postId)).toBeLessThan(Date.parse(interaction.timestamp));
    }
  });

  it('plants the red shoe trend: several-fold more uploads within hours, in its regions, from many members', () => {
    const [trend] = scenario.truth.trends;
    expect(trend!.sku).toBe('WT-RED');
    const onset = Date.parse(trend!.onset);
    const red = uploads.filter((u) => skuOfPost.get(u.postId) === 'WT-RED');
    expect(red.every((u) => trend!.regions.includes(u.location.country))).toBe(true);
    const before = red.filter((u) => Date.parse(u.clientTimestamp) < onset);
    const hoursBefore = (onset - Date.parse(scenario.truth.start)) / HOUR;
    const peakStart = Date.parse(trend!.peakBy);
    const afterPeak = red.filter((u) => Date.parse(u.clientTimestamp) >= peakStart);
    const hoursAfter = (Date.parse(scenario.truth.end) - peakStart) / HOUR;
    const uplift = afterPeak.length / hoursAfter / (before.length / hoursBefore);
    expect(uplift).toBeGreaterThan(4);
    expect(new Set(afterPeak.map((u) => u.memberId)).size).toBeGreaterThan(afterPeak.length * 0.5);
  });

  it('plants the decoys: one repeat poster, a steady best-seller, a bot burst of likes on one post', () => {
    expect(scenario.truth.decoys.map((d) => d.kind)).toEqual([
      'repeat-poster',
      'best-seller',
      'bot-burst',
      'repost-ring',
    ]);
    const byKind = new Map(scenario.truth.decoys.map((d) => [d.kind, d]));
    const repeat = byKind.get('repeat-poster')!;
    const repeated = uploads.filter(
      (u) => u.memberId === repeat.memberId && skuOfPost.get(u.postId) === repeat.sku,
    );
    expect(repeated).toHaveLength(40);

    const best = byKind.get('best-seller')!;
    const perDay = new Array(7).fill(0);
    for (const u of uploads) {
      if (skuOfPost.get(u.postId) === best.sku)
        perDay[
          Math.floor((Date.parse(u.clientTimestamp) - Date.parse(scenario.truth.start)) / (24 * HOUR))
        ]++;
    }
    expect(Math.min(...perDay)).toBeGreaterThan(0);
    expect(Math.max(...perDay) / Math.min(...perDay)).toBeLessThan(2);

    const bot = byKind.get('bot-burst')!;
    const burst = interactions.filter((i) => i.memberId.startsWith('bot-'));
    expect(burst).toHaveLength(600);
    expect(new Set(burst.map((i) => i.postId))).toEqual(new Set([bot.postId]));
    const from = Date.parse(bot.from);
    expect(burst.every((i) => Date.parse(i.timestamp) - from < 20 * 60_000)).toBe(true);

    const claimed = [scenario.truth.trends[0]!.sku, ...scenario.truth.decoys.map((d) => d.sku)];
    expect(new Set(claimed).size).toBe(claimed.length);
  });

  it('plants a repost ring: fresh accounts re-upload one ordinary photo within minutes and like each other', () => {
    const ring = scenario.truth.decoys.find((d) => d.kind === 'repost-ring')!;
    expect(ring).toBeDefined();
    const from = Date.parse(ring.from);
    const to = Date.parse(ring.to);
    expect(to - from).toBe(30 * 60_000);
    expect((from - Date.parse(scenario.truth.start)) / (7 * 24 * HOUR)).toBeCloseTo(0.6, 2);

    // The original: an ordinary organic post of the day before, of a SKU no trend or other decoy has.
    const original = uploads.find((u) => u.postId === ring.postId)!;
    expect(original.memberId).toBe(ring.memberId);
    const originalPhoto = scenario.truth.photos.find((p) => p.postId === ring.postId && p.imageIndex === 0)!;
    expect(originalPhoto).toMatchObject({ sku: ring.sku, reason: 'organic' });
    const originalAt = Date.parse(original.clientTimestamp);
    expect(originalAt).toBeLessThan(from);
    expect(originalAt).toBeGreaterThan(from - 24 * HOUR);
    const others = [
      ...scenario.truth.trends.map((t) => t.sku),
      ...scenario.truth.decoys.filter((d) => d !== ring).map((d) => d.sku),
    ];
    expect(others).not.toContain(ring.sku);

    // 40 reposts by 40 distinct fresh accounts in one city, within the ring's 30 minutes, each the
    // very same image: the original's URL, and a photo with its SKU, view and seed (same bytes).
    const reposts = uploads.filter((u) => u.memberId.startsWith('ring-'));
    expect(reposts).toHaveLength(40);
    expect(ring.events).toBe(40);
    const accounts = new Set(reposts.map((u) => u.memberId));
    expect(accounts).toEqual(new Set(Array.from({ length: 40 }, (_, k) => `ring-42-${k}`)));
    expect(new Set(reposts.map((u) => `${u.location.city}|${u.location.country}`)).size).toBe(1);
    const ringMembers = scenario.members.filter((m) => accounts.has(m.memberId));
    expect(ringMembers).toHaveLength(40);
    expect(ringMembers.every((m) => m.city === reposts[0]!.location.city)).toBe(true);
    for (const repost of reposts) {
      const at = Date.parse(repost.clientTimestamp);
      expect(at).toBeGreaterThanOrEqual(from);
      expect(at).toBeLessThan(to);
      expect(repost.images).toEqual([original.images[0]]);
      const photos = scenario.truth.photos.filter((p) => p.postId === repost.postId);
      expect(photos).toHaveLength(1);
      expect(photos[0]).toMatchObject({
        imageIndex: 0,
        sku: originalPhoto.sku,
        view: originalPhoto.view,
        photoSeed: originalPhoto.photoSeed,
        reason: 'repost-ring',
      });
    }
    // Fresh: the ring's accounts do nothing else, and nobody else touches the reposts.
    const repostIds = new Set(reposts.map((u) => u.postId));
    const ringInteractions = interactions.filter((i) => accounts.has(i.memberId));
    expect(interactions.filter((i) => repostIds.has(i.postId))).toEqual(ringInteractions);

    // Each account likes 5 distinct other reposts (never its own), after they are up.
    expect(ringInteractions).toHaveLength(200);
    const authorOf = new Map(reposts.map((u) => [u.postId, u]));
    const liked = new Map<string, Set<string>>();
    for (const like of ringInteractions) {
      expect(like.type).toBe('like');
      const target = authorOf.get(like.postId)!;
      expect(target).toBeDefined();
      expect(target.memberId).not.toBe(like.memberId);
      expect(Date.parse(like.timestamp)).toBeGreaterThan(Date.parse(target.clientTimestamp));
      expect(Date.parse(like.timestamp) - to).toBeLessThan(15 * 60_000);
      liked.set(like.memberId, (liked.get(like.memberId) ?? new Set()).add(like.postId));
    }
    expect([...liked.values()].map((posts) => posts.size)).toEqual(new Array(40).fill(5));
  });

  it('draws the repost ring from its own random stream: without it, the rest of the scenario is unchanged', () => {
    const without = generateScenario({
      seed: 42,
      catalogue: catalogue(),
      start: '2025-06-02T00:00:00Z',
      decoys: { repostRing: false },
    });
    expect(without.truth.decoys.map((d) => d.kind)).not.toContain('repost-ring');
    expect(without.events.some((e) => e.kind === 'upload' && e.upload.memberId.startsWith('ring-'))).toBe(
      false,
    );
    const ring = new Set(
      scenario.members.filter((m) => m.memberId.startsWith('ring-')).map((m) => m.memberId),
    );
    const repostIds = new Set(uploads.filter((u) => ring.has(u.memberId)).map((u) => u.postId));
    const ringEvent = (e: Scenario['events'][number]) =>
      ring.has(e.kind === 'upload' ? e.upload.memberId : e.interaction.memberId);
    expect(without.events).toEqual(scenario.events.filter((e) => !ringEvent(e)));
    expect(without.members).toEqual(scenario.members.filter((m) => !ring.has(m.memberId)));
    expect(without.inventory).toEqual(scenario.inventory);
    expect(without.truth).toEqual({
      ...scenario.truth,
      photos: scenario.truth.photos.filter((p) => !repostIds.has(p.postId)),
      decoys: scenario.truth.decoys.filter((d) => d.kind !== 'repost-ring'),
    });
  });

  it('takes the repost ring’s options', () => {
    const { events, truth } = generateScenario({
      seed: 6,
      catalogue: catalogue(),
      start: '2025-06-02T00:00:00Z',
      days: 2,
      members: 300,
      decoys: { repostRing: { count: 12, minutes: 10, atHours: 30, likesEach: 3 } },
    });
    const ring = truth.decoys.find((d) => d.kind === 'repost-ring')!;
    expect(ring.from).toBe('2025-06-03T06:00:00.000Z');
    expect(ring.to).toBe('2025-06-03T06:10:00.000Z');
    expect(ring.events).toBe(12);
    const reposts = events.filter((e) => e.kind === 'upload' && e.upload.memberId.startsWith('ring-6-'));
    const likes = events.filter(
      (e) => e.kind === 'interaction' && e.interaction.memberId.startsWith('ring-6-'),
    );
    expect(reposts).toHaveLength(12);
    expect(likes).toHaveLength(36);
    expect(() =>
      generateScenario({ seed: 6, catalogue: catalogue(), days: 2, decoys: { repostRing: { count: 0 } } }),
    ).toThrow(/repostRing.count/);
    expect(() =>
      generateScenario({ seed: 6, catalogue: catalogue(), days: 2, decoys: { repostRing: { atHours: 48 } } }),
    ).toThrow(/repost-ring/);
  });

  it('follows the members’ local daily rhythm', () => {
    let night = 0;
    let evening = 0;
    const memberOffsets = new Map(scenario.members.map((m) => [m.memberId, m.utcOffsetHours]));
    for (const u of uploads) {
      const hour = localHour(Date.parse(u.clientTimestamp), memberOffsets.get(u.memberId)!);
      if (hour >= 2 && hour < 5) night++;
      if (hour >= 19 && hour < 22) evening++;
    }
    expect(evening).toBeGreaterThan(night * 8);
  });

  it('gives every SKU a valid inventory level, the trend SKU short cover', () => {
    expect(scenario.inventory).toHaveLength(catalogue().length);
    for (const level of scenario.inventory) expect(InventoryLevel.safeParse(level).success).toBe(true);
    const red = scenario.inventory.find((l) => l.sku === 'WT-RED')!;
    expect(red.onHand / red.dailySales).toBeLessThan(17);
  });

  it('starts the planted trend at 08:00 UTC whatever the hour the scenario starts at', () => {
    // The demo starts its week at the hour it runs: the trend must not drift into the night.
    for (const [start, days] of [
      ['2025-06-02T13:00:00Z', 7],
      ['2025-06-02T23:00:00Z', 7],
      ['2025-06-02T05:00:00Z', 4],
      ['2025-06-02T20:00:00Z', 2],
    ] as const) {
      const { truth } = generateScenario({ seed: 5, catalogue: catalogue(), start, days, members: 200 });
      const onset = Date.parse(truth.trends[0]!.onset);
      expect(new Date(onset).toISOString().slice(11), start).toBe('08:00:00.000Z');
      expect(onset).toBeGreaterThan(Date.parse(truth.start));
      expect(onset).toBeLessThan(Date.parse(truth.end));
      expect((onset - Date.parse(truth.start)) / (days * 24 * HOUR)).toBeCloseTo(0.6, 0);
    }
  });

  it('keeps every event inside a short scenario, decoys included', () => {
    const short = generateScenario({
      seed: 3,
      catalogue: catalogue(),
      start: '2025-06-02T00:00:00Z',
      days: 0.25,
    });
    const end = Date.parse(short.truth.end);
    expect(short.events.every((e) => e.at < end)).toBe(true);
    expect(short.truth.photos.every((p) => Date.parse(p.at) < end)).toBe(true);
    const repeat = short.truth.decoys.find((d) => d.kind === 'repeat-poster')!;
    expect(Date.parse(repeat.to)).toBeLessThanOrEqual(end);
    expect(
      short.events.filter((e) => e.kind === 'upload' && e.upload.memberId === repeat.memberId).length,
    ).toBeGreaterThanOrEqual(40);
  });

  it('rejects nonsense sizes with the option named', () => {
    expect(() => generateScenario({ seed: 1, catalogue: catalogue(), days: 0 })).toThrow(/days/);
    expect(() => generateScenario({ seed: 1, catalogue: catalogue(), members: Number.NaN })).toThrow(
      /members/,
    );
    expect(() => generateScenario({ seed: 1, catalogue: catalogue(), uploadsPerDay: -1 })).toThrow(
      /uploadsPerDay/,
    );
    expect(() => generateScenario({ seed: 1, catalogue: catalogue().slice(0, 3) })).toThrow(/at least 4/);
  });

  it('rejects a trend on an unknown SKU and a trend and decoy on the same SKU', () => {
    expect(() => generateScenario({ seed: 1, catalogue: catalogue(), trends: [{ sku: 'NOPE' }] })).toThrow(
      /not in the catalogue/,
    );
    expect(() =>
      generateScenario({ seed: 1, catalogue: catalogue(), trends: [{ sku: 'WT-RED' }, { sku: 'WT-RED' }] }),
    ).toThrow(/more than one/);
  });
});

describe('scenario building blocks', () => {
  it('classifies seasons and scales them by hemisphere', () => {
    expect(seasonOf({ sku: 'a', name: 'Triangle Bikini' })).toBe('summer');
    expect(seasonOf({ sku: 'b', name: 'Camel Wool Coat' })).toBe('winter');
    expect(seasonOf({ sku: 'c', name: 'Leather Tote' })).toBe('all');
    expect(seasonalMultiplier('summer', false, 6)).toBeGreaterThan(seasonalMultiplier('summer', true, 6));
    expect(seasonalMultiplier('winter', true, 6)).toBeGreaterThan(seasonalMultiplier('winter', false, 6));
    expect(seasonalMultiplier('all', true, 6)).toBe(1);
  });

  it('samples Poisson counts with the right mean', () => {
    const rng = createRng(9);
    for (const lambda of [0.3, 4, 80]) {
      let sum = 0;
      for (let i = 0; i < 20_000; i++) sum += poisson(rng, lambda);
      expect(sum / 20_000).toBeCloseTo(lambda, lambda < 1 ? 1 : 0);
    }
  });
});
