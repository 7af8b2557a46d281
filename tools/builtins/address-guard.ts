/**
 * Decides whether a host may be fetched: literal addresses are checked as written, names are
 * resolved here and every resolved address is checked. The caller connects only to the returned
 * addresses (pinning), so a second DNS answer cannot redirect the connection.
 */
import { lookup } from 'node:dns/promises';
import { BlockedAddressError, FetchUrlError } from '../errors.js';
import { cidrContains, formatIp, nonPublicReason, parseCidr, parseIp, parseLegacyIpv4, type Cidr, type IpBytes } from './ip-policy.js';

/** One checked address the connection may use. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to addresses (default: the OS resolver via `dns.lookup`, all families). */
export type Resolver = (hostname: string) => Promise<CheckedAddress[]>;

/** Who may be reached besides public addresses. */
export interface AddressPolicy {
  /** Allow every non-public address (tests, local document servers). Default false. */
  allowPrivate?: boolean;
  /**
   * Extra allowed targets even when non-public: host names (`docs.internal`, `*.corp.example`),
   * addresses or CIDRs (`10.1.0.0/16`, `::1`).
   */
  allow?: readonly string[];
  /** Name resolver (tests inject one); default `dns.lookup(host, {all: true})`. */
  resolver?: Resolver;
}

const systemResolver: Resolver = async (hostname) => {
  const res = await lookup(hostname, { all: true, verbatim: true });
  return res.map((r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }));
};

/** Applies an `AddressPolicy`. Construct once per tool; `check` per hop. */
export class AddressGuard {
  private readonly allowPrivate: boolean;
  private readonly cidrs: Cidr[] = [];
  private readonly hosts: string[] = [];
  private readonly resolver: Resolver;

  constructor(policy: AddressPolicy = {}) {
    this.allowPrivate = policy.allowPrivate === true;
    this.resolver = policy.resolver ?? systemResolver;
    for (const entry of policy.allow ?? []) {
      const cidr = parseCidr(entry.trim());
      if (cidr) this.cidrs.push(cidr);
      else if (/^(\*\.)?[a-z0-9.-]+$/i.test(entry.trim())) this.hosts.push(normalizeHost(entry));
      else throw new FetchUrlError(`allow entry '${entry}' is neither a host name, an address nor a CIDR`);
    }
  }

  private hostAllowed(host: string): boolean {
    return this.hosts.some((h) => (h.startsWith('*.') ? host.endsWith(h.slice(1)) : host === h));
  }

  private addressAllowed(ip: IpBytes): boolean {
    return this.allowPrivate || this.cidrs.some((c) => cidrContains(c, ip));
  }

  private verdict(host: string, ip: IpBytes, hostOk: boolean): void {
    const why = nonPublicReason(ip);
    if (why && !hostOk && !this.addressAllowed(ip)) {
      const shown = formatIp(ip);
      throw new BlockedAddressError(
        `refused: ${host === shown ? shown : `${host} resolves to ${shown}`}, a ${why} address (not allowed by the fetch policy)`,
        host,
        shown,
      );
    }
  }

  /**
   * Checks `hostname` (a URL's `hostname`: lowercased, IPv6 in brackets) and returns the addresses to
   * connect to. Throws `BlockedAddressError` before any connection, `FetchUrlError` if unresolvable.
   */
  async check(hostname: string): Promise<CheckedAddress[]> {
    const host = normalizeHost(hostname);
    if (host === '') throw new FetchUrlError('URL has no host');
    const literal = parseIp(host) ?? parseLegacyIpv4(host);
    if (literal) {
      this.verdict(host, literal, false);
      return [{ address: formatIp(literal), family: literal.length === 4 ? 4 : 6 }];
    }
    const hostOk = this.hostAllowed(host);
    if (!hostOk && (host === 'localhost' || host.endsWith('.localhost')) && !this.allowPrivate) {
      throw new BlockedAddressError(`refused: ${host} is a loopback name (not allowed by the fetch policy)`, host);
    }
    let addrs: CheckedAddress[];
    try {
      addrs = await this.resolver(host);
    } catch (err) {
      throw new FetchUrlError(`cannot resolve host ${host}: ${(err as Error).message}`);
    }
    if (addrs.length === 0) throw new FetchUrlError(`cannot resolve host ${host}: no addresses`);
    const out: CheckedAddress[] = [];
    for (const a of addrs) {
      const ip = parseIp(a.address);
      if (!ip) throw new FetchUrlError(`resolver returned a non-address '${a.address}' for ${host}`);
      this.verdict(host, ip, hostOk);
      out.push({ address: formatIp(ip), family: ip.length === 4 ? 4 : 6 });
    }
    return out;
  }
}

/** Lowercase, no brackets, no trailing dot. */
export function normalizeHost(hostname: string): string {
  let h = hostname.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}
