/**
 * What `reindex` says when it is interrupted, and when it refuses a group with live members: a
 * member a reindex left behind (killed, still listed until its session times out) is told from a
 * running indexer by its client id. The real-broker counterpart, with SIGTERM sent to the CLI, is
 * test/integration/indexer/reindex-interrupt.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { interruptedMessage, SIGNAL_EXIT_CODES } from '../../../services/indexer/commands.ts';
import {
  liveMembersRefusal,
  REINDEX_CLIENT_ID_SUFFIX,
  ReindexInterrupted,
} from '../../../services/indexer/reindex.ts';

const what = 'the trendradar indices of uploads, mentions';

describe('reindex interrupted', () => {
  it('exits as shells expect of a process ended by the signal', () => {
    expect(SIGNAL_EXIT_CODES).toEqual({ SIGINT: 130, SIGTERM: 143 });
  });

  it('says the indices are partial and that reindex rebuilds them, once it has touched them', () => {
    const error = new ReindexInterrupted('SIGINT', true, 'trendradar.indexer');
    expect(interruptedMessage(error, what)).toBe(
      'reindex interrupted (SIGINT): stopped consuming, abandoned the bulk request in flight and left group ' +
        'trendradar.indexer; the trendradar indices of uploads, mentions are PARTIAL (deleted, not fully rebuilt). ' +
        'Run `trend-radar reindex` again to rebuild them.',
    );
    expect(interruptedMessage(new ReindexInterrupted('SIGTERM', false, 'g'), what)).toBe(
      'reindex interrupted (SIGTERM) before any index was deleted: nothing changed.',
    );
    expect(
      interruptedMessage(
        { reason: 'SIGTERM', indicesTouched: true, groupId: 'g', stopFailed: 'broker gone' },
        what,
      ),
    ).toMatch(
      /^reindex interrupted \(SIGTERM\), and stopping failed: broker gone\. The trendradar indices .* may be PARTIAL, .*session times out/,
    );
  });
});

describe('reindex refused for live members', () => {
  const member = (clientId: string) => ({ clientId, clientHost: '/10.0.0.7' });

  it("names a reindex's leftover member and the session timeout", () => {
    expect(liveMembersRefusal('trendradar.indexer', [member(`trendradar${REINDEX_CLIENT_ID_SUFFIX}`)])).toBe(
      'consumer group trendradar.indexer has 1 live member(s) from a reindex (trendradar-reindex on 10.0.0.7): ' +
        'another reindex is running, or one that was killed without stopping (SIGKILL, a crash) is still listed ' +
        'until its session times out (up to 30 s). If no reindex runs, retry in 30 s.',
    );
  });

  it('asks to stop the indexers when any member is not a reindex, and says a killed one lingers', () => {
    const refusal = liveMembersRefusal('trendradar.indexer', [
      member('trendradar'),
      member('trendradar'),
      member('trendradar-reindex'),
    ]);
    expect(refusal).toMatch(
      /^consumer group trendradar\.indexer has 3 live member\(s\) \(trendradar on 10\.0\.0\.7, trendradar-reindex on 10\.0\.0\.7\): stop the running indexers before reindexing\./,
    );
    expect(refusal).toMatch(
      /just killed .* stays listed until its session times out \(up to 30 s\): if none runs, retry shortly/,
    );
  });
});
