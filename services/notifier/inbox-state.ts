/**
 * The inbox's view of the world, folded from the reorder-alerts and alert-actions topics: one card
 * per alert episode (new → escalated → cooled), with what buyers did about it. Pure and
 * order-tolerant: a replayed or re-delivered record changes nothing, and an action that arrives
 * before its alert is kept until the alert shows up.
 */
import type { AlertAction, ReorderAlert } from '../../shared/contracts/events.ts';

export type CardState = 'open' | 'acknowledged' | 'snoozed' | 'ordered' | 'cooled';

export interface Card {
  alert: ReorderAlert;
  state: CardState;
  /** Every action on this episode, oldest first. */
  actions: AlertAction[];
  /** The action that put the card in its state, if any. */
  decisive?: AlertAction;
  /** The latest order on the episode, also when a later escalation re-opened the card. */
  lastOrder?: AlertAction;
  /** Every alert of the episode, oldest first (the card's alert last): what changed, and since when. */
  history: ReorderAlert[];
}

const STATUS_RANK = { new: 0, escalated: 1, cooled: 2 } as const;
const PRIORITY_RANK = { P1: 0, P2: 1, P3: 2 } as const;

/** Later raise wins; at the same instant, the further-along status wins. */
function isNewer(candidate: ReorderAlert, current: ReorderAlert): boolean {
  const a = Date.parse(candidate.raisedAt);
  const b = Date.parse(current.raisedAt);
  if (a !== b) return a > b;
  return STATUS_RANK[candidate.status] > STATUS_RANK[current.status];
}

/**
 * Whether `alert` asks for more than `order` covered: an escalation after the alert the order was
 * placed on, suggesting more than was ordered (or an order without a quantity).
 */
function outgrows(alert: ReorderAlert, order: AlertAction): boolean {
  if (alert.status !== 'escalated' || alert.alertId === order.alertId) return false;
  if (order.quantity === undefined || alert.suggestedReorderQty === null) return true;
  return alert.suggestedReorderQty > order.quantity;
}

export class InboxState {
  private readonly latestByEpisode = new Map<string, ReorderAlert>();
  private readonly episodeOfAlert = new Map<string, string>();
  private readonly alertsOfEpisode = new Map<string, Map<string, ReorderAlert>>();
  private readonly actionsByAlert = new Map<string, AlertAction[]>();
  private readonly seenActions = new Set<string>();

  constructor(private readonly maxEpisodes = 10_000) {}

  applyAlert(alert: ReorderAlert): void {
    this.episodeOfAlert.set(alert.alertId, alert.episodeId);
    const alerts = this.alertsOfEpisode.get(alert.episodeId) ?? new Map<string, ReorderAlert>();
    alerts.set(alert.alertId, alert);
    this.alertsOfEpisode.set(alert.episodeId, alerts);
    const current = this.latestByEpisode.get(alert.episodeId);
    if (!current || isNewer(alert, current)) {
      // Re-insert so the map's order is "least recently raised first" for eviction.
      this.latestByEpisode.delete(alert.episodeId);
      this.latestByEpisode.set(alert.episodeId, alert);
    }
    this.evict();
  }

  /** Returns false when the action was already applied (same actionId). */
  applyAction(action: AlertAction): boolean {
    if (this.seenActions.has(action.actionId)) return false;
    this.seenActions.add(action.actionId);
    const list = this.actionsByAlert.get(action.alertId) ?? [];
    list.push(action);
    list.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    this.actionsByAlert.set(action.alertId, list);
    return true;
  }

  alert(alertId: string): ReorderAlert | undefined {
    const episode = this.episodeOfAlert.get(alertId);
    return episode === undefined ? undefined : this.latestByEpisode.get(episode);
  }

  /** Every alert of the episode seen so far, oldest first (empty for an unknown episode). */
  episode(episodeId: string): ReorderAlert[] {
    return [...(this.alertsOfEpisode.get(episodeId)?.values() ?? [])].sort((a, b) =>
      a === b ? 0 : isNewer(a, b) ? 1 : -1,
    );
  }

  /**
   * The cards `include` keeps, most urgent first. With `viewer` (a buyer id), acknowledgements and
   * snoozes are that buyer's own; orders count whoever placed them (the company has ordered).
   * Without, anyone's action counts (the "All buyers" view).
   */
  cards(now: Date, include: (alert: ReorderAlert) => boolean = () => true, viewer?: string): Card[] {
    const cards: Card[] = [];
    for (const alert of this.latestByEpisode.values()) {
      if (include(alert)) cards.push(this.card(alert, now, viewer));
    }
    return cards.sort(
      (a, b) =>
        PRIORITY_RANK[a.alert.priority] - PRIORITY_RANK[b.alert.priority] ||
        Date.parse(b.alert.raisedAt) - Date.parse(a.alert.raisedAt),
    );
  }

  get size(): number {
    return this.latestByEpisode.size;
  }

  private card(alert: ReorderAlert, now: Date, viewer?: string): Card {
    const history = this.episode(alert.episodeId);
    const actions = [...(this.alertsOfEpisode.get(alert.episodeId)?.keys() ?? [])]
      .flatMap((alertId) => this.actionsByAlert.get(alertId) ?? [])
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    const base = { alert, actions, history };
    const lastOrder = actions.findLast((a) => a.action === 'ordered');
    const ordered = lastOrder ? { lastOrder } : {};
    // An order covers the alert it was placed on: an escalation that asks for more re-opens the card.
    if (lastOrder && !outgrows(alert, lastOrder))
      return { ...base, ...ordered, state: 'ordered', decisive: lastOrder };
    if (alert.status === 'cooled') return { ...base, ...ordered, state: 'cooled' };
    // Acknowledging or snoozing covers the alert as it was then: an escalation re-opens the card.
    const onLatest = actions.findLast(
      (a) =>
        a.alertId === alert.alertId && a.action !== 'ordered' && (viewer === undefined || a.buyer === viewer),
    );
    if (
      onLatest?.action === 'snooze' &&
      onLatest.snoozeUntil &&
      Date.parse(onLatest.snoozeUntil) > now.getTime()
    )
      return { ...base, ...ordered, state: 'snoozed', decisive: onLatest };
    if (onLatest?.action === 'acknowledge')
      return { ...base, ...ordered, state: 'acknowledged', decisive: onLatest };
    return { ...base, ...ordered, state: 'open' };
  }

  private evict(): void {
    while (this.latestByEpisode.size > this.maxEpisodes) {
      const [episode] = this.latestByEpisode.keys();
      this.latestByEpisode.delete(episode!);
      for (const alertId of this.alertsOfEpisode.get(episode!)?.keys() ?? []) {
        this.episodeOfAlert.delete(alertId);
        this.actionsByAlert.delete(alertId);
      }
      this.alertsOfEpisode.delete(episode!);
    }
  }
}
