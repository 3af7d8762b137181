/**
 * The changelog form of a stage's state: one record per key, and a value too large for one record
 * split into parts. A hot SKU's state (about 100,000 distinct members in a day) outgrows the
 * topic's record limit, and one record over it fails every transaction of its partition for good.
 *
 * A split value is written as its parts, keys `~part|<i>|<key>`, then a head record under the
 * key itself: an empty value with the number of parts in the header `trendradar-parts`. All are
 * in one transaction and one partition, the head last, so a reader that meets the head has
 * already read the parts it names (compaction keeps each key's latest record, in offset order).
 * Parts a shorter value no longer uses are deleted (tombstones), so compaction drops them.
 * Values that fit are written exactly as before: existing changelogs restore unchanged.
 */
import type { IHeaders } from 'kafkajs';

export const PART_KEY_PREFIX = '~part|';
export const PARTS_HEADER = 'trendradar-parts';

export interface ChangelogRecord {
  key: string;
  value: Buffer | null;
  headers?: IHeaders;
}

const partKey = (index: number, key: string): string => `${PART_KEY_PREFIX}${index}|${key}`;

/** Encodes the changes of one partition's state; remembers which keys are split and in how many parts. */
export class ChangelogWriter {
  private readonly partsOf = new Map<string, number>();

  constructor(private readonly maxValueBytes: number) {}

  /** What the changelog held after a restore (see ChangelogReader). */
  remember(key: string, parts: number): void {
    if (parts > 0) this.partsOf.set(key, parts);
    else this.partsOf.delete(key);
  }

  encode(key: string, value: unknown): ChangelogRecord[] {
    const records: ChangelogRecord[] = [];
    const before = this.partsOf.get(key) ?? 0;
    let parts = 0;
    if (value === null) records.push({ key, value: null });
    else {
      const bytes = Buffer.from(JSON.stringify(value));
      if (bytes.length <= this.maxValueBytes) records.push({ key, value: bytes });
      else {
        parts = Math.ceil(bytes.length / this.maxValueBytes);
        for (let i = 0; i < parts; i++)
          records.push({
            key: partKey(i, key),
            value: bytes.subarray(i * this.maxValueBytes, (i + 1) * this.maxValueBytes),
          });
        records.push({ key, value: Buffer.alloc(0), headers: { [PARTS_HEADER]: String(parts) } });
      }
    }
    for (let i = parts; i < before; i++) records.push({ key: partKey(i, key), value: null });
    this.remember(key, parts);
    return records;
  }
}

/** Reassembles one partition's changelog, read in offset order. */
export class ChangelogReader {
  private readonly pendingParts = new Map<string, Buffer>();

  /**
   * The key and state a task restores for this record, or undefined for a part (kept until its
   * head). `parts` is the number of parts the value was split into (0 when it was not).
   */
  read(
    key: string,
    value: Buffer | null,
    partsHeader: string | undefined,
  ): { key: string; value: unknown; parts: number } | undefined {
    if (key.startsWith(PART_KEY_PREFIX)) {
      if (value === null) this.pendingParts.delete(key);
      else this.pendingParts.set(key, value);
      return undefined;
    }
    if (partsHeader === undefined || value === null)
      return { key, value: value === null ? null : JSON.parse(value.toString()), parts: 0 };
    const parts = Number(partsHeader);
    if (!Number.isInteger(parts) || parts < 1)
      throw new Error(`changelog record ${key} has a broken ${PARTS_HEADER} header: ${partsHeader}`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < parts; i++) {
      const chunk = this.pendingParts.get(partKey(i, key));
      if (chunk === undefined)
        throw new Error(
          `changelog record ${key} is split into ${parts} parts, but part ${i} was not found before it`,
        );
      chunks.push(chunk);
      this.pendingParts.delete(partKey(i, key));
    }
    return { key, value: JSON.parse(Buffer.concat(chunks).toString()), parts };
  }
}
