/**
 * Address policy for outbound fetches: parses IPv4/IPv6 (including legacy IPv4 spellings and
 * IPv4 embedded in IPv6) to bytes and names the non-public range an address falls in.
 */
import { isIP } from 'node:net';

/** 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

interface Range {
  bytes: IpBytes;
  prefix: number;
  label: string;
}

function range(cidr: string, label: string): Range {
  const [ip, len] = cidr.split('/');
  const bytes = parseIp(ip!);
  if (!bytes) throw new Error(`bad built-in range ${cidr}`);
  return { bytes, prefix: Number(len), label };
}

const V4_BLOCKED: Range[] = [
  range('0.0.0.0/8', 'unspecified ("this network")'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'carrier-grade NAT'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'documentation'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved/broadcast'),
];

const V6_BLOCKED: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('100::/64', 'discard-only'),
  range('2001::/32', 'Teredo'),
  range('2001:db8::/32', 'documentation'),
  range('fc00::/7', 'unique-local'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local'),
  range('ff00::/8', 'multicast'),
];

/** IPv6 prefixes that embed an IPv4 address: [prefix, prefix length, byte offset of the IPv4]. */
const V6_EMBEDDING: Array<[Range, number]> = [
  [range('::ffff:0:0/96', 'IPv4-mapped'), 12],
  [range('::/96', 'IPv4-compatible'), 12],
  [range('64:ff9b::/96', 'NAT64'), 12],
  [range('64:ff9b:1::/48', 'NAT64 local'), 12],
  [range('2002::/16', '6to4'), 2],
];

/** Parses a canonical IPv4 or IPv6 literal (brackets and `%zone` allowed) to bytes; null otherwise. */
export function parseIp(text: string): IpBytes | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0 && s.includes(':')) s = s.slice(0, zone);
  const kind = isIP(s);
  if (kind === 4) return Uint8Array.from(s.split('.').map(Number));
  if (kind === 6) return parseIpv6(s);
  return null;
}

function parseIpv6(s: string): IpBytes {
  const out = new Uint8Array(16);
  let tail = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  const words: number[] = [];
  if (v4) tail = s.slice(0, v4.index) + '0:0';
  const [head, rest] = tail.split('::') as [string, string | undefined];
  const headWords = head ? head.split(':').map((h) => parseInt(h, 16)) : [];
  const restWords = rest !== undefined && rest !== '' ? rest.split(':').map((h) => parseInt(h, 16)) : [];
  const fill = rest === undefined ? 0 : 8 - headWords.length - restWords.length;
  words.push(...headWords, ...new Array<number>(fill).fill(0), ...restWords);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (words[i]! >> 8) & 0xff;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  if (v4) out.set(v4[1]!.split('.').map(Number), 12);
  return out;
}

/**
 * Parses inet_aton-style IPv4 spellings: 1–4 parts, each decimal, `0x` hex or `0` octal
 * (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`). Null if `s` is not such a spelling.
 */
export function parseLegacyIpv4(s: string): IpBytes | null {
  const parts = s.split('.');
  if (parts.length === 0 || parts.length > 4 || parts.some((p) => p === '')) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p, 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return null;
  const out = new Uint8Array(4);
  nums.forEach((n, i) => (out[i] = n));
  for (let i = 3, v = last; i >= nums.length; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

function matches(ip: IpBytes, r: Range): boolean {
  if (ip.length !== r.bytes.length) return false;
  let bits = r.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The reason an address is not public (`'loopback'`, `'private'`, ...), or null if it is public. */
export function nonPublicReason(ip: IpBytes): string | null {
  if (ip.length === 4) return V4_BLOCKED.find((r) => matches(ip, r))?.label ?? null;
  const direct = V6_BLOCKED.find((r) => matches(ip, r));
  if (direct) return direct.label;
  for (const [r, offset] of V6_EMBEDDING) {
    if (matches(ip, r)) {
      const inner = ip.slice(offset, offset + 4);
      const why = nonPublicReason(inner);
      if (why) return `${why} (${r.label} ${formatIp(inner)})`;
      if (r.label === 'IPv4-compatible') return 'IPv4-compatible (deprecated)';
    }
  }
  return null;
}

/** Dotted IPv4 or uncompressed-but-trimmed IPv6 text. */
export function formatIp(ip: IpBytes): string {
  if (ip.length === 4) return [...ip].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return words.join(':');
}

/** A CIDR or single address from an allowlist. */
export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address; null if not an address. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf('/');
  const ipText = slash >= 0 ? text.slice(0, slash) : text;
  const bytes = parseIp(ipText);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const prefix = slash >= 0 ? Number(text.slice(slash + 1)) : max;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return null;
  return { bytes, prefix };
}

/** True when `ip` lies in `cidr` (IPv4-mapped IPv6 addresses also match IPv4 CIDRs). */
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  const r = { bytes: cidr.bytes, prefix: cidr.prefix, label: '' };
  if (matches(ip, r)) return true;
  if (ip.length === 16 && cidr.bytes.length === 4 && matches(ip, V6_EMBEDDING[0]![0])) {
    return matches(ip.slice(12), r);
  }
  return false;
}
