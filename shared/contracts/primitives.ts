import { z } from 'zod';

/** Identifiers from clients: printable, bounded, no whitespace, safe in Kafka keys and ES ids. */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@|-]+$/, 'only letters, digits and . _ : @ | - are allowed');

/** Event time as an ISO-8601 instant with offset; normalised to UTC milliseconds by consumers. */
export const Instant = z.iso.datetime({ offset: true });

export const Sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'a SKU is letters, digits, dot, underscore or dash');

/** ISO 3166-1 alpha-2, upper case. */
export const CountryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, 'country must be an ISO 3166-1 alpha-2 code like "GB"');

export const Location = z.object({
  country: CountryCode,
  city: z.string().min(1).max(120),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
});
export type Location = z.infer<typeof Location>;

/** Content-addressed reference into the blob store: `sha256:<64 hex>`. */
export const BlobRef = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'a blob reference is sha256:<64 hex digits>');

/** Syntax only; where the host may point (SSRF rules) is checked by the services that fetch. */
export const HttpsUrl = z.url({ protocol: /^https$/, error: 'image URLs must be https' }).max(2048);
