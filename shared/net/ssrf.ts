/**
 * Server-side request forgery rules for image URLs: https only, and the host must not resolve to a
 * loopback, private, link-local, multicast or otherwise reserved address, unless its host name is
 * on the allow-list. Every address a name resolves to is checked (not just the first), and fetchers
 * re-check each redirect hop.
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export class ForbiddenUrlError extends Error {
  override name = 'ForbiddenUrlError';
}

export interface UrlPolicy {
  /** Host names (exact, lower case) exempt from the address checks, e.g. an internal CDN. */
  allowHosts?: readonly string[];
  /** Resolver, replaceable so the rules are testable without DNS. */
  resolve?: (host: string) => Promise<string[]>;
}

const defaultResolve = async (host: string) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** True for any address a public image URL must never reach. */
export function isForbiddenAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() !== 'unicast';
}

/** Throws ForbiddenUrlError with the reason when `raw` must not be fetched. */
export async function assertFetchableUrl(raw: string, policy: UrlPolicy = {}): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ForbiddenUrlError(`not a URL: ${raw.slice(0, 100)}`);
  }
  if (url.protocol !== 'https:')
    throw new ForbiddenUrlError(`only https URLs are accepted, not ${url.protocol}`);
  if (url.username || url.password) throw new ForbiddenUrlError('URLs with credentials are not accepted');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (policy.allowHosts?.includes(host)) return url;
  const addresses = ipaddr.isValid(host)
    ? [host]
    : await resolveOrThrow(host, policy.resolve ?? defaultResolve);
  const bad = addresses.find(isForbiddenAddress);
  if (bad) throw new ForbiddenUrlError(`${host} resolves to ${bad}, a private, loopback or reserved address`);
  return url;
}

async function resolveOrThrow(host: string, resolve: (host: string) => Promise<string[]>): Promise<string[]> {
  try {
    const addresses = await resolve(host);
    if (addresses.length === 0) throw new Error('no addresses');
    return addresses;
  } catch (error) {
    throw new ForbiddenUrlError(`cannot resolve ${host}: ${(error as Error).message}`);
  }
}
