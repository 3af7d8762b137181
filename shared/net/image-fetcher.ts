/**
 * Fetches image bytes from https URLs that members supplied, defensively: https only, every hop
 * (the first URL and each redirect target) checked against the SSRF rules and connected only to the
 * addresses checked, connect and read timeouts, one deadline for the whole fetch, a byte limit
 * enforced while streaming (Content-Length is not trusted), and the bytes sniffed for a raster image
 * signature (Content-Type is not trusted); a HEIF image (HEIC, AVIF) must also be in a coding the
 * installed sharp can decode (its prebuilt libvips has no HEVC decoder). Transient failures (timeouts, resets, DNS not answering,
 * 429, 5xx) are retried with exponential backoff; everything else fails at once as a
 * PermanentFetchError, so callers can dead-letter it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { checkHeifDecodable } from '../vision/heif-support.ts';
import { isHeifType, sniffImageType } from '../vision/image-type.ts';
import {
  assertFetchableUrl,
  checkedLookup,
  DnsUnavailableError,
  ForbiddenUrlError,
  type UrlPolicy,
} from './ssrf.ts';

export class PermanentFetchError extends Error {
  override name = 'PermanentFetchError';
}

export class TransientFetchError extends Error {
  override name = 'TransientFetchError';
}

export interface FetchOptions {
  connectTimeoutMs: number;
  /** Longest wait for response headers, and longest silence while reading the body. */
  readTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  /** Attempts in total (1 = no retry). */
  attempts: number;
  backoffMs: number;
  /**
   * Longest time one fetch may take, all attempts, redirects and backoff included: the read timeout
   * alone does not bound a server that trickles a byte just inside it.
   */
  deadlineMs: number;
  policy?: UrlPolicy;
  /** Extra CA certificates (PEM), e.g. an internal CDN's; tests use a self-signed one. */
  ca?: string | Buffer;
}

export const DEFAULT_FETCH: FetchOptions = {
  connectTimeoutMs: 3_000,
  readTimeoutMs: 10_000,
  maxBytes: 20 * 1024 * 1024,
  maxRedirects: 3,
  attempts: 3,
  backoffMs: 250,
  deadlineMs: 20_000,
};

export class ImageFetcher {
  private readonly agent: Agent;
  readonly options: FetchOptions;

  constructor(options: Partial<FetchOptions> = {}) {
    this.options = { ...DEFAULT_FETCH, ...options };
    this.agent = new Agent({
      connect: {
        timeout: this.options.connectTimeoutMs,
        // The socket goes only to addresses that passed the SSRF rules (no second, unchecked lookup).
        lookup: checkedLookup(this.options.policy),
        ...(this.options.ca ? { ca: this.options.ca } : {}),
      },
      headersTimeout: this.options.readTimeoutMs,
      bodyTimeout: this.options.readTimeoutMs,
    });
  }

  async fetch(url: string): Promise<{ bytes: Buffer; contentType: string; finalUrl: string }> {
    const { attempts, backoffMs, deadlineMs } = this.options;
    const deadline = AbortSignal.timeout(deadlineMs);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(url, deadline);
      } catch (error) {
        if (error instanceof PermanentFetchError) throw error;
        const gaveUp = (why = '') =>
          new PermanentFetchError(`gave up after ${attempt} attempts${why}: ${(error as Error).message}`);
        const atDeadline = ` (deadline of ${deadlineMs} ms)`;
        if (deadline.aborted) throw gaveUp(atDeadline);
        if (attempt >= attempts) throw gaveUp();
        await sleep(backoffMs * 2 ** (attempt - 1), undefined, { signal: deadline }).catch(() => {});
        if (deadline.aborted) throw gaveUp(atDeadline);
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async fetchOnce(
    start: string,
    deadline: AbortSignal,
  ): Promise<{ bytes: Buffer; contentType: string; finalUrl: string }> {
    let current = start;
    for (let hop = 0; hop <= this.options.maxRedirects; hop++) {
      let url: URL;
      try {
        url = await beforeDeadline(assertFetchableUrl(current, this.options.policy), deadline);
      } catch (error) {
        throw fetchError(error, `${hop > 0 ? 'redirect to ' : ''}${redact(current)}`);
      }
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(url, {
          method: 'GET',
          dispatcher: this.agent,
          headers: { accept: 'image/*' },
          signal: deadline,
        });
      } catch (error) {
        // The connection's lookup applies the SSRF rules again: a refusal there is final.
        throw fetchError(error, redact(url.href));
      }
      const { statusCode, headers, body } = response;
      if (statusCode >= 300 && statusCode < 400) {
        await body.dump();
        const location = headers.location;
        if (typeof location !== 'string')
          throw new PermanentFetchError(`redirect ${statusCode} without a location`);
        current = new URL(location, url).href;
        continue;
      }
      if (statusCode === 429 || statusCode >= 500) {
        await body.dump();
        throw new TransientFetchError(`${redact(url.href)} answered ${statusCode}`);
      }
      if (statusCode !== 200) {
        await body.dump();
        throw new PermanentFetchError(`${redact(url.href)} answered ${statusCode}`);
      }
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > this.options.maxBytes) {
        await body.dump();
        throw new PermanentFetchError(
          `image is ${declared} bytes, over the limit of ${this.options.maxBytes}`,
        );
      }
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of body) {
          total += (chunk as Buffer).length;
          if (total > this.options.maxBytes) {
            body.destroy();
            throw new PermanentFetchError(`image is over the limit of ${this.options.maxBytes} bytes`);
          }
          chunks.push(chunk as Buffer);
        }
      } catch (error) {
        if (error instanceof PermanentFetchError) throw error;
        throw new TransientFetchError(`${redact(url.href)}: reading the body: ${describe(error)}`);
      }
      const bytes = Buffer.concat(chunks);
      const sniffed = sniffImageType(bytes);
      if (!sniffed)
        throw new PermanentFetchError(`${redact(url.href)} did not return a raster image (content sniffed)`);
      if (isHeifType(sniffed)) {
        // HEIC is HEVC inside, which this build may have no decoder for: refused now, for good
        // (fetching it again would not help), with why, rather than failing in the decoder later.
        const heif = await checkHeifDecodable(bytes);
        if (!heif.ok)
          throw new PermanentFetchError(
            `${redact(url.href)} returned an image that cannot be decoded: ${heif.reason}`,
          );
      }
      return { bytes, contentType: sniffed, finalUrl: url.href };
    }
    throw new PermanentFetchError(`more than ${this.options.maxRedirects} redirects`);
  }
}

/** Refusals by the SSRF rules are permanent; anything else (DNS not answering, resets…) transient. */
function fetchError(error: unknown, what: string): Error {
  const cause = (error as { cause?: unknown }).cause;
  if (error instanceof ForbiddenUrlError || cause instanceof ForbiddenUrlError)
    return new PermanentFetchError(
      `refused ${what}: ${(cause instanceof ForbiddenUrlError ? cause : (error as Error)).message}`,
    );
  if (error instanceof DnsUnavailableError) return new TransientFetchError(`${what}: ${error.message}`);
  return new TransientFetchError(`${what}: ${describe(error)}`);
}

/** `work`, or the deadline's reason if it passes first (a resolver can hang past any deadline). */
function beforeDeadline<T>(work: Promise<T>, deadline: AbortSignal): Promise<T> {
  if (deadline.aborted) return Promise.reject(deadline.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(deadline.reason);
    deadline.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => deadline.removeEventListener('abort', onAbort));
  });
}

/** URLs in errors without their query strings, which may hold signatures or tokens. */
function redact(href: string): string {
  try {
    const url = new URL(href);
    return `${url.origin}${url.pathname}`;
  } catch {
    return href.slice(0, 100);
  }
}

function describe(error: unknown): string {
  const err = error as { code?: unknown; message?: string };
  // String codes only (ECONNRESET…); a DOMException's numeric code says nothing to a reader.
  return typeof err.code === 'string'
    ? `${err.code} ${err.message ?? ''}`.trim()
    : String(err.message ?? error);
}
