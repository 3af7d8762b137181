import { describe, expect, it } from 'vitest';
import {
  ChangelogReader,
  type ChangelogRecord,
  ChangelogWriter,
  PARTS_HEADER,
} from '../../../services/aggregator/changelog-parts.ts';

const MAX = 100;

/** What compaction leaves: each key's latest record, in the order of those records' offsets. */
function compacted(log: ChangelogRecord[]): ChangelogRecord[] {
  const latest = new Map<string, number>();
  for (const [offset, record] of log.entries()) latest.set(record.key, offset);
  return log.filter((record, offset) => latest.get(record.key) === offset);
}

/** Restores the latest state per key from a changelog, as the stage does. */
function restore(log: ChangelogRecord[]): { state: Map<string, unknown>; writer: ChangelogWriter } {
  const reader = new ChangelogReader();
  const writer = new ChangelogWriter(MAX);
  const state = new Map<string, unknown>();
  for (const record of log) {
    const header = record.headers?.[PARTS_HEADER];
    const read = reader.read(record.key, record.value, header === undefined ? undefined : String(header));
    if (!read) continue;
    if (read.value === null) state.delete(read.key);
    else state.set(read.key, read.value);
    writer.remember(read.key, read.parts);
  }
  return { state, writer };
}

const sized = (bytes: number, mark = 'x') => ({ members: mark.repeat(bytes) });

describe('changelog parts', () => {
  it('writes a value that fits as one plain record, byte for byte the JSON of the state', () => {
    const records = new ChangelogWriter(MAX).encode('sku|A', { n: 1 });
    expect(records).toEqual([{ key: 'sku|A', value: Buffer.from('{"n":1}') }]);
  });

  it('splits a value over the limit into parts, then a head naming how many, and reads it back', () => {
    const value = sized(350);
    const records = new ChangelogWriter(MAX).encode('sku|A', value);
    expect(records.map((r) => r.key)).toEqual([
      '~part|0|sku|A',
      '~part|1|sku|A',
      '~part|2|sku|A',
      '~part|3|sku|A',
      'sku|A',
    ]);
    expect(records.slice(0, 4).every((r) => r.value!.length <= MAX)).toBe(true);
    expect(records[4]).toEqual({ key: 'sku|A', value: Buffer.alloc(0), headers: { [PARTS_HEADER]: '4' } });
    expect(restore(records).state.get('sku|A')).toEqual(value);
  });

  it('reassembles text whose characters straddle the cut between two parts', () => {
    const value = { name: 'été à Zürich 東京 🌸'.repeat(20) };
    const records = new ChangelogWriter(MAX).encode('sku|B', value);
    expect(records.length).toBeGreaterThan(3);
    expect(restore(records).state.get('sku|B')).toEqual(value);
  });

  it('deletes the parts a smaller value no longer uses, and all of them when the key goes', () => {
    const writer = new ChangelogWriter(MAX);
    writer.encode('sku|A', sized(350)); // 4 parts
    const shrunk = writer.encode('sku|A', sized(150)); // 2 parts
    expect(shrunk.filter((r) => r.value === null).map((r) => r.key)).toEqual([
      '~part|2|sku|A',
      '~part|3|sku|A',
    ]);
    const small = writer.encode('sku|A', { n: 1 });
    expect(small).toEqual([
      { key: 'sku|A', value: Buffer.from('{"n":1}') },
      { key: '~part|0|sku|A', value: null },
      { key: '~part|1|sku|A', value: null },
    ]);
    writer.encode('sku|A', sized(250)); // 3 parts again
    expect(writer.encode('sku|A', null)).toEqual([
      { key: 'sku|A', value: null },
      { key: '~part|0|sku|A', value: null },
      { key: '~part|1|sku|A', value: null },
      { key: '~part|2|sku|A', value: null },
    ]);
  });

  it('restores the latest value of every key from a compacted log of many writes, and goes on writing from there', () => {
    const writer = new ChangelogWriter(MAX);
    const log: ChangelogRecord[] = [];
    const latest = new Map<string, unknown>();
    const sizes = [30, 420, 260, 10, 700, 90, 330, 120, 0, 510];
    sizes.forEach((size, i) => {
      for (const key of ['sku|A', 'sku|B']) {
        const value =
          size === 0 && key === 'sku|B' ? null : sized(size + (key === 'sku|B' ? 40 : 0), String(i));
        log.push(...writer.encode(key, value));
        if (value === null) latest.delete(key);
        else latest.set(key, value);
      }
    });
    for (const form of [log, compacted(log)]) {
      const { state, writer: resumed } = restore(form);
      expect(state).toEqual(latest);
      // The restored writer knows each key's parts: shrinking after a restore deletes the extra ones.
      const next = resumed.encode('sku|A', { n: 1 });
      expect(next.filter((r) => r.value === null).map((r) => r.key)).toEqual(
        Array.from({ length: 6 }, (_, i) => `~part|${i}|sku|A`),
      );
    }
    // Once compacted after the last write, no part of an older value is left behind.
    const after = compacted([...log, ...writer.encode('sku|A', { n: 1 }), ...writer.encode('sku|B', null)]);
    expect(after.filter((r) => r.value !== null).map((r) => r.key)).toEqual(['sku|A']);
  });

  it('refuses a head whose parts are missing, naming the key and the part', () => {
    const records = new ChangelogWriter(MAX).encode('sku|A', sized(250));
    const withoutPart1 = records.filter((r) => r.key !== '~part|1|sku|A');
    expect(() => restore(withoutPart1)).toThrow(/sku\|A is split into 3 parts, but part 1 was not found/);
    expect(() => new ChangelogReader().read('sku|A', Buffer.alloc(0), 'two')).toThrow(
      /broken trendradar-parts header/,
    );
  });
});
