/** JSON on the wire, validated by the topic's zod schema both ways. */
import type { IHeaders } from 'kafkajs';
import type { z } from 'zod';

export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** A record whose bytes do not satisfy the topic contract; never worth retrying. */
export class InvalidRecordError extends PermanentError {
  override name = 'InvalidRecordError';
}

export function encode<S extends z.ZodType>(schema: S, value: z.input<S>): Buffer {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new InvalidRecordError(`refusing to produce an invalid record: ${describeIssues(parsed.error)}`);
  return Buffer.from(JSON.stringify(parsed.data));
}

export function decode<S extends z.ZodType>(schema: S, bytes: Buffer | null): z.infer<S> {
  if (bytes === null) throw new InvalidRecordError('record has no value');
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidRecordError(`value is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new InvalidRecordError(`value breaks the topic contract: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

export function headerString(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** The header ingest puts on its records: the contract they were written to, `<topic id>.v<n>`. */
export const SCHEMA_HEADER = 'trendradar-schema';

/**
 * Refuses a record that says it was written to another contract than its topic's (a topic's name
 * ends with `<topic id>.v<n>`): a `uploads.v2` record on `….uploads.v1` would be read as v1 and its
 * new fields dropped without a word (an audit found exactly that). A record without the header is
 * taken as its topic's; the check is on the header, not the fields, which zod strips.
 */
export function refuseOtherSchema(topic: string, headers: IHeaders | undefined): void {
  const said = headerString(headers, SCHEMA_HEADER);
  if (said === undefined) return;
  const carried = /([a-z][a-z-]*\.v\d+)$/.exec(topic)?.[1];
  if (carried === undefined || said === carried) return;
  throw new InvalidRecordError(
    `record written to contract ${said}, but ${topic} carries ${carried}: not read as ${carried} (its fields would be lost); ` +
      'a producer writing a new contract must write to its own versioned topic',
  );
}
