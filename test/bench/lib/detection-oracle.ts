/**
 * The detection benchmark's baseline: how early could ANY detector have raised each planted trend?
 *
 * An oracle that knows what the aggregator has to estimate — each trend SKU's true upload rate at
 * every hour without the trend (its base rate × the daily rhythm of its regions' cities, as the
 * simulator draws it) — runs Page's CUSUM on the SKU's uploads per window advance, tuned to a
 * tripled rate: S ← max(0, S + k·ln 3 − 2μ₀), alarm when S ≥ h. With h = ln(SKUs × advances in
 * the scenario), Lorden's bound keeps it to about one false alarm per scenario over the whole
 * catalogue, the same false-alarm budget the aggregator is held to (precision ≥ 0.9). CUSUM is the
 * fastest detector of a rate change for a given false-alarm rate, so its delay is a floor: no
 * detector that has to learn its baselines does better on the same uploads.
 * Uploads only: interactions follow the posts, so they add little that the upload count lacks.
 */
import { CITIES, HOURLY_RHYTHM, localHour } from '../../../services/simulator/scenario.ts';
import { type DetectionFeed, tripledAt } from '../../integration/aggregator/scenario-feed.ts';

const HOUR = 3_600_000;

export interface OracleDelay {
  sku: string;
  /** Event-time minutes from the moment the rate tripled to the end of the alarming advance. */
  afterTripledMin: number | null;
}

export function oracleDelays(feed: DetectionFeed, advanceMs: number, catalogueSize: number): OracleDelay[] {
  const { truth } = feed.scenario;
  const start = Date.parse(truth.start);
  const end = Date.parse(truth.end);
  const advances = Math.ceil((end - start) / advanceMs);
  const threshold = Math.log(catalogueSize * advances);
  const growth = 3;
  return truth.trends.map((trend) => {
    const uploads = new Map<number, number>();
    const counted = new Set<string>();
    for (const event of feed.events) {
      if (event.topic !== 'mentions') continue;
      const mention = event.value as { sku?: string; uploadEventId: string; eventTime: string };
      if (mention.sku !== trend.sku || counted.has(mention.uploadEventId)) continue;
      counted.add(mention.uploadEventId);
      const pane = Math.floor(Date.parse(mention.eventTime) / advanceMs);
      uploads.set(pane, (uploads.get(pane) ?? 0) + 1);
    }
    const cities = CITIES.filter((c) => trend.regions.includes(c.country));
    const regionWeight = cities.reduce((sum, c) => sum + c.weight, 0);
    const onset = Date.parse(trend.onset);
    let statistic = 0;
    for (let pane = Math.floor(start / advanceMs); pane < Math.floor(start / advanceMs) + advances; pane++) {
      const hourStart = Math.floor((pane * advanceMs) / HOUR) * HOUR;
      const perHour = cities.reduce(
        (sum, c) =>
          sum +
          trend.baselinePerHour *
            (c.weight / regionWeight) *
            HOURLY_RHYTHM[localHour(hourStart, c.utcOffsetHours)]!,
        0,
      );
      const expected = (perHour * advanceMs) / HOUR;
      statistic = Math.max(
        0,
        statistic + (uploads.get(pane) ?? 0) * Math.log(growth) - expected * (growth - 1),
      );
      const paneEnd = (pane + 1) * advanceMs;
      if (paneEnd > onset && statistic >= threshold) {
        return { sku: trend.sku, afterTripledMin: (paneEnd - tripledAt(trend)) / 60_000 };
      }
    }
    return { sku: trend.sku, afterTripledMin: null };
  });
}
