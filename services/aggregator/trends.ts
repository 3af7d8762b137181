/**
 * Windowing, scoring and alerting for the SKUs of ONE partition of the signals-by-sku topic, pure
 * (no I/O, no clock): the same sequence of signals always gives the same windows and alerts.
 *
 * Semantics as in Kafka Streams:
 *   - event time; stream time = the largest event time seen in this partition;
 *   - hopping windows [start, start + size) aligned to the epoch, advancing by `advance`;
 *     daily windows [day, day + 24 h) in UTC;
 *   - a window closes when stream time ≥ end + grace, and only then is its FINAL result emitted, once;
 *   - a signal whose newest window has already closed is too late: it is counted and handed back
 *     for the late-signals topic (it still counts in its daily window if that one is open).
 * Windows are assembled from advance-sized panes, so each signal touches one pane per scope.
 */
import type {
  InventoryLevel,
  LateSignal,
  ReorderAlert,
  Signal,
  TrendWindow,
} from '../../shared/contracts/events.ts';
import type { TrendSettings } from './config.ts';
import { MemberBudget, type SerializedMemberBudget } from './member-budget.ts';
import {
  addToPane,
  authorId,
  byKindOf,
  DayTally,
  deserializePane,
  emptyMeasures,
  emptyPane,
  Interner,
  mergedByKind,
  PaneSeries,
  type PaneTally,
  paneToTally,
  type SignalIds,
  type SpanMeasures,
  SpanScanner,
  serializePane,
} from './pane-tally.ts';
import { adviseReorder, isStrongTrend, PRIORITY_RANK } from './reorder.ts';
import { PhotoMemory, type SerializedPhotoMemory } from './reposts.ts';
import {
  type Activity,
  type Baseline,
  decayBaseline,
  isBroadEnough,
  mergeTallies,
  scoreOf,
  shareSurpriseOf,
  startBaseline,
  surpriseOf,
  type Tally,
  updateBaseline,
} from './scoring.ts';
import { cusumPasses, cusumQuiet, cusumStep, rhythmOf } from './sequential.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;
const GLOBAL = 'global';
/** Interned ids held before the table is first renumbered. */
const MIN_INTERN_LIMIT = 1 << 16;

export interface ProductFacts {
  style: string | null;
  colour: string | null;
  name: string | null;
  category: string | null;
  brand: string | null;
  price: number | null;
}

/** Tables joined at alert time (from the compacted catalogue and inventory topics). */
export interface TrendTables {
  product(sku: string): ProductFacts | undefined;
  inventory(sku: string): InventoryLevel | undefined;
}

interface ScopeState {
  /** `<sku>|<scope>`: the start of its window ids (built once, not per close). */
  idPrefix: string;
  /** Hopping panes (compact: interned ids, see pane-tally.ts). */
  panes: PaneSeries;
  /** Daily tallies, compact as the panes (no countries, no photos). */
  days: Map<number, DayTally>;
  /** The day tally last added to, and its day: nearly every signal goes to the same one. */
  today: DayTally | null;
  todayIndex: number;
  /** End of the last hopping window closed (or skipped as empty) for this scope. */
  closedThrough: number;
  /** End of the last window folded into the baseline. */
  baselineThrough: number;
  /** Per measure: share of everybody else's activity (rhythm-free) and plain level per window. */
  baselines: ScopeBaselines | null;
  dayBaseline: Baseline | null;
}

/**
 * EWMAs per window of the SKU's own measure and of everybody else's. The share is their ratio, so
 * busy windows weigh more than quiet ones (a ratio of averages, not an average of noisy ratios).
 */
interface ScopeBaselines {
  count: Baseline;
  others: Baseline;
  uploadCount: Baseline;
  otherUploads: Baseline;
  /** The sequential sub-test's CUSUM statistic (absent in state written before it existed). */
  sequential?: number;
}

function shareOf(own: Baseline, others: Baseline): number {
  return own.mean / Math.max(1, others.mean);
}

interface SubTest {
  pValue: number;
  uplift: number;
  expected: number;
  passes: boolean;
}

const SUB_TESTS = 4;

interface Expectations {
  engagement: number;
  freshEngagement: number;
  uploads: number;
  freshUploads: number;
  /** Distinct uploaders per window at the scope's usual level, scaled by its current rhythm. */
  rhythmUploads: number;
}

function emptySubTest(): SubTest {
  return { pValue: 1, uplift: 0, expected: 0, passes: false };
}

/** The stronger of two sub-tests: the smaller p-value, the first of equals (null is weakest). */
function strongerOf(a: SubTest | null, b: SubTest): SubTest {
  return a === null || b.pValue < a.pValue ? b : a;
}

/** Reported for a sub-test whose uplift could not pass the gate (its tail was not computed). */
const SKIPPED_P = 1;

/** Undamped weight, its squares, and upload signals. */
type ActivityCell = [sum: number, squares: number, uploads: number];

function addCell(into: ActivityCell, cell: ActivityCell): void {
  into[0] += cell[0];
  into[1] += cell[1];
  into[2] += cell[2];
}

/** The ISO times of a hopping window ending at `end`, and its id after `<sku>|<scope>`. */
interface WindowLabels {
  end: number;
  start: string;
  endText: string;
  emittedAt: string;
  idSuffix: string;
}

/** A window's panes of one SKU and scope, and everybody's activity in the same window. */
interface WindowSpan {
  /**
   * The scope's panes, sorted by index: the window is `panes[windowFrom, windowTo)`, its newest
   * panes start at `recentFrom`, the ones before those at `beforeFrom` (ranges, not copies: a
   * close would otherwise allocate three arrays).
   */
  panes: PaneTally[];
  windowFrom: number;
  windowTo: number;
  recentFrom: number;
  beforeFrom: number;
  all: ActivityCell;
  allRecent: ActivityCell;
  /** Whether the scope has any activity table (a scope only ever late for hopping windows has none). */
  hasActivity: boolean;
  /** Whether the window's newest pane holds signals of the SKU (then it is the window's last). */
  newestPresent: boolean;
  /** The SKU's own undamped weight and upload signals, in the window and in its newest panes. */
  ownRaw: number;
  ownUploads: number;
  ownRecentRaw: number;
  ownRecentUploads: number;
}

interface Episode {
  /** End of the window that opened the episode. */
  start: number;
  level: number;
  levelUplift: number;
  priority: 'P1' | 'P2' | 'P3';
  /** Whether the trend was strong at any alert of the episode (absent in older state: read from P1). */
  strong?: boolean;
  lastRisingEnd: number;
  lastAlert: ReorderAlert;
}

interface SkuState {
  /** `sku|<sku>`: its changelog key. */
  key: string;
  /** Whether `key` is among the partition's changed keys (a flag is cheaper to test than the Set). */
  changed: boolean;
  /** Whether the SKU is in the partition's active set (likewise). */
  active: boolean;
  scopes: Map<string, ScopeState>;
  /** `scopes.get('global')`, once it exists: every signal adds to it. */
  global: ScopeState | null;
  series: ReorderAlert['series'];
  seriesEnd: number;
  episode: Episode | null;
  /** Its photos, to count a repost of one as a share of the first post (reposts.ts); null until an upload. */
  photos: PhotoMemory | null;
  /** Each member's interaction weight per pane, capped per window (member-budget.ts); null until one. */
  budget: MemberBudget | null;
}

/**
 * Days a scope's daily baseline must hold before a rising day may open an episode. A product's
 * first day is partial and its baseline starts from the flat prior: an ordinary launch (1.9 posts
 * an hour) rose on its second day in an audit. New products are the hourly tests' (category prior).
 */
const KNOWN_DAYS_BEFORE_A_DAY_ALERTS = 2;

/** What the daily windows of one SKU ending at one time found (`closeDaily`). */
interface DayOutcome {
  /** The rising day: the global scope's, else the strongest country's. */
  rise: { scope: string; score: number; pValue: number; uplift: number; distinctMembers: number } | null;
  globalUplift: number;
  globalSignals: number;
  /** Signals of the day per country. */
  regions: Map<string, number>;
}

/** The five countries with the most signals, with their share of `total`. */
function topRegionsOf(
  signalsByCountry: ReadonlyMap<string, number>,
  total: number,
): ReorderAlert['topRegions'] {
  return [...signalsByCountry]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 5)
    .map(([country, signals]) => ({ country, signals, share: round3(signals / Math.max(1, total)) }));
}

interface WindowResult {
  scope: string;
  /** Where the window's panes are: merged into a full tally only if an alert needs it. */
  state: ScopeState;
  end: number;
  signals: number;
  distinctMembers: number;
  /** Enough independent people, none dominating (`isBroadEnough`). */
  broad: boolean;
  /** The window's weighted evidence (its point on the sparkline). */
  weighted: number;
  rising: boolean;
  /** The window's engagement against its baseline, at least 1: the expected multiple of demand. */
  uplift: number;
  /** The uplift of the sub-test that found it rising (for how strong the trend is). */
  detectionUplift: number;
  score: number;
  pValue: number;
}

/** What `drain` hands out; read-only, because an empty result is one shared value. */
export interface TrendOutputs {
  readonly windows: readonly TrendWindow[];
  readonly alerts: readonly ReorderAlert[];
  readonly late: readonly LateSignal[];
  /** Signals counted in their daily window although their hopping windows had closed. */
  readonly partiallyLate: number;
  /** Uploads of a photo already posted of the same SKU, counted as shares of the first post. */
  readonly reposts: number;
}

/** The outputs being collected until the next `drain`. */
interface PendingOutputs {
  windows: TrendWindow[];
  alerts: ReorderAlert[];
  late: LateSignal[];
  partiallyLate: number;
  reposts: number;
}

export class TrendPartition {
  private readonly skus = new Map<string, SkuState>();
  private streamTime = Number.NEGATIVE_INFINITY;
  private startTime = Number.NEGATIVE_INFINITY;
  private frontier = Number.NEGATIVE_INFINITY;
  private dayFrontier = Number.NEGATIVE_INFINITY;
  /**
   * Undamped weighted activity of ALL SKUs of this partition per scope and pane: what everybody
   * else was doing. A SKU is judged by its share of it, so the community's daily rhythm (quiet
   * nights, busy evenings, per time zone) and its growth are not mistaken for a trend.
   */
  private readonly activity = new Map<string, Map<number, ActivityCell>>();
  /** SKUs with open panes or an open episode: the only ones a closing step needs to visit. */
  private readonly active = new Set<string>();
  /** Changelog keys changed since `takeChanges`, in order of first change. */
  private readonly dirty = new Set<string>();
  private metaChanged = false;
  private out: PendingOutputs = emptyOutputs();
  private readonly panesPerWindow: number;
  private readonly alpha: number;
  /** The baselines' learning rate while their SKU has an open episode (slower: see `learning`). */
  private readonly episodeAlpha: number;
  /**
   * The learning rate of the windows closing now: `alpha`, or `episodeAlpha` for a SKU with an open
   * episode. Learning a trend at the usual pace made its own baseline catch up within hours: a
   * trend still running at ×8 stopped being "rising" and its buyers were told it had cooled.
   */
  private learning: number;
  /** Member, post and author ids of the hopping panes; renumbered when it has grown (`closeHopping`). */
  private readonly interner = new Interner();
  private internLimit = MIN_INTERN_LIMIT;
  private readonly scanner = new SpanScanner(this.interner);
  /** The interned ids of the signal being added (reused: one object per partition, not per signal). */
  private readonly signalIds: SignalIds = { member: 0, post: 0, author: 0 };
  private readonly windowMeasures = emptyMeasures();
  private readonly recentMeasures = emptyMeasures();
  /** Country code → its scope name. */
  private readonly countryScopes = new Map<string, string>();
  private readonly span: WindowSpan = {
    newestPresent: false,
    panes: [],
    windowFrom: 0,
    windowTo: 0,
    recentFrom: 0,
    beforeFrom: 0,
    all: [0, 0, 0],
    allRecent: [0, 0, 0],
    hasActivity: false,
    ownRaw: 0,
    ownUploads: 0,
    ownRecentRaw: 0,
    ownRecentUploads: 0,
  };
  /** Everybody's activity per scope and window end, for the closing step under way. */
  private readonly activitySums = new Map<
    string,
    Map<number, { all: ActivityCell; allRecent: ActivityCell; hasActivity: boolean }>
  >();
  private readonly beforeMeasures = emptyMeasures();
  /** Everybody else's activity in the window and in its newest panes, for the close under way. */
  private readonly others = emptyOthers();
  private readonly othersRecent = emptyOthers();
  /** The four sub-tests of the close under way (see `closeWindow`). */
  private readonly engagementTest = emptySubTest();
  private readonly freshEngagementTest = emptySubTest();
  private readonly uploadsTest = emptySubTest();
  private readonly freshUploadsTest = emptySubTest();
  /** The labels of the hopping windows ending at `labels.end`: every scope closing there shares them. */
  private readonly labels: WindowLabels = {
    end: Number.NaN,
    start: '',
    endText: '',
    emittedAt: '',
    idSuffix: '',
  };

  constructor(
    private readonly settings: TrendSettings,
    private readonly tables: TrendTables,
  ) {
    this.panesPerWindow = settings.windowSizeMs / settings.advanceMs;
    this.alpha = 1 - 2 ** (-settings.advanceMs / settings.baselineHalfLifeMs);
    this.episodeAlpha = 1 - 2 ** (-settings.advanceMs / settings.episodeBaselineHalfLifeMs);
    this.learning = this.alpha;
  }

  /** The largest event time seen or pushed (watermarks, idle handling); -Infinity before any. */
  get currentStreamTime(): number {
    return this.streamTime;
  }

  /**
   * `advancesStreamTime` false when stream time follows the producers' watermarks instead
   * (`advanceTo`): then the signal is checked against them but does not move them.
   */
  add(received: Signal, advancesStreamTime = true): void {
    const { advanceMs, windowSizeMs, graceMs } = this.settings;
    const t = parseTime(received.eventTime);
    if (this.startTime === Number.NEGATIVE_INFINITY) {
      this.startTime = t;
      this.metaChange();
    }
    const paneIndex = Math.floor(t / advanceMs);
    const newestWindowEnd = paneIndex * advanceMs + windowSizeMs;
    const dayIndex = Math.floor(t / DAY_MS);
    const dayOpen = this.settings.dailyWindows && (dayIndex + 1) * DAY_MS + graceMs > this.streamTime;
    const hoppingOpen = newestWindowEnd + graceMs > this.streamTime;
    if (!hoppingOpen) {
      this.out.late.push({
        ...received,
        reason: `its last window [${iso(newestWindowEnd - windowSizeMs)}, ${iso(newestWindowEnd)}) closed (grace ${graceMs} ms)`,
        watermark: iso(this.streamTime - graceMs),
      });
      if (!dayOpen) return;
      this.out.partiallyLate++;
    }
    const state = this.skuState(received.sku);
    const signal = this.countedAs(received, state, t);
    const weight =
      hoppingOpen && signal.kind !== 'upload' && this.settings.memberInteractionCap > 0
        ? this.budgeted(state, signal.memberId, paneIndex, this.settings.weights[signal.kind])
        : this.settings.weights[signal.kind];
    const member = this.interner.id(signal.memberId);
    const ids = this.signalIds;
    ids.member = member;
    ids.post = this.interner.id(signal.postId);
    ids.author = authorId(signal, member, this.interner);
    const scopes = this.settings.countryScopes ? 2 : 1;
    for (let s = 0; s < scopes; s++) {
      const name = s === 0 ? GLOBAL : this.countryScope(signal.country);
      const scope = this.scopeState(signal.sku, state, name);
      // A scope left behind while its SKU was inactive: its windows up to the frontier are closed
      // all the same, and a signal late for them must not reopen them.
      if (scope.closedThrough < this.frontier) scope.closedThrough = this.frontier;
      const withCountry = name === GLOBAL;
      if (hoppingOpen) {
        let activity = this.activity.get(name);
        if (!activity) {
          activity = new Map();
          this.activity.set(name, activity);
        }
        const isUpload = signal.kind === 'upload' ? 1 : 0;
        const cell = activity.get(paneIndex);
        if (cell) {
          cell[0] += weight;
          cell[1] += weight * weight;
          cell[2] += isUpload;
        } else {
          activity.set(paneIndex, [weight, weight * weight, isUpload]);
        }
        let pane = scope.panes.get(paneIndex);
        if (!pane) {
          pane = emptyPane(withCountry);
          scope.panes.insert(paneIndex, pane);
        }
        this.addTo(pane, signal, ids, weight);
      }
      if (dayOpen) {
        let day = scope.todayIndex === dayIndex ? scope.today : scope.days.get(dayIndex);
        if (!day) {
          day = new DayTally();
          scope.days.set(dayIndex, day);
        }
        scope.today = day;
        scope.todayIndex = dayIndex;
        day.add(signal, ids, weight, this.scanner);
      }
    }
    this.skuChange(state);
    this.metaChange();
    if (!state.active) this.activate(signal.sku, state);
    if (advancesStreamTime && t > this.streamTime) this.advanceTo(t);
  }

  /** The signal as it counts: a repost of a photo this SKU already has is a share of its first post. */
  private countedAs(signal: Signal, state: SkuState, t: number): Signal {
    const memoryMs = this.settings.repostMemoryMs;
    if (memoryMs === 0) return signal;
    if (signal.kind === 'upload' ? signal.imageUrl === undefined : state.photos === null) return signal;
    state.photos ??= new PhotoMemory();
    const counted = state.photos.attribute(signal, t, memoryMs, this.reachedFrom());
    if (counted.kind !== signal.kind) this.out.reposts++;
    return counted;
  }

  /** What is left of the member's interaction budget on this SKU in the windows holding the pane. */
  private budgeted(state: SkuState, member: string, pane: number, weight: number): number {
    state.budget ??= new MemberBudget();
    const cap = this.settings.memberInteractionCap;
    return state.budget.counted(member, pane, weight, cap, this.panesPerWindow, this.firstBudgetPane());
  }

  /**
   * The first pane a hopping window that can still take a signal holds. Only signals that reach a
   * hopping window are budgeted (those late for all of them count in their day only), so entries
   * before it can never matter again.
   */
  private firstBudgetPane(): number {
    const { graceMs, windowSizeMs, advanceMs } = this.settings;
    return Math.floor((this.streamTime - graceMs - windowSizeMs) / advanceMs) - this.panesPerWindow + 1;
  }

  /** The earliest event time a signal can still be counted at, in a hopping or a daily window. */
  private reachedFrom(): number {
    const { graceMs, windowSizeMs, dailyWindows } = this.settings;
    return this.streamTime - graceMs - Math.max(windowSizeMs, dailyWindows ? DAY_MS : 0);
  }

  private addTo(pane: PaneTally, signal: Signal, ids: SignalIds, weight: number): void {
    addToPane(pane, signal, ids, weight);
    this.scanner.dedupeIfDue(pane);
  }

  /** Moves stream time forward (watermarks, idle-partition handling) and closes what is due. */
  advanceTo(time: number): void {
    if (time <= this.streamTime) return;
    this.streamTime = time;
    this.metaChange();
    const { advanceMs, graceMs, dailyWindows } = this.settings;
    const frontier = Math.floor((time - graceMs) / advanceMs) * advanceMs;
    if (frontier > this.frontier) {
      this.closeHopping(frontier);
      this.frontier = frontier;
    }
    if (dailyWindows) {
      const dayFrontier = Math.floor((time - graceMs) / DAY_MS) * DAY_MS;
      if (dayFrontier > this.dayFrontier) {
        this.closeDaily(dayFrontier);
        this.dayFrontier = dayFrontier;
      }
    }
  }

  /** Everything emitted since the last call (read-only: nothing emitted is one shared frozen value). */
  drain(): TrendOutputs {
    const out = this.out;
    if (
      out.windows.length === 0 &&
      out.alerts.length === 0 &&
      out.late.length === 0 &&
      out.partiallyLate === 0 &&
      out.reposts === 0
    )
      return NOTHING_EMITTED;
    this.out = emptyOutputs();
    return out;
  }

  // ------------------------------------------------------------------ hopping windows

  private closeHopping(frontier: number): void {
    const { advanceMs } = this.settings;
    // Computed before any SKU of this step updates its baseline, and only if a new SKU needs them.
    const priors =
      this.skus.size > 0 && this.hasUnscoredGlobalScope() ? this.categoryPriors() : new Map<string, number>();
    // Activity does not change while windows close: its window sums are shared by every SKU.
    this.activitySums.clear();
    for (const sku of this.active) {
      const state = this.skus.get(sku)!;
      const ends = this.endsOf(state, frontier);
      if (ends.length === 0 && !state.episode) {
        if (!hasPanes(state)) this.deactivate(sku, state);
        continue;
      }
      this.skuChange(state);
      for (const end of ends) {
        this.maybeCool(sku, state, end - advanceMs);
        this.learning = state.episode ? this.episodeAlpha : this.alpha;
        const results: WindowResult[] = [];
        // Countries first: the global expectation is the sum of the per-country ones, so that a
        // product loved in one time zone is not "rising" every morning there.
        const expected: Expectations = {
          engagement: 0,
          freshEngagement: 0,
          uploads: 0,
          freshUploads: 0,
          rhythmUploads: 0,
        };
        let global: ScopeState | undefined;
        for (const [name, scope] of state.scopes) {
          if (name === GLOBAL) {
            global = scope;
            continue;
          }
          const closing = end > scope.closedThrough;
          if (!closing && !scope.baselines) continue;
          const span = this.spanOf(name, scope, end);
          // What this country expected before seeing the window (its baselines move on close).
          this.addExpectationsOf(expected, scope, span);
          if (!closing) continue;
          const result = this.closeWindow(sku, name, scope, end, priors, null, span);
          if (result) results.push(result);
        }
        if (global && end > global.closedThrough) {
          const result = this.closeWindow(
            sku,
            GLOBAL,
            global,
            end,
            priors,
            this.settings.countryScopes ? expected : null,
            this.spanOf(GLOBAL, global, end),
          );
          if (result) results.push(result);
        }
        this.decide(sku, state, end, results);
        this.maybeCool(sku, state, end);
      }
      this.maybeCool(sku, state, frontier);
      const firstNeeded = frontier / advanceMs + 1 - this.panesPerWindow;
      for (const scope of state.scopes.values()) {
        scope.closedThrough = Math.max(scope.closedThrough, frontier);
        scope.panes.dropBefore(firstNeeded);
      }
      // Nothing left to close until its next signal: the long tail of a catalogue is not visited.
      if (!state.episode && !hasPanes(state)) this.deactivate(sku, state);
    }
    this.dropActivityBefore(frontier / advanceMs + 1 - 2 * this.panesPerWindow);
    if (this.interner.size > this.internLimit) this.compactInterner();
  }

  /**
   * Forgets everybody's activity in panes no window can still need. A signal late within grace
   * lands in a pane of the first open window at the earliest, and the windows it closes reach back
   * one window from there: hence two windows' worth are kept. Without this the table, and the
   * `meta` changelog record that carries it, would grow by every pane of every scope forever.
   */
  private dropActivityBefore(firstPane: number): void {
    for (const panes of this.activity.values())
      for (const paneIndex of panes.keys()) if (paneIndex < firstPane) panes.delete(paneIndex);
  }

  /**
   * The ends of the windows of this SKU that close by `frontier`: those, after each scope's last
   * closed window, that hold at least one of its panes. Ascending, each once. Usually one (the
   * frontier moved by one advance); after a gap it skips straight to the next end holding a pane.
   */
  private endsOf(state: SkuState, frontier: number): number[] {
    const ends: number[] = [];
    let end = Number.POSITIVE_INFINITY;
    for (const scope of state.scopes.values()) end = Math.min(end, this.nextEnd(scope, scope.closedThrough));
    while (end <= frontier) {
      ends.push(end);
      let next = Number.POSITIVE_INFINITY;
      for (const scope of state.scopes.values())
        next = Math.min(next, this.nextEnd(scope, Math.max(end, scope.closedThrough)));
      end = next;
    }
    return ends;
  }

  /** The first window end after `after` whose window holds one of the scope's panes (∞ if none). */
  private nextEnd(scope: ScopeState, after: number): number {
    const { advanceMs, windowSizeMs } = this.settings;
    const candidate = after + advanceMs;
    const { indices } = scope.panes;
    for (let i = 0; i < indices.length; i++) {
      const paneIndex = indices[i]!;
      // The windows holding this pane end in [(p + 1)·advance, p·advance + size].
      if (paneIndex * advanceMs + windowSizeMs < candidate) continue;
      return Math.max(candidate, (paneIndex + 1) * advanceMs);
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Renumbers the ids still held by panes, dropping those of the panes gone since the last time. */
  private compactInterner(): void {
    const panes: PaneTally[] = [];
    for (const state of this.skus.values())
      for (const scope of state.scopes.values()) {
        for (const pane of scope.panes.panes) panes.push(pane);
        for (const day of scope.days.values()) panes.push(day.settled(this.scanner));
      }
    this.interner.compact(panes);
    this.internLimit = Math.max(MIN_INTERN_LIMIT, 2 * this.interner.size);
  }

  /**
   * The panes of the window ending at `end` (all of it, its newest `recentPanes`, the ones before
   * those) and everybody's activity in it. Valid until the next call (the span object is reused).
   */
  private spanOf(scopeName: string, scope: ScopeState, end: number): WindowSpan {
    const { advanceMs, recentPanes } = this.settings;
    const lastPane = end / advanceMs - 1;
    const span = this.span;
    span.newestPresent = false;
    let ownRaw = 0;
    let ownUploads = 0;
    let ownRecentRaw = 0;
    let ownRecentUploads = 0;
    const firstPane = lastPane - this.panesPerWindow + 1;
    const { indices, panes } = scope.panes;
    let i = 0;
    while (i < indices.length && indices[i]! < firstPane) i++;
    span.panes = panes;
    span.windowFrom = i;
    span.beforeFrom = -1;
    span.recentFrom = -1;
    for (; i < indices.length; i++) {
      const p = indices[i]!;
      if (p > lastPane) break;
      const pane = panes[i]!;
      ownRaw += pane.raw;
      ownUploads += pane.upload;
      if (p === lastPane) span.newestPresent = true;
      if (p > lastPane - recentPanes) {
        if (span.recentFrom < 0) span.recentFrom = i;
        ownRecentRaw += pane.raw;
        ownRecentUploads += pane.upload;
      } else if (p > lastPane - 2 * recentPanes && span.beforeFrom < 0) span.beforeFrom = i;
    }
    span.windowTo = i;
    if (span.recentFrom < 0) span.recentFrom = i;
    if (span.beforeFrom < 0) span.beforeFrom = span.recentFrom;
    span.ownRaw = ownRaw;
    span.ownUploads = ownUploads;
    span.ownRecentRaw = ownRecentRaw;
    span.ownRecentUploads = ownRecentUploads;
    const cells = this.activityCells(scopeName, end);
    span.all = cells.all;
    span.allRecent = cells.allRecent;
    span.hasActivity = cells.hasActivity;
    return span;
  }

  /** Everybody's activity in a scope's window ending at `end`, and in its newest panes (cached). */
  private activityCells(
    scopeName: string,
    end: number,
  ): { all: ActivityCell; allRecent: ActivityCell; hasActivity: boolean } {
    let sums = this.activitySums.get(scopeName);
    if (!sums) {
      sums = new Map();
      this.activitySums.set(scopeName, sums);
    }
    let cells = sums.get(end);
    if (!cells) {
      const { advanceMs, recentPanes } = this.settings;
      const lastPane = end / advanceMs - 1;
      const activity = this.activity.get(scopeName);
      const all: ActivityCell = [0, 0, 0];
      const allRecent: ActivityCell = [0, 0, 0];
      for (let p = lastPane - this.panesPerWindow + 1; p <= lastPane; p++) {
        const cell = activity?.get(p);
        if (!cell) continue;
        addCell(all, cell);
        if (p > lastPane - recentPanes) addCell(allRecent, cell);
      }
      cells = { all, allRecent, hasActivity: activity !== undefined };
      sums.set(end, cells);
    }
    return cells;
  }

  private closeWindow(
    sku: string,
    scopeName: string,
    scope: ScopeState,
    end: number,
    priors: Map<string, number>,
    /** For the global scope: the sum of the country expectations (null: share of global activity). */
    override: Expectations | null,
    span: WindowSpan,
  ): WindowResult | null {
    const { advanceMs, windowSizeMs, recentPanes, warmupMs, defaultPrior } = this.settings;
    const { panes, windowFrom, windowTo, recentFrom, beforeFrom, all, allRecent } = span;
    if (windowFrom === windowTo) return null;
    const isGlobal = scopeName === GLOBAL;
    // The merged window, its newest panes and the ones before those, measured without merging.
    const tally = this.windowMeasures;
    const recentTally = this.recentMeasures;
    this.scanner.measureWindow(
      panes,
      windowFrom,
      beforeFrom,
      recentFrom,
      windowTo,
      this.settings,
      tally,
      recentTally,
      this.beforeMeasures,
    );
    const evidence = tally.evidence;
    const recentEvidence = recentTally.evidence;

    const product = this.tables.product(sku);
    const category = product?.category ?? null;
    const categoryShare = category !== null ? priors.get(category) : undefined;
    const others = othersThan(all, tally, this.others);
    const othersRecent = othersThan(allRecent, recentTally, this.othersRecent);
    if (!scope.baselines) {
      // A product's prior is for the product: a country starts from its part of it (the country's
      // share of the partition's activity), else a product posted in six countries at once would
      // be expected at six priors and a launch that takes off would not stand out.
      const part = isGlobal
        ? 1
        : Math.min(1, Math.max(1, all[0]) / Math.max(1, this.activityCells(GLOBAL, end).all[0]));
      const uploadPrior = (part * defaultPrior) / this.settings.weights.upload;
      // A product first seen once the partition has learnt its rhythm is new: it is compared with
      // its prior for a day of windows, not with the hour it was launched in.
      const prior =
        end - this.startTime >= warmupMs
          ? { priorWeightWindows: Math.max(1, Math.round(this.settings.newProductPriorMs / advanceMs)) }
          : this.settings;
      scope.baselines = {
        count: startBaseline(
          categoryShare !== undefined ? categoryShare * others.weighted : part * defaultPrior,
          prior,
        ),
        others: startBaseline(others.weighted, prior),
        uploadCount: startBaseline(uploadPrior, prior),
        otherUploads: startBaseline(others.uploads, prior),
      };
      scope.baselineThrough = end - advanceMs;
    } else {
      const emptyWindows = (end - scope.baselineThrough) / advanceMs - 1;
      // Only the SKU's own measures are known to have been zero; everybody else's are unknown.
      decayBaseline(scope.baselines.count, emptyWindows, this.learning);
      decayBaseline(scope.baselines.uploadCount, emptyWindows, this.learning);
    }
    const b = scope.baselines;
    const countShare = shareOf(b.count, b.others);
    const uploadShare = shareOf(b.uploadCount, b.otherUploads);
    const spanShare = recentPanes / this.panesPerWindow;
    // Two measures (weighted engagement, which lags, and distinct uploaders, which lead) over two
    // spans (the whole window and its newest panes).
    const engagement = this.subTest(
      this.engagementTest,
      evidence.weighted,
      evidence.varianceScale,
      others.weighted,
      others.varianceScale,
      countShare,
      b.count.mean,
      1,
      override?.engagement,
      1,
    );
    const freshEngagement = this.subTest(
      this.freshEngagementTest,
      recentEvidence.weighted,
      recentEvidence.varianceScale,
      othersRecent.weighted,
      othersRecent.varianceScale,
      countShare,
      b.count.mean,
      spanShare,
      override?.freshEngagement,
      1,
    );
    // Distinct uploaders as a unit count (a member's repeated posts count once).
    const uploads = this.subTest(
      this.uploadsTest,
      tally.distinctUploaders,
      1,
      others.uploads,
      1,
      uploadShare,
      b.uploadCount.mean,
      1,
      override?.uploads,
      this.settings.weights.upload,
    );
    const freshUploads = this.subTest(
      this.freshUploadsTest,
      recentTally.distinctUploaders,
      1,
      othersRecent.uploads,
      1,
      uploadShare,
      b.uploadCount.mean,
      spanShare,
      override?.freshUploads,
      this.settings.weights.upload,
    );
    const warmingUp = end - this.startTime < warmupMs;
    const sequential = this.sequentialTest(scope, b, end, span, tally, uploads, others, override, warmingUp);
    const broad = isBroadEnough(evidence, tally.distinctMembers, this.settings);
    const freshBroad = isBroadEnough(recentEvidence, recentTally.distinctMembers, this.settings);
    // The strongest sub-test that passes on a span broad enough (the window, or its newest panes).
    let passing: SubTest | null = null;
    if (broad && engagement.passes) passing = strongerOf(passing, engagement);
    if (freshBroad && freshEngagement.passes) passing = strongerOf(passing, freshEngagement);
    if (broad && uploads.passes) passing = strongerOf(passing, uploads);
    if (freshBroad && freshUploads.passes) passing = strongerOf(passing, freshUploads);
    const rising = !warmingUp && (passing !== null || (broad && sequential));
    // Four sub-tests: Bonferroni keeps the false-alarm rate of the window at alpha.
    const strongest = strongerOf(strongerOf(strongerOf(engagement, freshEngagement), uploads), freshUploads);
    const pValue = Math.min(1, SUB_TESTS * strongest.pValue);
    const detectionUplift = passing !== null ? passing.uplift : rising ? uploads.uplift : engagement.uplift;
    // What the alert reports, sizes the order with and escalates on: the whole window's
    // engagement against its baseline (the window record's weightedCount / baseline), never below
    // 1. The sub-test that passed may be the newest 10 minutes, whose ratio swings too much to
    // multiply a lead time's demand by (×17.7 beside ×5.4 for the window, in one audited case).
    const uplift = Math.max(1, engagement.uplift);
    const score = scoreOf(pValue);
    const beforeWeighted = this.beforeMeasures.evidence.weighted;
    const acceleration = (recentEvidence.weighted + 1) / (beforeWeighted + 1);

    updateBaseline(b.count, evidence.weighted, this.learning);
    updateBaseline(b.others, others.weighted, this.learning);
    updateBaseline(b.uploadCount, tally.distinctUploaders, this.learning);
    updateBaseline(b.otherUploads, others.uploads, this.learning);
    scope.baselineThrough = end;

    const labels = this.labelsOf(end);
    this.out.windows.push({
      windowId: scope.idPrefix + labels.idSuffix,
      sku,
      scope: scopeName,
      windowStart: labels.start,
      windowEnd: labels.endText,
      sizeMs: windowSizeMs,
      signals: tally.signals,
      weightedCount: round3(evidence.weighted),
      distinctMembers: tally.distinctMembers,
      countsByKind: mergedByKind(panes, windowFrom, windowTo),
      baseline: round3(engagement.expected),
      score: round3(score),
      pValue,
      rising,
      acceleration: round3(acceleration),
      category,
      name: product?.name ?? null,
      brand: product?.brand ?? null,
      emittedAt: labels.emittedAt,
    });
    // Only the global window (the sparkline) and rising ones are looked at after the close.
    if (!isGlobal && !rising) return null;
    return {
      scope: scopeName,
      state: scope,
      end,
      signals: tally.signals,
      distinctMembers: tally.distinctMembers,
      broad,
      weighted: evidence.weighted,
      rising,
      uplift,
      detectionUplift,
      score,
      pValue,
    };
  }

  /** The time labels of the hopping windows ending at `end` (computed once per end). */
  private labelsOf(end: number): WindowLabels {
    const labels = this.labels;
    if (labels.end !== end) {
      const { windowSizeMs, graceMs } = this.settings;
      labels.end = end;
      labels.start = iso(end - windowSizeMs);
      labels.endText = iso(end);
      labels.emittedAt = iso(end + graceMs);
      labels.idSuffix = `|${labels.start}|${windowSizeMs}`;
    }
    return labels;
  }

  /**
   * The sequential sub-test (sequential.ts): the CUSUM of the new posters of each advance against
   * the larger of two expectations, the SKU's share of everybody else's uploads and its usual level
   * scaled by the scope's rhythm (for the global scope both are sums over its countries). Advances
   * without a window close had no signal of the SKU: they count as zero posters. Nothing is
   * accumulated during warm-up.
   */
  private sequentialTest(
    scope: ScopeState,
    b: ScopeBaselines,
    end: number,
    span: WindowSpan,
    tally: SpanMeasures,
    uploads: SubTest,
    others: { weighted: number },
    override: Expectations | null,
    warmingUp: boolean,
  ): boolean {
    const settings = this.settings.sequential;
    // Evidence gathered against a baseline still being learned would fire the moment warm-up ends.
    if (warmingUp) {
      b.sequential = 0;
      return false;
    }
    const rhythmic = override
      ? override.rhythmUploads
      : b.uploadCount.mean * rhythmOf(others.weighted, b.others.mean);
    const floor = this.settings.defaultPrior / 2 / this.settings.weights.upload;
    const perAdvance = Math.max(uploads.expected, rhythmic, floor) / this.panesPerWindow;
    const skipped = Math.max(0, (end - scope.baselineThrough) / this.settings.advanceMs - 1);
    const statistic = cusumStep(
      cusumQuiet(b.sequential ?? 0, skipped, perAdvance, settings),
      span.newestPresent ? tally.lastPaneNewUploaders : 0,
      perAdvance,
      settings,
    );
    b.sequential = statistic;
    return cusumPasses(statistic, settings);
  }

  /**
   * One measure over one span: its share of everybody else's activity AND its own absolute level
   * must both be significantly up ("everybody else went quiet" is not "this product rose"). The
   * tail probabilities are the costly part: they are computed only when the uplift could pass.
   */
  private subTest(
    into: SubTest,
    weighted: number,
    varianceScale: number,
    othersWeighted: number,
    othersScale: number,
    baselineShare: number,
    usualCount: number,
    spanShare: number,
    expectedOverride: number | undefined,
    unitWeight: number,
  ): SubTest {
    const { defaultPrior, minUplift, alpha, dispersion } = this.settings;
    // A quiet product is never expected to be quieter than half the default prior: a handful of
    // posts about something nobody mentioned for days is not yet a trend. The prior is weighted,
    // so in uploads it is divided by an upload's weight (a floor of one upload an hour, five
    // times the prior, hid small trends: 2.4 posts an hour in one country never passed).
    const floor = ((defaultPrior / 2) * spanShare) / unitWeight;
    const expected = Math.max(expectedOverride ?? baselineShare * othersWeighted, floor);
    const share = expected / othersWeighted;
    const usual = Math.max(usualCount * spanShare, floor);
    const uplift = expected > 0 ? weighted / expected : 0;
    into.uplift = uplift;
    into.expected = expected;
    if (uplift < minUplift) {
      into.pValue = uplift > 1 ? SKIPPED_P : 1;
      into.passes = false;
      return into;
    }
    const relative = shareSurpriseOf(
      { weighted, varianceScale },
      { weighted: othersWeighted, varianceScale: othersScale },
      share,
      dispersion,
    );
    const absolute = surpriseOf(weighted, usual, varianceScale, dispersion);
    into.pValue = Math.max(relative.pValue, absolute.pValue);
    into.passes = SUB_TESTS * into.pValue <= alpha;
    return into;
  }

  /**
   * What a country scope expects in the window ending at `end` from its share baselines (as they
   * stand: a scope without signals in this window is not decayed here, which errs on the side of
   * expecting more).
   */
  private addExpectationsOf(into: Expectations, scope: ScopeState, span: WindowSpan): void {
    if (!scope.baselines || !span.hasActivity) return;
    const { all, allRecent: recent, ownRaw, ownUploads, ownRecentRaw, ownRecentUploads } = span;
    const share = shareOf(scope.baselines.count, scope.baselines.others);
    const uploadShare = shareOf(scope.baselines.uploadCount, scope.baselines.otherUploads);
    into.engagement += share * Math.max(1, all[0] - ownRaw);
    into.freshEngagement += share * Math.max(1, recent[0] - ownRecentRaw);
    into.uploads += uploadShare * Math.max(1, all[2] - ownUploads);
    into.freshUploads += uploadShare * Math.max(1, recent[2] - ownRecentUploads);
    into.rhythmUploads +=
      scope.baselines.uploadCount.mean * rhythmOf(all[0] - ownRaw, scope.baselines.others.mean);
  }

  // ------------------------------------------------------------------ alert episodes

  /** One alert per SKU per episode: new, escalated when it grows or gets more urgent, cooled. */
  private decide(sku: string, state: SkuState, end: number, results: WindowResult[]): void {
    const global = results.find((r) => r.scope === GLOBAL);
    if (global) this.recordSeries(state, end, global);
    const held = state.episode;
    // An episode lasts while its product holds the rise, also where an hour is too quiet to test
    // (the night in the trend's country): it cools once the rise is gone, not when a night's few
    // posts stop being significant (a running trend was reported as cooled, then new, each day).
    if (held && global && global.uplift >= this.settings.minUplift && global.broad) held.lastRisingEnd = end;
    const rising = results.filter((r) => r.rising);
    if (rising.length === 0) return;
    const best =
      rising.find((r) => r.scope === GLOBAL) ?? rising.reduce((a, b) => (b.score > a.score ? b : a));
    // Sales are worldwide: the order is sized on the product's whole window, not on the country
    // that rose (×34 in Portugal multiplied worldwide sales into 25–33 times the need in an audit).
    const demand = global ?? best;
    const episode = state.episode;
    // Strong once, strong for the episode: an escalation must not read as less urgent while the
    // stock runs down only because a weaker sub-test found this window.
    const strong =
      isStrongTrend(best.detectionUplift, best.score, this.settings) ||
      (episode !== null && (episode.strong ?? episode.priority === 'P1'));
    const advice = adviseReorder(this.tables.inventory(sku), demand.uplift, strong, this.settings);
    if (!episode) {
      const alert = this.alert(sku, state, end, end, 'new', 0, best, demand, advice);
      state.episode = {
        start: end,
        level: 0,
        levelUplift: demand.uplift,
        priority: advice.priority,
        strong,
        lastRisingEnd: end,
        lastAlert: alert,
      };
      this.out.alerts.push(alert);
      return;
    }
    episode.lastRisingEnd = end;
    episode.strong = strong;
    const grew = demand.uplift >= this.settings.escalateFactor * episode.levelUplift;
    const moreUrgent = PRIORITY_RANK[advice.priority] < PRIORITY_RANK[episode.priority];
    if (!grew && !moreUrgent) return;
    episode.level++;
    episode.levelUplift = Math.max(episode.levelUplift, demand.uplift);
    episode.priority = advice.priority;
    const alert = this.alert(
      sku,
      state,
      episode.start,
      end,
      'escalated',
      episode.level,
      best,
      demand,
      advice,
    );
    episode.lastAlert = alert;
    this.out.alerts.push(alert);
  }

  /** Cools the episode at the first window end `coolAfterMs` past its last rising window, if ≤ `upTo`. */
  private maybeCool(sku: string, state: SkuState, upTo: number): void {
    const episode = state.episode;
    if (!episode) return;
    const { advanceMs, coolAfterMs, windowSizeMs, graceMs } = this.settings;
    const coolAt = episode.lastRisingEnd + Math.ceil(coolAfterMs / advanceMs) * advanceMs;
    if (coolAt > upTo) return;
    // Stock as it stands now and demand without the trend: a cooled card neither outranks live
    // alerts nor repeats an order sized for a trend that has passed.
    const advice = adviseReorder(this.tables.inventory(sku), 1, false, this.settings);
    this.out.alerts.push({
      ...episode.lastAlert,
      priority: advice.priority,
      stock: advice.stock,
      suggestedReorderQty: advice.suggestedReorderQty,
      alertId: `${sku}|${iso(episode.start)}|cooled|${episode.level}`,
      status: 'cooled',
      windowStart: iso(coolAt - windowSizeMs),
      windowEnd: iso(coolAt),
      series: this.seriesUpTo(state, coolAt),
      raisedAt: iso(coolAt + graceMs),
    });
    state.episode = null;
  }

  private alert(
    sku: string,
    state: SkuState,
    episodeStart: number,
    end: number,
    status: 'new' | 'escalated',
    level: number,
    best: WindowResult,
    global: WindowResult,
    advice: ReturnType<typeof adviseReorder>,
  ): ReorderAlert {
    const { windowSizeMs, graceMs, topPhotos } = this.settings;
    const product = this.tables.product(sku);
    const globalTally = this.tallyOf(global);
    const topRegions = topRegionsOf(globalTally.countries, globalTally.signals);
    return {
      alertId: `${sku}|${iso(episodeStart)}|${status}|${level}`,
      episodeId: `${sku}|${iso(episodeStart)}`,
      sku,
      status,
      priority: advice.priority,
      product: {
        style: product?.style ?? null,
        colour: product?.colour ?? null,
        name: product?.name ?? null,
        category: product?.category ?? null,
        brand: product?.brand ?? null,
        price: product?.price ?? null,
      },
      score: round3(best.score),
      pValue: best.pValue,
      uplift: round3(global.uplift),
      windowStart: iso(end - windowSizeMs),
      windowEnd: iso(end),
      series: this.seriesUpTo(state, end),
      topRegions,
      // Only global panes keep photos; a country's alert shows the photos posted there.
      photos: strongestPhotos(
        best === global ? globalTally : postsOf(globalTally, this.tallyOf(best)),
        this.settings.postInteractionCap,
        this.settings.weights.upload,
        topPhotos,
      ),
      distinctMembers: global.distinctMembers,
      stock: advice.stock,
      suggestedReorderQty: advice.suggestedReorderQty,
      raisedAt: iso(end + graceMs),
    };
  }

  /** The full merged tally of a window (countries, photos): built only for alerts. */
  private tallyOf(result: WindowResult): Tally {
    const lastPane = result.end / this.settings.advanceMs - 1;
    const panes: Tally[] = [];
    for (let p = lastPane - this.panesPerWindow + 1; p <= lastPane; p++) {
      const pane = result.state.panes.get(p);
      if (pane) panes.push(paneToTally(pane, this.interner));
    }
    return mergeTallies(panes, result.scope === GLOBAL);
  }

  /** The global window series for the sparkline, zero-filled where a window had no signal. */
  private recordSeries(state: SkuState, end: number, global: WindowResult): void {
    state.series = this.seriesUpTo(state, end - this.settings.advanceMs);
    state.series.push({
      windowStart: this.labelsOf(end).start,
      weightedCount: round3(global.weighted),
      signals: global.signals,
    });
    state.seriesEnd = end;
  }

  private seriesUpTo(state: SkuState, end: number): ReorderAlert['series'] {
    const { advanceMs, windowSizeMs, seriesLength } = this.settings;
    const series = [...state.series];
    if (state.seriesEnd > Number.NEGATIVE_INFINITY) {
      const gap = Math.min(seriesLength, (end - state.seriesEnd) / advanceMs);
      for (let i = gap - 1; i >= 0; i--) {
        series.push({ windowStart: iso(end - i * advanceMs - windowSizeMs), weightedCount: 0, signals: 0 });
      }
    }
    return series.slice(-seriesLength);
  }

  // ------------------------------------------------------------------ daily windows

  private closeDaily(dayFrontier: number): void {
    const { graceMs, dispersion, alpha, minUplift, windowSizeMs } = this.settings;
    const dailyPrior = (this.settings.defaultPrior * DAY_MS) / windowSizeMs;
    for (const [sku, state] of this.skus) {
      const days = new Map<number, DayOutcome>();
      for (const [name, scope] of state.scopes) {
        for (const [dayIndex, day] of [...scope.days].sort((a, b) => a[0] - b[0])) {
          const end = (dayIndex + 1) * DAY_MS;
          if (end > dayFrontier) continue;
          const tally = day.settled(this.scanner);
          scope.days.delete(dayIndex);
          if (scope.todayIndex === dayIndex) {
            scope.today = null;
            scope.todayIndex = Number.NaN;
          }
          this.skuChange(state);
          const measures = this.scanner.measure([tally], this.settings, this.recentMeasures);
          const evidence = measures.evidence;
          if (!scope.dayBaseline)
            scope.dayBaseline = startBaseline(dailyPrior, { ...this.settings, priorWeightWindows: 1 });
          const expected = Math.max(scope.dayBaseline.mean, dailyPrior / 2);
          const test = surpriseOf(evidence.weighted, expected, evidence.varianceScale, dispersion);
          // Days of this scope already in its baseline (the prior counts for one).
          const knownDays = scope.dayBaseline.weight - 1;
          const rising =
            end - this.startTime >= this.settings.warmupMs + DAY_MS &&
            test.pValue <= alpha &&
            test.uplift >= minUplift &&
            isBroadEnough(evidence, measures.distinctMembers, this.settings);
          // Daily baselines move slowly: a week's half-life.
          updateBaseline(scope.dayBaseline, evidence.weighted, 1 - 2 ** (-1 / 7));
          const outcome = days.get(end) ?? {
            rise: null,
            globalUplift: 1,
            globalSignals: 0,
            regions: new Map(),
          };
          days.set(end, outcome);
          if (name === GLOBAL) {
            outcome.globalUplift = test.uplift;
            outcome.globalSignals = tally.signals;
          } else outcome.regions.set(name.slice('country:'.length), tally.signals);
          const score = scoreOf(test.pValue);
          if (
            rising &&
            knownDays >= KNOWN_DAYS_BEFORE_A_DAY_ALERTS &&
            (!outcome.rise ||
              (outcome.rise.scope !== GLOBAL && (name === GLOBAL || score > outcome.rise.score)))
          )
            outcome.rise = {
              scope: name,
              score,
              pValue: test.pValue,
              uplift: test.uplift,
              distinctMembers: measures.distinctMembers,
            };
          const product = this.tables.product(sku);
          this.out.windows.push({
            windowId: `${scope.idPrefix}|${iso(end - DAY_MS)}|${DAY_MS}`,
            sku,
            scope: name,
            windowStart: iso(end - DAY_MS),
            windowEnd: iso(end),
            sizeMs: DAY_MS,
            signals: tally.signals,
            weightedCount: round3(evidence.weighted),
            distinctMembers: measures.distinctMembers,
            countsByKind: byKindOf(tally),
            baseline: round3(expected),
            score: round3(scoreOf(test.pValue)),
            pValue: test.pValue,
            rising,
            category: product?.category ?? null,
            name: product?.name ?? null,
            brand: product?.brand ?? null,
            emittedAt: iso(end + graceMs),
          });
        }
      }
      for (const [end, outcome] of [...days].sort((a, b) => a[0] - b[0]))
        if (outcome.rise) this.riseOverDay(sku, state, end, outcome);
    }
  }

  /**
   * A day that rose opens an episode the hourly tests missed: a trend too thin for any hour to be
   * significant (2.4 posts an hour in one small country, against 0.3) is plain over a day. An open
   * episode is only held. The alert's window is the day; its photos are the last hour's, the only
   * panes still kept, and its regions the day's countries.
   */
  private riseOverDay(sku: string, state: SkuState, end: number, outcome: DayOutcome): void {
    const rise = outcome.rise!;
    const episode = state.episode;
    if (episode) {
      episode.lastRisingEnd = Math.max(episode.lastRisingEnd, end);
      return;
    }
    if (!state.global) return;
    const day: WindowResult = {
      scope: GLOBAL,
      state: state.global,
      end,
      signals: outcome.globalSignals,
      distinctMembers: rise.distinctMembers,
      broad: true,
      weighted: 0,
      rising: true,
      // Sales are worldwide: sized on the product's day, never on one country's rise.
      uplift: Math.max(1, outcome.globalUplift),
      detectionUplift: rise.uplift,
      score: rise.score,
      pValue: rise.pValue,
    };
    const strong = isStrongTrend(rise.uplift, rise.score, this.settings);
    const advice = adviseReorder(this.tables.inventory(sku), day.uplift, strong, this.settings);
    const lastHourAlert = this.alert(sku, state, end, end, 'new', 0, day, day, advice);
    const daySignals = [...outcome.regions.values()].reduce((sum, n) => sum + n, 0);
    const alert: ReorderAlert = {
      ...lastHourAlert,
      windowStart: iso(end - DAY_MS),
      // Without country scopes there are no day regions: the last hour's stand in.
      topRegions:
        outcome.regions.size === 0 ? lastHourAlert.topRegions : topRegionsOf(outcome.regions, daySignals),
    };
    state.episode = {
      start: end,
      level: 0,
      levelUplift: day.uplift,
      priority: advice.priority,
      strong,
      lastRisingEnd: end,
      lastAlert: alert,
    };
    this.skuChange(state);
    this.activate(sku, state);
    this.out.alerts.push(alert);
  }

  // ------------------------------------------------------------------ state

  private hasUnscoredGlobalScope(): boolean {
    for (const sku of this.active) {
      const global = this.skus.get(sku)!.scopes.get(GLOBAL);
      if (global && !global.baselines && global.panes.size > 0) return true;
    }
    return false;
  }

  /** Mean global baseline of the established SKUs of each category: the prior for new ones. */
  private categoryPriors(): Map<string, number> {
    const sums = new Map<string, { sum: number; count: number }>();
    for (const [sku, state] of this.skus) {
      const baselines = state.scopes.get(GLOBAL)?.baselines;
      if (!baselines || baselines.count.weight < 2 * this.settings.priorWeightWindows) continue;
      const category = this.tables.product(sku)?.category;
      if (!category) continue;
      const entry = sums.get(category) ?? { sum: 0, count: 0 };
      entry.sum += shareOf(baselines.count, baselines.others);
      entry.count++;
      sums.set(category, entry);
    }
    return new Map([...sums].map(([category, { sum, count }]) => [category, sum / count]));
  }

  private countryScope(country: string): string {
    let name = this.countryScopes.get(country);
    if (name === undefined) {
      name = `country:${country}`;
      this.countryScopes.set(country, name);
    }
    return name;
  }

  private skuState(sku: string): SkuState {
    let state = this.skus.get(sku);
    if (!state) {
      state = newSkuState(sku, {
        scopes: new Map(),
        series: [],
        seriesEnd: Number.NEGATIVE_INFINITY,
        episode: null,
        photos: null,
        budget: null,
      });
      this.skus.set(sku, state);
    }
    return state;
  }

  private scopeState(sku: string, state: SkuState, name: string): ScopeState {
    if (name === GLOBAL && state.global) return state.global;
    let scope = state.scopes.get(name);
    if (!scope) {
      scope = newScopeState(sku, name, {
        panes: new PaneSeries(),
        days: new Map(),
        closedThrough: this.frontier,
        baselineThrough: this.frontier,
        baselines: null,
        dayBaseline: null,
      });
      state.scopes.set(name, scope);
    }
    if (name === GLOBAL) state.global = scope;
    return scope;
  }

  private metaChange(): void {
    if (this.metaChanged) return;
    this.metaChanged = true;
    this.dirty.add('meta');
  }

  private skuChange(state: SkuState): void {
    if (state.changed) return;
    state.changed = true;
    this.dirty.add(state.key);
  }

  private activate(sku: string, state: SkuState): void {
    state.active = true;
    this.active.add(sku);
  }

  private deactivate(sku: string, state: SkuState): void {
    state.active = false;
    this.active.delete(sku);
  }

  /** Keys changed since the last call (`meta`, `sku|<sku>`) with their JSON-ready value. */
  takeChanges(): Array<[string, unknown]> {
    const changes: Array<[string, unknown]> = [];
    for (const key of this.dirty) {
      if (key === 'meta') {
        changes.push([
          key,
          {
            streamTime: finite(this.streamTime),
            startTime: finite(this.startTime),
            frontier: finite(this.frontier),
            dayFrontier: finite(this.dayFrontier),
            activity: [...this.activity].map(([name, panes]) => [name, [...panes]]),
          },
        ]);
      } else {
        const state = this.skus.get(key.slice(4));
        if (state) state.changed = false;
        changes.push([key, state ? this.serializeSku(state) : null]);
      }
    }
    this.dirty.clear();
    this.metaChanged = false;
    return changes;
  }

  /** A SKU's changelog value; its photo memory keeps only what a signal still to come could match. */
  private serializeSku(state: SkuState): SerializedSku {
    const photos = state.photos?.serialize(this.reachedFrom(), this.settings.repostMemoryMs);
    const budget = state.budget?.serialize(this.firstBudgetPane());
    return serializeSku(state, this.interner, this.scanner, photos, budget);
  }

  restore(key: string, value: unknown): void {
    if (key === 'meta') {
      const meta = value as Record<string, number | null> & {
        activity: Array<[string, Array<[number, ActivityCell]>]>;
      };
      this.activity.clear();
      for (const [name, panes] of meta.activity) this.activity.set(name, new Map(panes));
      this.streamTime = meta.streamTime ?? Number.NEGATIVE_INFINITY;
      this.startTime = meta.startTime ?? Number.NEGATIVE_INFINITY;
      this.frontier = meta.frontier ?? Number.NEGATIVE_INFINITY;
      this.dayFrontier = meta.dayFrontier ?? Number.NEGATIVE_INFINITY;
    } else if (key.startsWith('sku|')) {
      const sku = key.slice(4);
      this.active.delete(sku);
      if (value === null) {
        this.skus.delete(sku);
        return;
      }
      const state = deserializeSku(sku, value as SerializedSku, this.interner);
      state.changed = this.dirty.has(state.key);
      this.skus.set(sku, state);
      if (state.episode || hasPanes(state)) this.activate(sku, state);
    }
  }
}

// ---------------------------------------------------------------------- helpers

/** The activity of everybody but this SKU; at least one unit, so silence never divides by zero. */
type Others = Activity & { uploads: number };

function emptyOthers(): Others {
  return { weighted: 1, varianceScale: 1, uploads: 1 };
}

/** Everybody's activity `all` minus the SKU's own, written into `into`. */
function othersThan(all: ActivityCell, own: SpanMeasures, into: Others): Others {
  const weighted = Math.max(1, all[0] - own.raw);
  const squares = Math.max(1, all[1] - own.squares);
  into.weighted = weighted;
  into.varianceScale = Math.max(1, squares / weighted);
  into.uploads = Math.max(1, all[2] - own.uploads);
  return into;
}

function hasPanes(state: SkuState): boolean {
  for (const scope of state.scopes.values()) if (scope.panes.size > 0) return true;
  return false;
}

function emptyOutputs(): PendingOutputs {
  return { windows: [], alerts: [], late: [], partiallyLate: 0, reposts: 0 };
}

/** Most signals close no window: their drain allocates nothing. */
const NOTHING_EMITTED: TrendOutputs = Object.freeze({
  windows: Object.freeze([]),
  alerts: Object.freeze([]),
  late: Object.freeze([]),
  partiallyLate: 0,
  reposts: 0,
});

function skuKey(sku: string): string {
  return `sku|${sku}`;
}

/**
 * `Date.parse` for event times, with a fast path for the canonical form `toISOString` writes
 * (`YYYY-MM-DDTHH:MM:SS.sssZ`); anything else goes to `Date.parse`.
 */
export function parseTime(text: string): number {
  if (
    text.length === 24 &&
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    text.charCodeAt(10) === 84 &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58 &&
    text.charCodeAt(19) === 46 &&
    text.charCodeAt(23) === 90
  ) {
    const year = digits(text, 0, 4);
    const month = digits(text, 5, 2);
    const day = digits(text, 8, 2);
    const hour = digits(text, 11, 2);
    const minute = digits(text, 14, 2);
    const second = digits(text, 17, 2);
    const ms = digits(text, 20, 3);
    if (
      year >= 100 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth(year, month) &&
      hour >= 0 &&
      hour <= 23 &&
      minute >= 0 &&
      minute <= 59 &&
      second >= 0 &&
      second <= 59 &&
      ms >= 0
    )
      return Date.UTC(year, month - 1, day, hour, minute, second, ms);
  }
  return Date.parse(text);
}

/** The decimal number in text[at, at + n), or -1 if any of it is not a digit. */
function digits(text: string, at: number, n: number): number {
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Window bounds repeat for every SKU closing at the same time: format each instant once. */
const isoCache = new Map<number, string>();
function iso(ms: number): string {
  let text = isoCache.get(ms);
  if (text === undefined) {
    if (isoCache.size > 10_000) isoCache.clear();
    text = new Date(ms).toISOString();
    isoCache.set(ms, text);
  }
  return text;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** `tally` with only the posts that `within` holds. */
function postsOf(tally: Tally, within: Tally): Tally {
  return { ...tally, posts: new Map([...tally.posts].filter(([postId]) => within.posts.has(postId))) };
}

function strongestPhotos(
  tally: Tally,
  cap: number,
  uploadWeight: number,
  limit: number,
): ReorderAlert['photos'] {
  const authors = new Set<string>();
  const images = new Set<string>();
  return (
    [...tally.posts]
      .filter(([, post]) => post.imageUrl !== undefined)
      .map(([postId, post]) => ({
        postId,
        post,
        strength: (post.uploaded ? uploadWeight : 0) + Math.min(cap, post.interactionWeight),
      }))
      .sort(
        (a, b) =>
          b.strength - a.strength ||
          (b.post.matchScore ?? 0) - (a.post.matchScore ?? 0) ||
          a.postId.localeCompare(b.postId),
      )
      // Evidence of many members: one photo per author and per image (a member who reposts one
      // photo six times would otherwise fill every slot).
      .filter(({ post }) => {
        if (authors.has(post.author) || images.has(post.imageUrl!)) return false;
        authors.add(post.author);
        images.add(post.imageUrl!);
        return true;
      })
      .slice(0, limit)
      .map(({ postId, post }) => ({
        postId,
        imageUrl: post.imageUrl!,
        memberId: post.author.startsWith('post:') ? postId : post.author,
        ...(post.matchScore !== undefined ? { matchScore: post.matchScore } : {}),
      }))
  );
}

type SerializedTally = ReturnType<typeof serializePane>;

interface SerializedScope {
  name: string;
  panes: Array<[number, SerializedTally]>;
  days: Array<[number, SerializedTally]>;
  closedThrough: number | null;
  baselineThrough: number | null;
  baselines: ScopeBaselines | null;
  dayBaseline: Baseline | null;
}

interface SerializedSku {
  scopes: SerializedScope[];
  series: ReorderAlert['series'];
  seriesEnd: number | null;
  episode: Episode | null;
  /** Absent in state written before reposts were recognised, and when there is nothing to keep. */
  photos?: SerializedPhotoMemory;
  /** Likewise: absent before member budgets, and when no member has spent any in reach. */
  budget?: SerializedMemberBudget;
}

function restorePanes(
  panes: Array<[number, SerializedTally]>,
  withCountries: boolean,
  interner: Interner,
): PaneSeries {
  const series = new PaneSeries();
  for (const [i, t] of panes) series.insert(i, deserializePane(t, withCountries, interner));
  return series;
}

function serializeSku(
  state: SkuState,
  interner: Interner,
  scanner: SpanScanner,
  photos: SerializedPhotoMemory | undefined,
  budget: SerializedMemberBudget | undefined,
): SerializedSku {
  return {
    scopes: [...state.scopes].map(([name, s]) => ({
      name,
      panes: s.panes.entries().map(([i, t]) => [i, serializePane(t, interner)]),
      days: [...s.days].map(([i, day]) => [i, serializePane(day.settled(scanner), interner)]),
      closedThrough: finite(s.closedThrough),
      baselineThrough: finite(s.baselineThrough),
      baselines: s.baselines,
      dayBaseline: s.dayBaseline,
    })),
    series: state.series,
    seriesEnd: finite(state.seriesEnd),
    episode: state.episode,
    ...(photos && { photos }),
    ...(budget && { budget }),
  };
}

function deserializeSku(sku: string, value: SerializedSku, interner: Interner): SkuState {
  return newSkuState(sku, {
    scopes: new Map(
      value.scopes.map((s) => [
        s.name,
        newScopeState(sku, s.name, {
          panes: restorePanes(s.panes, s.name === GLOBAL, interner),
          days: new Map(s.days.map(([i, t]) => [i, new DayTally(deserializePane(t, false, interner))])),
          closedThrough: s.closedThrough ?? Number.NEGATIVE_INFINITY,
          baselineThrough: s.baselineThrough ?? Number.NEGATIVE_INFINITY,
          baselines: s.baselines,
          dayBaseline: s.dayBaseline,
        }),
      ]),
    ),
    series: value.series,
    seriesEnd: value.seriesEnd ?? Number.NEGATIVE_INFINITY,
    episode: value.episode,
    photos: value.photos ? new PhotoMemory(value.photos) : null,
    budget: value.budget ? new MemberBudget(value.budget) : null,
  });
}

/** A SKU's state from what it keeps; the bookkeeping fields start clear. */
function newSkuState(
  sku: string,
  kept: Pick<SkuState, 'scopes' | 'series' | 'seriesEnd' | 'episode' | 'photos' | 'budget'>,
): SkuState {
  return {
    key: skuKey(sku),
    changed: false,
    active: false,
    scopes: kept.scopes,
    global: null,
    series: kept.series,
    seriesEnd: kept.seriesEnd,
    episode: kept.episode,
    photos: kept.photos,
    budget: kept.budget,
  };
}

/** A scope's state from what it keeps; its id prefix is derived and its day cache starts empty. */
function newScopeState(
  sku: string,
  name: string,
  kept: Pick<
    ScopeState,
    'panes' | 'days' | 'closedThrough' | 'baselineThrough' | 'baselines' | 'dayBaseline'
  >,
): ScopeState {
  return {
    idPrefix: `${sku}|${name}`,
    panes: kept.panes,
    days: kept.days,
    today: null,
    todayIndex: Number.NaN,
    closedThrough: kept.closedThrough,
    baselineThrough: kept.baselineThrough,
    baselines: kept.baselines,
    dayBaseline: kept.dayBaseline,
  };
}
