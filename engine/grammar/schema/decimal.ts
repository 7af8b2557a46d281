/** Exact decimal helpers for number bounds: a finite JS number as `digits × 10^-scale`. */

export interface Decimal {
  digits: bigint;
  scale: number;
}

/** Exact decimal form of the shortest round-trip representation of `x` (finite). */
export function toDecimal(x: number): Decimal {
  const s = String(x).toLowerCase();
  const [mant, expPart] = s.split('e');
  const exp = expPart ? Number(expPart) : 0;
  const neg = mant.startsWith('-');
  const body = neg ? mant.slice(1) : mant;
  const [ip, fp = ''] = body.split('.');
  let digits = BigInt(ip + fp);
  let scale = fp.length - exp;
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale--;
  }
  return { digits: neg ? -digits : digits, scale };
}

/** `d` rescaled to `scale` (>= d.scale). */
export function rescale(d: Decimal, scale: number): bigint {
  return d.digits * 10n ** BigInt(scale - d.scale);
}

/** Floor division for bigints (rounds toward -infinity). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Ceiling division for bigints. */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}
