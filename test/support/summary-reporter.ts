/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, that CI systems which do
 * not parse vitest's own summary can read.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      // A file that failed to load, or whose setup hook failed, must not read as green: its tests
      // that did not pass count as failed, not skipped (they never got the chance to run).
      const moduleFailed = module.state() === 'failed';
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed' || moduleFailed) failedHere++;
        else counts.skipped++;
      }
      counts.failed += moduleFailed ? Math.max(1, failedHere) : failedHere;
    }
    process.stdout.write(
      `\nTests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
    );
  }
}
