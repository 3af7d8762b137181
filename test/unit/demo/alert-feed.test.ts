/**
 * The demo's alert feed line. A cooled alert carries the last rising alert's uplift and regions:
 * printed like a rising one it read "COOLED … ×4.3 in IT 50%", as if the product were still
 * rising. It says that the episode ended, when it rose and cooled, and its peak as alerted.
 */
import { describe, expect, it } from 'vitest';
import { formatAlert } from '../../../services/demo/alert-feed.ts';
import { alertFixture } from '../notifier/alert-fixture.ts';

describe('the demo feed line', () => {
  it('prints a rising alert with its uplift, regions, stock and order', () => {
    expect(formatAlert(alertFixture())).toBe(
      'P1 NEW       SH-RED-001 (Maison Rouge Patent leather pumps) ×4.3 in IT 50%, FR 30%, GB 20% — ' +
        'on hand 37, cover 5.7 d, reorder 180 [window ending 2026-03-02T10:00:00.000Z]',
    );
  });

  it('prints a cooled alert as an ended episode: since when it rose, when it cooled, its peak', () => {
    const cooled = alertFixture({
      status: 'cooled',
      priority: 'P3',
      windowStart: '2026-03-02T15:00:00.000Z',
      windowEnd: '2026-03-02T16:00:00.000Z',
      suggestedReorderQty: null,
    });
    const line = formatAlert(cooled);
    expect(line).toBe(
      'P3 COOLED    SH-RED-001 (Maison Rouge Patent leather pumps) episode over: ' +
        'rising from 2026-03-02T09:00:00.000Z, cooled at 2026-03-02T16:00:00.000Z; ' +
        'peak as alerted ×4.3 in IT 50%, FR 30%, GB 20% — on hand 37, cover 5.7 d',
    );
    // The uplift reads as history, not as a product rising now ("COOLED … ×4.3 in IT 50%").
    expect(line).not.toMatch(/\) ×/);
  });

  it('without regions or a readable episode start, still says when it cooled', () => {
    const line = formatAlert(alertFixture({ status: 'cooled', episodeId: 'SH-RED-001', topRegions: [] }));
    expect(line).toContain(
      'episode over: cooled at 2026-03-02T10:00:00.000Z; peak as alerted ×4.3 — on hand 37',
    );
  });
});
