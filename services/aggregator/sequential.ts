/**
 * The sequential sub-test: Page's CUSUM on the distinct members who post a SKU, advance by
 * advance. The window tests look at one hour (or its newest panes) at a time, so a product that
 * climbs steadily must first fill a whole window with the new rate before they see it; CUSUM keeps
 * the evidence of every advance since the climb began and is the fastest detector of a change of
 * rate for a given false-alarm rate (Lorden). Pure, no I/O.
 *
 * For Poisson counts with usual mean μ per advance, the log-likelihood ratio of "the rate is
 * `growth` times usual" against "usual" for a count k is k·ln(growth) − μ·(growth − 1). The
 * statistic S ← max(0, S + that) stays near 0 while the product is as usual and climbs steadily
 * once it is not; the test passes when S reaches the threshold h. Under the usual rate, a false
 * alarm comes about once every e^h advances per SKU and scope.
 */

export interface SequentialSettings {
  /** The change the test is tuned for: the rate multiplied by this (e.g. 3, "tripled"). */
  growth: number;
  /** Alarm threshold h on the statistic, in nats. */
  threshold: number;
}

/** The statistic after one advance in which `observed` new members posted against `expected`. */
export function cusumStep(
  statistic: number,
  observed: number,
  expected: number,
  settings: SequentialSettings,
): number {
  const { growth } = settings;
  return Math.max(0, statistic + observed * Math.log(growth) - expected * (growth - 1));
}

/** The statistic after `advances` advances with nothing observed. */
export function cusumQuiet(
  statistic: number,
  advances: number,
  expected: number,
  settings: SequentialSettings,
): number {
  return Math.max(0, statistic - advances * expected * (settings.growth - 1));
}

export function cusumPasses(statistic: number, settings: SequentialSettings): boolean {
  return statistic >= settings.threshold;
}

const RHYTHM_BOUNDS = [0.5, 3] as const;

/**
 * How busy a scope is now against its usual, from everybody else's engagement there (plentiful,
 * unlike uploads): the daily rhythm of a region, without assuming a calendar. Bounded so that one
 * quiet or frantic window cannot swing a product's expectation by more than a factor of five.
 */
export function rhythmOf(othersNow: number, othersUsual: number): number {
  return Math.min(RHYTHM_BOUNDS[1], Math.max(RHYTHM_BOUNDS[0], othersNow / Math.max(1, othersUsual)));
}
