/**
 * Compact pane tallies for the hopping windows, and the scan that measures a span of panes without
 * building a merged tally.
 *
 * A window closes with the merge of `size / advance` panes (12 by default), and every SKU and
 * scope closes one window per advance: merging Sets and Maps of strings per close was most of the
 * aggregator's time (allocation and garbage collection). Here members, posts and authors are
 * interned to small integers per partition, a pane keeps them in arrays, and a span (the window,
 * its newest panes, the panes before those) is measured in one pass over its panes with
 * generation-stamped typed arrays: no allocation per close.
 *
 * The measures are exactly those of `evidenceOf(mergeTallies(panes))` in scoring.ts, with the same
 * floating-point operations in the same order (a post's interaction weight is summed pane by pane,
 * uploaders then posts in order of first appearance), so the results are bit-identical; the unit
 * tests check this against the plain merge. The full string tally (countries, photos) is built
 * only when an alert needs it (`paneToTally`).
 */
import { SignalKind } from '../../shared/contracts/events.ts';
import type { TrendSettings } from './config.ts';
import {
  type Evidence,
  emptyTally,
  keepStrongestPhoto,
  type PostTally,
  type SignalFacts,
  type Tally,
} from './scoring.ts';

/** A post as one pane knows it; `id` and `author` are interned ids. */
export interface PanePost {
  id: number;
  author: number;
  interactionWeight: number;
  uploaded: boolean;
  imageUrl?: string;
  matchScore?: number;
}

export interface PaneTally {
  signals: number;
  raw: number;
  squares: number;
  /**
   * The string tally's `byKind`, without a record per pane: the kinds in order of first
   * appearance (packed, see `KINDS`) and a count per kind.
   */
  kindOrder: number;
  kindsSeen: number;
  upload: number;
  like: number;
  save: number;
  wishlist: number;
  share: number;
  comment: number;
  /**
   * Interned member id of every signal, repeats allowed (distinct counts come from the scan) until
   * the list passes `dedupeAt`: then `SpanScanner.dedupe` keeps each id once, so that a pane holds
   * about as many ids as it has distinct members, however many signals a busy product gets.
   */
  members: number[];
  /** Interned member id of every upload signal, as `members`. */
  uploaders: number[];
  dedupeAt: number;
  /** The posts of this pane, in order of first appearance. */
  posts: PanePost[];
  /** Post id → post, once the pane has more posts than a linear search suits. */
  postIndex: Map<number, PanePost> | null;
  /** Signals per country; only for the panes that feed alerts (global scope). */
  countries: Map<string, number> | null;
}

/**
 * Strings (member ids, post ids, `post:<id>` authors) ↔ small integers, per partition. Ids are
 * never reused while referenced; `compact` renumbers what is still referenced when the table has
 * grown (old panes are dropped every advance, so most ids die young).
 */
export class Interner {
  private ids = new Map<string, number>();
  private names: string[] = [];

  get size(): number {
    return this.names.length;
  }

  id(text: string): number {
    let id = this.ids.get(text);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(text);
      this.ids.set(text, id);
    }
    return id;
  }

  name(id: number): string {
    return this.names[id]!;
  }

  /** Renumbers the ids of the given panes (every pane that holds ids must be passed). */
  compact(panes: Iterable<PaneTally>): void {
    const oldNames = this.names;
    this.ids = new Map();
    this.names = [];
    const remap = (id: number) => this.id(oldNames[id]!);
    for (const pane of panes) {
      for (let i = 0; i < pane.members.length; i++) pane.members[i] = remap(pane.members[i]!);
      for (let i = 0; i < pane.uploaders.length; i++) pane.uploaders[i] = remap(pane.uploaders[i]!);
      for (const post of pane.posts) {
        post.id = remap(post.id);
        post.author = remap(post.author);
      }
      if (pane.postIndex) pane.postIndex = indexPosts(pane.posts);
    }
  }
}

export function emptyPane(withCountries: boolean): PaneTally {
  return {
    signals: 0,
    raw: 0,
    squares: 0,
    kindOrder: 0,
    kindsSeen: 0,
    upload: 0,
    like: 0,
    save: 0,
    wishlist: 0,
    share: 0,
    comment: 0,
    members: [],
    uploaders: [],
    dedupeAt: MIN_DEDUPE_AT,
    posts: [],
    postIndex: null,
    countries: withCountries ? new Map() : null,
  };
}

/** Id lists shorter than this are never deduplicated: the scan handles repeats as cheaply. */
const MIN_DEDUPE_AT = 64;

/** Interned ids of one signal, computed once for all the panes it touches. */
export interface SignalIds {
  member: number;
  post: number;
  /** The post's author as this signal tells it (see `authorId`). */
  author: number;
}

/** The author a new post entry starts with: the post's member, else the uploader, else the post itself. */
export function authorId(signal: SignalFacts, member: number, interner: Interner): number {
  if (signal.postMemberId !== undefined) return interner.id(signal.postMemberId);
  return signal.kind === 'upload' ? member : interner.id(`post:${signal.postId}`);
}

/** As `addToTally` (scoring.ts), on a compact pane: countries and photos when the pane has countries. */
export function addToPane(pane: PaneTally, signal: SignalFacts, ids: SignalIds, weight: number): void {
  countSignal(pane, signal, ids, weight);
  let post = findPost(pane, ids.post);
  if (!post) {
    post = newPost(ids.post, ids.author);
    pane.posts.push(post);
    if (pane.postIndex) pane.postIndex.set(post.id, post);
    else if (pane.posts.length > LINEAR_SEARCH_POSTS) pane.postIndex = indexPosts(pane.posts);
  }
  if (signal.kind === 'upload') {
    post.uploaded = true;
    post.author = ids.member;
  } else {
    post.interactionWeight += weight;
  }
  if (pane.countries !== null) keepStrongestPhoto(post, signal.imageUrl, signal.matchScore);
}

/** Everything `addToPane` does but the post entry: counters, kinds, members, uploaders, countries. */
function countSignal(pane: PaneTally, signal: SignalFacts, ids: SignalIds, weight: number): void {
  pane.signals++;
  pane.raw += weight;
  pane.squares += weight * weight;
  countKind(pane, signal.kind, 1);
  pane.members.push(ids.member);
  if (signal.kind === 'upload') pane.uploaders.push(ids.member);
  if (pane.countries) pane.countries.set(signal.country, (pane.countries.get(signal.country) ?? 0) + 1);
}

function newPost(id: number, author: number): PanePost {
  return { id, author, interactionWeight: 0, uploaded: false };
}

/** A post entry's weight that marks an upload (weights are never negative). */
const UPLOAD_ENTRY = -1;

/**
 * A daily tally: a pane (no countries, no photos) whose post entries are appended per signal and
 * folded into `pane.posts` in batches by `SpanScanner.foldPosts`. A day's tally holds thousands of
 * posts, and finding each signal's post in a Map was most of what the daily windows cost; the
 * fold finds them in the scanner's id-indexed arrays. Folded, the pane is exactly what `addToPane`
 * would have built.
 */
export class DayTally {
  /** Signals not yet folded: post id, the author the signal tells (its member for an upload), weight. */
  private entryPosts: number[] = [];
  private entryAuthors: number[] = [];
  private entryWeights: number[] = [];

  constructor(private readonly pane: PaneTally = emptyPane(false)) {
    // Posts are only ever found by the fold, never one by one: a restored pane's index is dead weight.
    pane.postIndex = null;
  }

  add(signal: SignalFacts, ids: SignalIds, weight: number, scanner: SpanScanner): void {
    const pane = this.pane;
    countSignal(pane, signal, ids, weight);
    scanner.dedupeIfDue(pane);
    const upload = signal.kind === 'upload';
    this.entryPosts.push(ids.post);
    this.entryAuthors.push(upload ? ids.member : ids.author);
    this.entryWeights.push(upload ? UPLOAD_ENTRY : weight);
    if (this.entryPosts.length > Math.max(MIN_DEDUPE_AT, pane.posts.length)) this.settled(scanner);
  }

  /** The pane with every entry folded in (before it is measured, written or renumbered). */
  settled(scanner: SpanScanner): PaneTally {
    if (this.entryPosts.length > 0) {
      scanner.foldPosts(this.pane, this.entryPosts, this.entryAuthors, this.entryWeights);
      this.entryPosts.length = 0;
      this.entryAuthors.length = 0;
      this.entryWeights.length = 0;
    }
    return this.pane;
  }
}

const LINEAR_SEARCH_POSTS = 8;

function findPost(pane: PaneTally, id: number): PanePost | undefined {
  if (pane.postIndex) return pane.postIndex.get(id);
  const posts = pane.posts;
  for (let i = 0; i < posts.length; i++) if (posts[i]!.id === id) return posts[i];
  return undefined;
}

function indexPosts(posts: readonly PanePost[]): Map<number, PanePost> {
  return new Map(posts.map((post) => [post.id, post]));
}

/** What a span of panes (a window or part of it) measures: the merged tally's numbers and its evidence. */
export interface SpanMeasures {
  signals: number;
  raw: number;
  squares: number;
  /** Upload signals (byKind.upload of the merge). */
  uploads: number;
  distinctMembers: number;
  distinctUploaders: number;
  /** Distinct uploaders first seen in the span's last pane (the new posters of its newest advance). */
  lastPaneNewUploaders: number;
  evidence: Evidence;
}

export function emptyMeasures(): SpanMeasures {
  return {
    signals: 0,
    raw: 0,
    squares: 0,
    uploads: 0,
    distinctMembers: 0,
    distinctUploaders: 0,
    lastPaneNewUploaders: 0,
    evidence: { weighted: 0, varianceScale: 1, distinctSources: 0, topSourceShare: 0 },
  };
}

/**
 * Measures spans of panes with reusable typed arrays indexed by interned id. One instance per
 * partition; not reentrant (a measure is complete when `measure` returns).
 */
export class SpanScanner {
  private capacity = 0;
  private generation = 0;
  private memberSeen = new Int32Array(0);
  private uploaderSeen = new Int32Array(0);
  private postSeen = new Int32Array(0);
  private sourceSeen = new Int32Array(0);
  private postWeight = new Float64Array(0);
  private postAuthor = new Int32Array(0);
  private postSlot = new Int32Array(0);
  private sourceAmount = new Float64Array(0);
  private postOrder = new Int32Array(0);
  private uploaderOrder = new Int32Array(0);
  private sourceOrder = new Int32Array(0);
  private orderCapacity = 0;
  private readonly small = new SmallWindow();

  constructor(private readonly interner: Interner) {}

  private ensure(ids: number, entries: number): void {
    if (ids > this.capacity) {
      let capacity = Math.max(1024, this.capacity);
      while (capacity < ids) capacity *= 2;
      const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
        const next = make(capacity);
        next.set(old);
        return next;
      };
      const ints = (n: number) => new Int32Array(n);
      const floats = (n: number) => new Float64Array(n);
      this.memberSeen = grow(this.memberSeen, ints);
      this.uploaderSeen = grow(this.uploaderSeen, ints);
      this.postSeen = grow(this.postSeen, ints);
      this.sourceSeen = grow(this.sourceSeen, ints);
      this.postWeight = grow(this.postWeight, floats);
      this.postAuthor = grow(this.postAuthor, ints);
      this.postSlot = grow(this.postSlot, ints);
      this.sourceAmount = grow(this.sourceAmount, floats);
      this.capacity = capacity;
    }
    if (entries > this.orderCapacity) {
      let capacity = Math.max(256, this.orderCapacity);
      while (capacity < entries) capacity *= 2;
      this.postOrder = new Int32Array(capacity);
      this.uploaderOrder = new Int32Array(capacity);
      this.sourceOrder = new Int32Array(capacity);
      this.orderCapacity = capacity;
    }
  }

  private nextGeneration(): number {
    if (this.generation >= 0x7fffffff) {
      this.generation = 0;
      this.memberSeen.fill(0);
      this.uploaderSeen.fill(0);
      this.postSeen.fill(0);
      this.sourceSeen.fill(0);
    }
    return ++this.generation;
  }

  /**
   * Keeps each member and uploader id of the pane once, in order of first appearance (the order
   * the scan would have met them in, so its results do not change). The next time is when the
   * list has doubled again: amortised constant time per signal.
   */
  dedupe(pane: PaneTally): void {
    this.ensure(this.interner.size, 0);
    const g = this.nextGeneration();
    keepFirstOfEach(pane.members, this.memberSeen, g);
    keepFirstOfEach(pane.uploaders, this.uploaderSeen, g);
    pane.dedupeAt = Math.max(MIN_DEDUPE_AT, 2 * pane.members.length);
  }

  /** `dedupe` once the pane's member list has passed its `dedupeAt`. */
  dedupeIfDue(pane: PaneTally): void {
    if (pane.members.length > pane.dedupeAt) this.dedupe(pane);
  }

  /**
   * Folds post entries (see `DayTally`) into the pane's posts, in order: each as `addToPane`
   * would have added it (a new post takes the entry's author; an upload marks the post uploaded and
   * makes its member the author; any other signal adds its weight).
   */
  foldPosts(
    pane: PaneTally,
    ids: readonly number[],
    authors: readonly number[],
    weights: readonly number[],
  ): void {
    this.ensure(this.interner.size, 0);
    const g = this.nextGeneration();
    const { postSeen, postSlot } = this;
    const posts = pane.posts;
    for (let k = 0; k < posts.length; k++) {
      const id = posts[k]!.id;
      postSeen[id] = g;
      postSlot[id] = k;
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      let post: PanePost;
      if (postSeen[id] === g) post = posts[postSlot[id]!]!;
      else {
        post = newPost(id, authors[i]!);
        postSeen[id] = g;
        postSlot[id] = posts.length;
        posts.push(post);
      }
      const weight = weights[i]!;
      if (weight === UPLOAD_ENTRY) {
        post.uploaded = true;
        post.author = authors[i]!;
      } else post.interactionWeight += weight;
    }
  }

  /**
   * The measures of the merge of `panes[from, to)` (in pane order), written into `into`: identical
   * to `mergeTallies` then `evidenceOf` on the equivalent string tallies.
   */
  measure(
    panes: readonly PaneTally[],
    settings: TrendSettings,
    into: SpanMeasures,
    from = 0,
    to = panes.length,
  ): SpanMeasures {
    if (from >= to) return noMeasures(into);
    let entries = 0;
    for (let p = from; p < to; p++) entries += panes[p]!.posts.length + panes[p]!.uploaders.length;
    this.ensure(this.interner.size, entries);
    const g = this.nextGeneration();
    const { memberSeen, uploaderSeen, postSeen, sourceSeen, postWeight, postAuthor, sourceAmount } = this;
    const postOrder = this.postOrder;
    const uploaderOrder = this.uploaderOrder;
    const sourceOrder = this.sourceOrder;
    sumPanes(panes, from, to, into);
    let distinctMembers = 0;
    let distinctUploaders = 0;
    let posts = 0;
    let uploadersBeforeLast = 0;
    for (let p = from; p < to; p++) {
      const pane = panes[p]!;
      uploadersBeforeLast = distinctUploaders;
      const members = pane.members;
      for (let i = 0; i < members.length; i++) {
        const m = members[i]!;
        if (memberSeen[m] !== g) {
          memberSeen[m] = g;
          distinctMembers++;
        }
      }
      const uploaders = pane.uploaders;
      for (let i = 0; i < uploaders.length; i++) {
        const u = uploaders[i]!;
        if (uploaderSeen[u] !== g) {
          uploaderSeen[u] = g;
          uploaderOrder[distinctUploaders++] = u;
        }
      }
      const panePosts = pane.posts;
      for (let i = 0; i < panePosts.length; i++) {
        const post = panePosts[i]!;
        const postId = post.id;
        if (postSeen[postId] !== g) {
          postSeen[postId] = g;
          postOrder[posts++] = postId;
          postWeight[postId] = post.interactionWeight;
          postAuthor[postId] = post.author;
        } else {
          postWeight[postId] = postWeight[postId]! + post.interactionWeight;
          if (post.uploaded) postAuthor[postId] = post.author;
        }
      }
    }
    // evidenceOf: uploaders, then posts, in order of first appearance.
    const uploadWeight = settings.weights.upload;
    const cap = settings.postInteractionCap;
    let weighted = 0;
    let sources = 0;
    for (let i = 0; i < distinctUploaders; i++) {
      const u = uploaderOrder[i]!;
      weighted += uploadWeight;
      if (sourceSeen[u] !== g) {
        sourceSeen[u] = g;
        sourceAmount[u] = 0 + uploadWeight;
        sourceOrder[sources++] = u;
      } else sourceAmount[u] = sourceAmount[u]! + uploadWeight;
    }
    for (let i = 0; i < posts; i++) {
      const postId = postOrder[i]!;
      const amount = Math.min(postWeight[postId]!, cap);
      if (amount <= 0) continue;
      weighted += amount;
      const author = postAuthor[postId]!;
      if (sourceSeen[author] !== g) {
        sourceSeen[author] = g;
        sourceAmount[author] = 0 + amount;
        sourceOrder[sources++] = author;
      } else sourceAmount[author] = sourceAmount[author]! + amount;
    }
    let top = 0;
    let evidenceSquares = 0;
    for (let i = 0; i < sources; i++) {
      const v = sourceAmount[sourceOrder[i]!]!;
      if (v > top) top = v;
      evidenceSquares += v * v;
    }
    into.distinctMembers = distinctMembers;
    into.distinctUploaders = distinctUploaders;
    into.lastPaneNewUploaders = distinctUploaders - uploadersBeforeLast;
    setEvidence(into.evidence, weighted, evidenceSquares, sources, top);
    return into;
  }

  /**
   * A window close's three spans at once: the window `panes[from, to)`, its newest panes
   * `[recentFrom, to)` and the ones before those `[beforeFrom, recentFrom)`. Most windows (a
   * product in one country) hold a handful of ids: those are copied once into small scratch
   * arrays and deduplicated there, which stays in the CPU cache, where the id-indexed arrays of
   * `measure` miss it on every id. Larger windows take `measure`. Results are identical either way.
   */
  measureWindow(
    panes: readonly PaneTally[],
    from: number,
    beforeFrom: number,
    recentFrom: number,
    to: number,
    settings: TrendSettings,
    window: SpanMeasures,
    recent: SpanMeasures,
    before: SpanMeasures,
  ): void {
    const small = this.small;
    if (!small.gather(panes, from, to)) {
      this.measure(panes, settings, window, from, to);
      this.measure(panes, settings, recent, recentFrom, to);
      this.measure(panes, settings, before, beforeFrom, recentFrom);
      return;
    }
    small.measure(panes, from, from, to, settings, window);
    small.measure(panes, from, recentFrom, to, settings, recent);
    small.measure(panes, from, beforeFrom, recentFrom, settings, before);
  }
}

/** Ids a window may hold, per list, to be measured in scratch arrays (`SpanScanner.measureWindow`). */
const SMALL_WINDOW_IDS = 48;

/**
 * The members, uploaders and posts of a small window, copied in pane order, with where each pane's
 * entries start: a span of panes is then a contiguous range of entries. Distinct ids are found by
 * a linear search back over the range, in the order `SpanScanner.measure` meets them.
 */
class SmallWindow {
  private readonly members = new Int32Array(SMALL_WINDOW_IDS);
  private readonly uploaders = new Int32Array(SMALL_WINDOW_IDS);
  private readonly postIds = new Int32Array(SMALL_WINDOW_IDS);
  private readonly postAuthors = new Int32Array(SMALL_WINDOW_IDS);
  private readonly postWeights = new Float64Array(SMALL_WINDOW_IDS);
  private readonly postUploaded = new Uint8Array(SMALL_WINDOW_IDS);
  /** Per pane of the window (offset from its first), and one past its last: where its entries start. */
  private memberStart = new Int32Array(32);
  private uploaderStart = new Int32Array(32);
  private postStart = new Int32Array(32);
  /** Per distinct post of the span measured: its first entry, summed weight and author. */
  private readonly slotEntry = new Int32Array(SMALL_WINDOW_IDS);
  private readonly slotWeight = new Float64Array(SMALL_WINDOW_IDS);
  private readonly slotAuthor = new Int32Array(SMALL_WINDOW_IDS);
  private readonly distinctUploaders = new Int32Array(SMALL_WINDOW_IDS);
  /** Evidence sources: an uploader, or a post's author (at most one per uploader and per post). */
  private readonly sources = new Int32Array(2 * SMALL_WINDOW_IDS);
  private readonly sourceAmounts = new Float64Array(2 * SMALL_WINDOW_IDS);

  /** Copies the window's ids; false (nothing copied) when a list is too long for this path. */
  gather(panes: readonly PaneTally[], from: number, to: number): boolean {
    let members = 0;
    let uploaders = 0;
    let posts = 0;
    for (let p = from; p < to; p++) {
      const pane = panes[p]!;
      members += pane.members.length;
      uploaders += pane.uploaders.length;
      posts += pane.posts.length;
    }
    if (members > SMALL_WINDOW_IDS || uploaders > SMALL_WINDOW_IDS || posts > SMALL_WINDOW_IDS) return false;
    if (to - from + 1 > this.memberStart.length) {
      const length = 2 * (to - from + 1);
      this.memberStart = new Int32Array(length);
      this.uploaderStart = new Int32Array(length);
      this.postStart = new Int32Array(length);
    }
    members = 0;
    uploaders = 0;
    posts = 0;
    for (let p = from; p < to; p++) {
      const pane = panes[p]!;
      const at = p - from;
      this.memberStart[at] = members;
      this.uploaderStart[at] = uploaders;
      this.postStart[at] = posts;
      const paneMembers = pane.members;
      for (let i = 0; i < paneMembers.length; i++) this.members[members++] = paneMembers[i]!;
      const paneUploaders = pane.uploaders;
      for (let i = 0; i < paneUploaders.length; i++) this.uploaders[uploaders++] = paneUploaders[i]!;
      const panePosts = pane.posts;
      for (let i = 0; i < panePosts.length; i++) {
        const post = panePosts[i]!;
        this.postIds[posts] = post.id;
        this.postAuthors[posts] = post.author;
        this.postWeights[posts] = post.interactionWeight;
        this.postUploaded[posts] = post.uploaded ? 1 : 0;
        posts++;
      }
    }
    const end = to - from;
    this.memberStart[end] = members;
    this.uploaderStart[end] = uploaders;
    this.postStart[end] = posts;
    return true;
  }

  /** `SpanScanner.measure` of `panes[spanFrom, spanTo)`, on ids gathered from `windowFrom` on. */
  measure(
    panes: readonly PaneTally[],
    windowFrom: number,
    spanFrom: number,
    spanTo: number,
    settings: TrendSettings,
    into: SpanMeasures,
  ): SpanMeasures {
    if (spanFrom >= spanTo) return noMeasures(into);
    sumPanes(panes, spanFrom, spanTo, into);
    const first = spanFrom - windowFrom;
    const last = spanTo - windowFrom;
    const ids = this.members;
    let distinctMembers = 0;
    for (let i = this.memberStart[first]!, start = i, end = this.memberStart[last]!; i < end; i++) {
      if (!occursIn(ids, start, i, ids[i]!)) distinctMembers++;
    }
    const uploaderIds = this.uploaders;
    const distinct = this.distinctUploaders;
    let distinctUploaders = 0;
    let uploadersBeforeLast = 0;
    const lastPaneUploaders = this.uploaderStart[last - 1]!;
    for (let i = this.uploaderStart[first]!, end = this.uploaderStart[last]!; i < end; i++) {
      if (i === lastPaneUploaders) uploadersBeforeLast = distinctUploaders;
      const u = uploaderIds[i]!;
      if (!occursIn(distinct, 0, distinctUploaders, u)) distinct[distinctUploaders++] = u;
    }
    if (lastPaneUploaders === this.uploaderStart[last]!) uploadersBeforeLast = distinctUploaders;
    // Posts: weights summed pane by pane, the author of an upload entry winning, first appearance order.
    const postIds = this.postIds;
    let posts = 0;
    for (let i = this.postStart[first]!, end = this.postStart[last]!; i < end; i++) {
      const id = postIds[i]!;
      let slot = 0;
      while (slot < posts && postIds[this.slotEntry[slot]!] !== id) slot++;
      if (slot === posts) {
        this.slotEntry[posts] = i;
        this.slotWeight[posts] = this.postWeights[i]!;
        this.slotAuthor[posts] = this.postAuthors[i]!;
        posts++;
      } else {
        this.slotWeight[slot] = this.slotWeight[slot]! + this.postWeights[i]!;
        if (this.postUploaded[i] === 1) this.slotAuthor[slot] = this.postAuthors[i]!;
      }
    }
    const uploadWeight = settings.weights.upload;
    const cap = settings.postInteractionCap;
    let weighted = 0;
    let sources = 0;
    for (let i = 0; i < distinctUploaders; i++) {
      weighted += uploadWeight;
      sources = this.addToSource(sources, distinct[i]!, uploadWeight);
    }
    for (let slot = 0; slot < posts; slot++) {
      const amount = Math.min(this.slotWeight[slot]!, cap);
      if (amount <= 0) continue;
      weighted += amount;
      sources = this.addToSource(sources, this.slotAuthor[slot]!, amount);
    }
    let top = 0;
    let evidenceSquares = 0;
    for (let i = 0; i < sources; i++) {
      const v = this.sourceAmounts[i]!;
      if (v > top) top = v;
      evidenceSquares += v * v;
    }
    into.distinctMembers = distinctMembers;
    into.distinctUploaders = distinctUploaders;
    into.lastPaneNewUploaders = distinctUploaders - uploadersBeforeLast;
    setEvidence(into.evidence, weighted, evidenceSquares, sources, top);
    return into;
  }

  /** Adds `amount` to source `id` (a new one at the end); returns the number of sources. */
  private addToSource(sources: number, id: number, amount: number): number {
    for (let i = 0; i < sources; i++) {
      if (this.sources[i] === id) {
        this.sourceAmounts[i] = this.sourceAmounts[i]! + amount;
        return sources;
      }
    }
    this.sources[sources] = id;
    this.sourceAmounts[sources] = 0 + amount;
    return sources + 1;
  }
}

/** The counters of `panes[from, to)` added up in pane order (signals, weight, its squares, uploads). */
function sumPanes(panes: readonly PaneTally[], from: number, to: number, into: SpanMeasures): void {
  let signals = 0;
  let raw = 0;
  let squares = 0;
  let uploads = 0;
  for (let p = from; p < to; p++) {
    const pane = panes[p]!;
    signals += pane.signals;
    raw += pane.raw;
    squares += pane.squares;
    uploads += pane.upload;
  }
  into.signals = signals;
  into.raw = raw;
  into.squares = squares;
  into.uploads = uploads;
}

/** `evidenceOf`'s result from the damped weights' sum, their squares, the sources and the top one. */
function setEvidence(
  evidence: Evidence,
  weighted: number,
  squares: number,
  sources: number,
  top: number,
): void {
  evidence.weighted = weighted;
  evidence.varianceScale = weighted > 0 ? Math.max(1, squares / weighted) : 1;
  evidence.distinctSources = sources;
  evidence.topSourceShare = weighted > 0 ? top / weighted : 0;
}

/** Whether `id` is in `ids[from, to)`. */
function occursIn(ids: Int32Array, from: number, to: number, id: number): boolean {
  for (let i = from; i < to; i++) if (ids[i] === id) return true;
  return false;
}

/** Keeps the first of each id in `ids`, in place; `seen` is stamped with generation `g`. */
function keepFirstOfEach(ids: number[], seen: Int32Array, g: number): void {
  let kept = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (seen[id] === g) continue;
    seen[id] = g;
    ids[kept++] = id;
  }
  ids.length = kept;
}

/** The signal kinds, each with a count field on a pane; a pane packs its order of first appearance. */
const KINDS = SignalKind.options;
type KindTally = Record<SignalKind, number> & { kindOrder: number; kindsSeen: number };
/** Bits per kind in a packed order (kind index + 1); six kinds fit a small integer. */
const KIND_BITS = 3;
const KIND_MASK = (1 << KIND_BITS) - 1;

function kindIndex(kind: string): number {
  const index = (KINDS as readonly string[]).indexOf(kind);
  if (index < 0) throw new Error(`unknown signal kind ${JSON.stringify(kind)}`);
  return index;
}

/** Adds `n` signals of `kind`, noting its first appearance. */
function countKind(pane: KindTally, kind: SignalKind, n: number): void {
  const before = pane[kind];
  pane[kind] = before + n;
  if (before === 0 && !hasKind(pane.kindOrder, pane.kindsSeen, kindIndex(kind))) {
    pane.kindOrder |= (kindIndex(kind) + 1) << (KIND_BITS * pane.kindsSeen);
    pane.kindsSeen++;
  }
}

function hasKind(order: number, seen: number, index: number): boolean {
  for (let j = 0; j < seen; j++) if (((order >> (KIND_BITS * j)) & KIND_MASK) === index + 1) return true;
  return false;
}

function countOf(pane: KindTally, index: number): number {
  switch (index) {
    case 0:
      return pane.upload;
    case 1:
      return pane.like;
    case 2:
      return pane.save;
    case 3:
      return pane.wishlist;
    case 4:
      return pane.share;
    default:
      return pane.comment;
  }
}

/** One `byKind` record shape per order of kinds: cloned, then its values set. */
const byKindTemplates = new Map<number, Record<string, number>>();

function byKindRecord(order: number, seen: number, counts: ArrayLike<number>): Record<string, number> {
  let template = byKindTemplates.get(order);
  if (!template) {
    template = {};
    for (let j = 0; j < seen; j++) template[KINDS[((order >> (KIND_BITS * j)) & KIND_MASK) - 1]!] = 0;
    byKindTemplates.set(order, template);
  }
  const record = { ...template };
  for (let j = 0; j < seen; j++) {
    const index = ((order >> (KIND_BITS * j)) & KIND_MASK) - 1;
    record[KINDS[index]!] = counts[index]!;
  }
  return record;
}

const mergedCounts = new Float64Array(KINDS.length);

/** The measures of an empty span (what `measure` computes for no panes). */
function noMeasures(into: SpanMeasures): SpanMeasures {
  into.signals = 0;
  into.raw = 0;
  into.squares = 0;
  into.uploads = 0;
  into.distinctMembers = 0;
  into.distinctUploaders = 0;
  into.lastPaneNewUploaders = 0;
  setEvidence(into.evidence, 0, 0, 0, 0);
  return into;
}

/** The merged counts by kind of `panes[from, to)`, keys in order of first appearance (as `mergeTallies` gives them). */
export function mergedByKind(
  panes: readonly PaneTally[],
  from = 0,
  to = panes.length,
): Record<string, number> {
  mergedCounts.fill(0);
  let order = 0;
  let seen = 0;
  let seenKinds = 0;
  for (let p = from; p < to; p++) {
    const pane = panes[p]!;
    let paneOrder = pane.kindOrder;
    for (let j = 0; j < pane.kindsSeen; j++, paneOrder >>= KIND_BITS) {
      const index = (paneOrder & KIND_MASK) - 1;
      if ((seenKinds & (1 << index)) === 0) {
        seenKinds |= 1 << index;
        order |= (index + 1) << (KIND_BITS * seen);
        seen++;
      }
      mergedCounts[index] = mergedCounts[index]! + countOf(pane, index);
    }
  }
  return byKindRecord(order, seen, mergedCounts);
}

/** A new `byKind` record of one pane, keys in order of first appearance. */
export function byKindOf(pane: PaneTally): Record<string, number> {
  return mergedByKind([pane]);
}

/** A compact pane as the string tally `addToTally` would have built (members deduplicated in order). */
export function paneToTally(pane: PaneTally, interner: Interner): Tally {
  const tally = emptyTally();
  tally.signals = pane.signals;
  tally.raw = pane.raw;
  tally.squares = pane.squares;
  tally.byKind = byKindOf(pane);
  for (const m of pane.members) tally.members.add(interner.name(m));
  for (const u of pane.uploaders) tally.uploaders.add(interner.name(u));
  for (const post of pane.posts) tally.posts.set(interner.name(post.id), postToTally(post, interner));
  if (pane.countries) for (const [c, n] of pane.countries) tally.countries.set(c, n);
  return tally;
}

function postToTally(post: PanePost, interner: Interner): PostTally {
  const out: PostTally = {
    author: interner.name(post.author),
    interactionWeight: post.interactionWeight,
    uploaded: post.uploaded,
  };
  if (post.imageUrl !== undefined) out.imageUrl = post.imageUrl;
  if (post.matchScore !== undefined) out.matchScore = post.matchScore;
  return out;
}

/** The changelog form of a pane: the string tally's, member and uploader lists deduplicated. */
export function serializePane(
  pane: PaneTally,
  interner: Interner,
): {
  n: number;
  r: number;
  q: number;
  k: Record<string, number>;
  m: string[];
  u: string[];
  p: Array<[string, PostTally]>;
  c: Array<[string, number]>;
} {
  return {
    n: pane.signals,
    r: pane.raw,
    q: pane.squares,
    k: byKindOf(pane),
    m: distinctNames(pane.members, interner),
    u: distinctNames(pane.uploaders, interner),
    p: pane.posts.map((post) => [interner.name(post.id), postToTally(post, interner)]),
    c: pane.countries ? [...pane.countries] : [],
  };
}

function distinctNames(ids: readonly number[], interner: Interner): string[] {
  return [...new Set(ids)].map((id) => interner.name(id));
}

export function deserializePane(
  t: {
    n: number;
    r: number;
    q: number;
    k: Record<string, number>;
    m: string[];
    u: string[];
    p: Array<[string, PostTally]>;
    c: Array<[string, number]>;
  },
  withCountries: boolean,
  interner: Interner,
): PaneTally {
  const posts: PanePost[] = [];
  for (const [postId, p] of t.p) {
    const post: PanePost = {
      id: interner.id(postId),
      author: interner.id(p.author),
      interactionWeight: p.interactionWeight,
      uploaded: p.uploaded,
    };
    if (p.imageUrl !== undefined) post.imageUrl = p.imageUrl;
    if (p.matchScore !== undefined) post.matchScore = p.matchScore;
    posts.push(post);
  }
  const pane: PaneTally = {
    ...emptyPane(false),
    signals: t.n,
    raw: t.r,
    squares: t.q,
    members: t.m.map((m) => interner.id(m)),
    uploaders: t.u.map((u) => interner.id(u)),
    posts,
    postIndex: posts.length > LINEAR_SEARCH_POSTS ? indexPosts(posts) : null,
    countries: withCountries ? new Map(t.c) : null,
  };
  for (const kind in t.k) countKind(pane, KINDS[kindIndex(kind)]!, t.k[kind]!);
  return pane;
}

/**
 * The hopping panes of one SKU and scope, sorted by pane index (a window and its grace: a dozen or
 * so), in plain arrays: cheaper to scan than a Map when every advance visits them all. The order
 * of creation is kept for the changelog (as a Map's insertion order would give it).
 */
export class PaneSeries {
  readonly indices: number[] = [];
  readonly panes: PaneTally[] = [];
  private readonly created: number[] = [];
  private next = 0;
  /**
   * The pane last found or inserted: the one a stream in event-time order keeps adding to. Held on
   * the series itself, so that finding it again reads no array.
   */
  private hitIndex = Number.NaN;
  private hitPane: PaneTally | undefined = undefined;

  get size(): number {
    return this.indices.length;
  }

  get(index: number): PaneTally | undefined {
    if (index === this.hitIndex) return this.hitPane;
    const indices = this.indices;
    for (let i = indices.length - 1; i >= 0; i--) {
      const at = indices[i]!;
      if (at === index) {
        this.hitIndex = index;
        this.hitPane = this.panes[i];
        return this.hitPane;
      }
      if (at < index) return undefined;
    }
    return undefined;
  }

  /** Adds a pane for an index not yet present. */
  insert(index: number, pane: PaneTally): void {
    this.hitIndex = index;
    this.hitPane = pane;
    const indices = this.indices;
    let i = indices.length;
    while (i > 0 && indices[i - 1]! > index) i--;
    if (i === indices.length) {
      indices.push(index);
      this.panes.push(pane);
      this.created.push(this.next++);
    } else {
      indices.splice(i, 0, index);
      this.panes.splice(i, 0, pane);
      this.created.splice(i, 0, this.next++);
    }
  }

  /** Drops the panes before `index`. */
  dropBefore(index: number): void {
    let n = 0;
    while (n < this.indices.length && this.indices[n]! < index) n++;
    if (n === 0) return;
    if (this.hitIndex < index) {
      this.hitIndex = Number.NaN;
      this.hitPane = undefined;
    }
    this.indices.splice(0, n);
    this.panes.splice(0, n);
    this.created.splice(0, n);
  }

  /** [index, pane] in order of creation. */
  entries(): Array<[number, PaneTally]> {
    const order = this.indices.map((_, i) => i).sort((a, b) => this.created[a]! - this.created[b]!);
    return order.map((i) => [this.indices[i]!, this.panes[i]!]);
  }
}
