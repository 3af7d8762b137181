/**
 * One member's weight on one product, pure (no I/O, no clock).
 *
 * The interactions on one post are capped per window, but a member who likes, saves or comments
 * on eighty different photos of a product in an hour is still one person: without a cap of their
 * own, their interactions are credited to eighty authors and look like eighty people's interest
 * (one account raised an alert in 12 runs of 12 in an audit). So a member's interactions with one
 * SKU count for at most `cap` (weighted) in any hopping window: the budget is kept per pane, and an
 * interaction counts for what is left of it in every window that holds its pane. Uploads are not
 * budgeted here: a member's uploads already count once per window.
 */

/** The changelog form: `[member, [[pane, weight], …]]`. */
export type SerializedMemberBudget = Array<[string, Array<[number, number]>]>;

/** A SKU's interaction weight spent by each member, per pane, over the panes a window can still hold. */
export class MemberBudget {
  /** Member → `[pane, weight]` entries, one per pane. */
  private readonly spent = new Map<string, Array<[number, number]>>();
  private pruneAt = 256;

  constructor(serialized?: SerializedMemberBudget) {
    if (serialized) for (const [member, entries] of serialized) this.spent.set(member, entries);
  }

  /**
   * The weight this interaction counts for (0 once the member's budget is spent), recorded.
   * `firstPane` is the first pane an open window can still hold: entries before it are dropped now
   * and then, since no window that could take a signal holds them any more.
   */
  counted(
    member: string,
    pane: number,
    weight: number,
    cap: number,
    panesPerWindow: number,
    firstPane: number,
  ): number {
    if (this.spent.size >= this.pruneAt) {
      this.forgetBefore(firstPane);
      this.pruneAt = Math.max(256, 2 * this.spent.size);
    }
    let entries = this.spent.get(member);
    if (!entries) {
      entries = [];
      this.spent.set(member, entries);
    }
    // The fullest window holding this pane: windows whose last pane is pane … pane + size − 1.
    // Past the member's newest entry a later window only loses entries, so the search stops there
    // (in order, at the window ending with this pane).
    let newest = pane;
    for (const [p] of entries) if (p > newest) newest = p;
    let fullest = 0;
    for (let last = pane; last <= Math.min(newest, pane + panesPerWindow - 1); last++) {
      let sum = 0;
      for (const [p, w] of entries) if (p > last - panesPerWindow && p <= last) sum += w;
      if (sum > fullest) fullest = sum;
    }
    const counts = Math.max(0, Math.min(weight, cap - fullest));
    if (counts > 0) {
      const entry = entries.find(([p]) => p === pane);
      if (entry) entry[1] += counts;
      else entries.push([pane, counts]);
    }
    return counts;
  }

  /** What the changelog keeps: the entries from `firstPane` on. */
  serialize(firstPane: number): SerializedMemberBudget | undefined {
    const kept: SerializedMemberBudget = [];
    for (const [member, entries] of this.spent) {
      const live = entries.filter(([p]) => p >= firstPane);
      if (live.length > 0) kept.push([member, live.map(([p, w]) => [p, w])]);
    }
    return kept.length > 0 ? kept : undefined;
  }

  private forgetBefore(firstPane: number): void {
    for (const [member, entries] of this.spent) {
      const live = entries.filter(([p]) => p >= firstPane);
      if (live.length === 0) this.spent.delete(member);
      else if (live.length < entries.length) this.spent.set(member, live);
    }
  }
}
