/**
 * Server-side request forgery rules for image URLs: https only, and the host must not resolve to a
 * loopback, private, link-local, multicast or otherwise reserved address, unless its host name is
 * on the allow-list. Every address a name resolves to is checked (not just the first), fetchers
 * re-check each redirect hop, and connect only to addresses that were checked (`checkedLookup`).
 */
import { lookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export class ForbiddenUrlError extends Error {
  override name = 'ForbiddenUrlError';
}

/**
 * DNS gave no answer right now (EAI_AGAIN, ETIMEOUT, SERVFAIL…): says nothing about the URL, so
 * callers retry (ingest answers 503) instead of refusing it for good.
 */
export class DnsUnavailableError extends Error {
  override name = 'DnsUnavailableError';
}

/** Resolver errors that are an answer: the name does not exist, or has no address. */
const PERMANENT_DNS_CODES = new Set(['ENOTFOUND', 'ENODATA']);

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

/**
 * Throws ForbiddenUrlError with the reason when `raw` must not be fetched, or DnsUnavailableError
 * when its host cannot be resolved at the moment.
 */
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
  if (!ipaddr.isValid(host)) await resolveChecked(host, policy);
  else if (isForbiddenAddress(host)) throw forbidden(host, host);
  return url;
}

/** The addresses of a host name, every one allowed by the policy (allow-listed hosts: unchecked). */
export async function resolveChecked(host: string, policy: UrlPolicy = {}): Promise<string[]> {
  const addresses = await resolveOrThrow(host, policy.resolve ?? defaultResolve);
  if (policy.allowHosts?.includes(host)) return addresses;
  const bad = addresses.find(isForbiddenAddress);
  if (bad) throw forbidden(host, bad);
  return addresses;
}

/**
 * A `lookup` for net/tls connections (undici's `connect.lookup`) that resolves through the policy
 * and hands the socket only addresses it checked. Checking a URL and then letting the connection
 * resolve the name again would let a DNS server answer a public address to the check and a private
 * one to the connection (DNS rebinding). IP literals never reach a lookup; assertFetchableUrl
 * checks them.
 */
export function checkedLookup(policy: UrlPolicy = {}): LookupFunction {
  return (hostname, options, callback) => {
    resolveChecked(hostname.toLowerCase(), policy).then(
      (addresses) => {
        const wanted = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : (options.family ?? 0);
        const entries = addresses
          .map((address) => ({ address, family: isIP(address) }))
          .filter((entry) => entry.family !== 0 && (wanted === 0 || entry.family === wanted));
        const first = entries[0];
        if (!first) {
          const error: NodeJS.ErrnoException = new ForbiddenUrlError(
            `${hostname} has no IPv${wanted} address`,
          );
          error.code = 'ENOTFOUND';
          callback(error, '', 0);
        } else if (options.all) callback(null, entries);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

function forbidden(host: string, address: string): ForbiddenUrlError {
  return new ForbiddenUrlError(`${host} resolves to ${address}, a private, loopback or reserved address`);
}

async function resolveOrThrow(host: string, resolve: (host: string) => Promise<string[]>): Promise<string[]> {
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    const reason = `cannot resolve ${host}: ${(error as Error).message}`;
    const code = (error as { code?: unknown }).code;
    // Only "no such name" and "no address" are answers; a timeout or SERVFAIL is DNS failing now.
    if (typeof code === 'string' && PERMANENT_DNS_CODES.has(code)) throw new ForbiddenUrlError(reason);
    throw new DnsUnavailableError(reason);
  }
  if (addresses.length === 0) throw new ForbiddenUrlError(`cannot resolve ${host}: no addresses`);
  return addresses;
}
