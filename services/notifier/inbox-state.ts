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

export class InboxState {
  private readonly latestByEpisode = new Map<string, ReorderAlert>();
  private readonly episodeOfAlert = new Map<string, string>();
  private readonly alertsOfEpisode = new Map<string, Set<string>>();
  private readonly actionsByAlert = new Map<string, AlertAction[]>();
  private readonly seenActions = new Set<string>();

  constructor(private readonly maxEpisodes = 10_000) {}

  applyAlert(alert: ReorderAlert): void {
    this.episodeOfAlert.set(alert.alertId, alert.episodeId);
    const ids = this.alertsOfEpisode.get(alert.episodeId) ?? new Set<string>();
    ids.add(alert.alertId);
    this.alertsOfEpisode.set(alert.episodeId, ids);
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

  cards(now: Date, include: (alert: ReorderAlert) => boolean = () => true): Card[] {
    const cards: Card[] = [];
    for (const alert of this.latestByEpisode.values()) {
      if (include(alert)) cards.push(this.card(alert, now));
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

  private card(alert: ReorderAlert, now: Date): Card {
    const actions = [...(this.alertsOfEpisode.get(alert.episodeId) ?? [])]
      .flatMap((alertId) => this.actionsByAlert.get(alertId) ?? [])
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    const ordered = actions.findLast((a) => a.action === 'ordered');
    if (ordered) return { alert, state: 'ordered', actions, decisive: ordered };
    if (alert.status === 'cooled') return { alert, state: 'cooled', actions };
    // Acknowledging or snoozing covers the alert as it was then: an escalation re-opens the card.
    const onLatest = actions.findLast((a) => a.alertId === alert.alertId);
    if (
      onLatest?.action === 'snooze' &&
      onLatest.snoozeUntil &&
      Date.parse(onLatest.snoozeUntil) > now.getTime()
    )
      return { alert, state: 'snoozed', actions, decisive: onLatest };
    if (onLatest?.action === 'acknowledge')
      return { alert, state: 'acknowledged', actions, decisive: onLatest };
    return { alert, state: 'open', actions };
  }

  private evict(): void {
    while (this.latestByEpisode.size > this.maxEpisodes) {
      const [episode] = this.latestByEpisode.keys();
      this.latestByEpisode.delete(episode!);
      for (const alertId of this.alertsOfEpisode.get(episode!) ?? []) {
        this.episodeOfAlert.delete(alertId);
        this.actionsByAlert.delete(alertId);
      }
      this.alertsOfEpisode.delete(episode!);
    }
  }
}
