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
