import { describe, expect, it } from 'vitest';
import { InboxState } from '../../../services/notifier/inbox-state.ts';
import type { AlertAction } from '../../../shared/contracts/events.ts';
import { alertFixture } from './alert-fixture.ts';

const now = new Date('2026-03-02T12:00:00Z');
let seq = 0;
const action = (
  alertId: string,
  kind: AlertAction['action'],
  at: string,
  extra: Partial<AlertAction> = {},
): AlertAction => ({
  actionId: `a-${++seq}`,
  alertId,
  sku: 'SH-RED-001',
  action: kind,
  buyer: 'anna',
  at,
  ...extra,
});

describe('inbox state', () => {
  const raised = alertFixture();
  const escalated = alertFixture({
    status: 'escalated',
    priority: 'P1',
    raisedAt: '2026-03-02T11:00:05.000Z',
  });

  it('shows one card per episode with its latest alert, whatever the arrival order', () => {
    const state = new InboxState();
    state.applyAlert(escalated);
    state.applyAlert(raised);
    state.applyAlert(raised); // re-delivered
    const cards = state.cards(now);
    expect(cards).toHaveLength(1);
    expect(cards[0]!.alert.alertId).toBe(escalated.alertId);
    expect(state.alert(raised.alertId)?.alertId).toBe(escalated.alertId);
  });

  it('acknowledges, and re-opens when the alert escalates after the acknowledgement', () => {
    const state = new InboxState();
    state.applyAlert(raised);
    state.applyAction(action(raised.alertId, 'acknowledge', '2026-03-02T10:30:00Z'));
    expect(state.cards(now)[0]!.state).toBe('acknowledged');
    state.applyAlert(escalated);
    expect(state.cards(now)[0]!.state).toBe('open');
    expect(state.cards(now)[0]!.actions).toHaveLength(1);
  });

  it('snoozes until the given time, then shows the card again', () => {
    const state = new InboxState();
    state.applyAlert(raised);
    state.applyAction(
      action(raised.alertId, 'snooze', '2026-03-02T10:30:00Z', { snoozeUntil: '2026-03-02T14:00:00Z' }),
    );
    expect(state.cards(now)[0]!.state).toBe('snoozed');
    expect(state.cards(new Date('2026-03-02T15:00:00Z'))[0]!.state).toBe('open');
  });

  it('keeps an order while later alerts ask no more than it covered, and ignores a repeated action', () => {
    const state = new InboxState();
    const ordered = action(raised.alertId, 'ordered', '2026-03-02T10:40:00Z', { quantity: 200 });
    expect(state.applyAction(ordered)).toBe(true); // before its alert: kept until the alert arrives
    expect(state.applyAction(ordered)).toBe(false);
    state.applyAlert(raised);
    state.applyAlert(escalated); // suggests 180: the order of 200 covers it
    const [card] = state.cards(now);
    expect(card!.state).toBe('ordered');
    expect(card!.decisive?.quantity).toBe(200);
    expect(card!.actions).toHaveLength(1);
    state.applyAlert(alertFixture({ status: 'cooled', priority: 'P3', raisedAt: '2026-03-02T11:30:00Z' }));
    expect(state.cards(now)[0]!.state).toBe('ordered');
  });

  it('re-opens an ordered card when an escalation asks for more than was ordered, keeping the order on it', () => {
    // The audit: "ordered 1662", then a P1 escalation suggesting 4016 stayed under Ordered.
    const state = new InboxState();
    state.applyAlert(alertFixture({ priority: 'P2', suggestedReorderQty: 1662 }));
    state.applyAction(action(raised.alertId, 'ordered', '2026-03-02T10:10:00Z', { quantity: 1662 }));
    expect(state.cards(now)[0]!.state).toBe('ordered');
    state.applyAlert({ ...escalated, suggestedReorderQty: 4016 });
    const [card] = state.cards(now);
    expect(card!.state).toBe('open');
    expect(card!.lastOrder?.quantity).toBe(1662);
    expect(card!.history.map((a) => a.status)).toEqual(['new', 'escalated']);
    // Ordering again on the escalation closes it.
    state.applyAction(action(escalated.alertId, 'ordered', '2026-03-02T11:10:00Z', { quantity: 2354 }));
    expect(state.cards(now)[0]!.state).toBe('ordered');
  });

  it("keeps one buyer's snooze and acknowledgement to that buyer", () => {
    const state = new InboxState();
    state.applyAlert(raised);
    state.applyAction(
      action(raised.alertId, 'snooze', '2026-03-02T10:30:00Z', {
        buyer: 'ben',
        snoozeUntil: '2026-03-03T10:30:00Z',
      }),
    );
    state.applyAction(action(raised.alertId, 'acknowledge', '2026-03-02T10:31:00Z', { buyer: 'chloe' }));
    expect(state.cards(now, () => true, 'anna')[0]!.state).toBe('open');
    expect(state.cards(now, () => true, 'ben')[0]!.state).toBe('snoozed');
    expect(state.cards(now, () => true, 'chloe')[0]!.state).toBe('acknowledged');
  });

  it('closes cooled episodes and lists the most urgent first', () => {
    const state = new InboxState();
    state.applyAlert(alertFixture({ sku: 'A', priority: 'P3' }));
    state.applyAlert(alertFixture({ sku: 'B', priority: 'P1' }));
    state.applyAlert(alertFixture({ sku: 'C', status: 'cooled', priority: 'P2' }));
    expect(state.cards(now).map((c) => [c.alert.sku, c.state])).toEqual([
      ['B', 'open'],
      ['C', 'cooled'],
      ['A', 'open'],
    ]);
  });

  it('forgets the oldest episodes beyond its bound', () => {
    const state = new InboxState(2);
    for (const sku of ['A', 'B', 'C']) state.applyAlert(alertFixture({ sku }));
    expect(
      state
        .cards(now)
        .map((c) => c.alert.sku)
        .sort(),
    ).toEqual(['B', 'C']);
  });
});
