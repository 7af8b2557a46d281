/**
 * Parser for the ECMA-262 regular expressions JSON Schema uses (`pattern`), restricted to the
 * regular subset: literals, classes, `.`, `\d\w\s` (and negations), groups, alternation, greedy
 * or lazy quantifiers, and `^`/`$` at the start/end of a top-level alternative. Lookaround,
 * backreferences, `\b`, `\p{…}` and inner anchors throw `RegexCompileError`.
 *
 * The AST is over code points; `CharSet` is a sorted list of disjoint inclusive ranges.
 * JSON Schema patterns are unanchored searches, so an alternative without `^` gets a
 * leading `[\s\S]*` and one without `$` a trailing `[\s\S]*`.
 */
import { RegexCompileError } from '../errors.js';
import { ANY, DIGIT, DOT, MAX_CP, negateSet, normSet, SPACE, WORD, type CharSet } from './regex-charset.js';

export { ANY, MAX_CP, negateSet, normSet, type CharSet } from './regex-charset.js';

export type RegexNode =
  | { t: 'set'; set: CharSet }
  | { t: 'cat'; items: RegexNode[] }
  | { t: 'alt'; items: RegexNode[] }
  | { t: 'rep'; item: RegexNode; min: number; max: number };

const REP_LIMIT = 1000;

/** Parses a JSON Schema `pattern` into an AST with the unanchored sides expanded. */
export function parseRegex(pattern: string): RegexNode {
  return new Parser(pattern).parseTop();
}

class Parser {
  private i = 0;
  private readonly cps: number[];
  constructor(private readonly src: string) {
    this.cps = Array.from(src, (c) => c.codePointAt(0)!);
  }

  private fail(msg: string): never {
    throw new RegexCompileError(msg, this.src);
  }
  private peek(): number | undefined {
    return this.cps[this.i];
  }
  private eat(cp: number): boolean {
    if (this.cps[this.i] === cp) {
      this.i++;
      return true;
    }
    return false;
  }

  parseTop(): RegexNode {
    const alts: RegexNode[] = [];
    for (;;) {
      const anchoredStart = this.eat(0x5e); // ^
      const items = this.parseSeq(true);
      let anchoredEnd = false;
      if (this.peek() === 0x24) {
        this.i++;
        anchoredEnd = true;
      }
      const seq: RegexNode[] = [];
      if (!anchoredStart) seq.push({ t: 'rep', item: { t: 'set', set: ANY }, min: 0, max: Infinity });
      seq.push(...items);
      if (!anchoredEnd) seq.push({ t: 'rep', item: { t: 'set', set: ANY }, min: 0, max: Infinity });
      alts.push({ t: 'cat', items: seq });
      if (this.eat(0x7c)) continue;
      if (this.i < this.cps.length) this.fail(`unsupported '${String.fromCodePoint(this.cps[this.i])}' at ${this.i}`);
      break;
    }
    return alts.length === 1 ? alts[0] : { t: 'alt', items: alts };
  }

  /** Sequence up to `|`, `)` or end; at top level also stops before a final `$`. */
  private parseSeq(top: boolean): RegexNode[] {
    const items: RegexNode[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === 0x7c || c === 0x29) return items;
      if (c === 0x24) {
        if (top && this.i === this.cps.length - 1) return items;
        if (top && this.cps[this.i + 1] === 0x7c) return items;
        this.fail(`'$' is supported only at the end of the pattern`);
      }
      if (c === 0x5e) this.fail(`'^' is supported only at the start of the pattern`);
      let atom = this.parseAtom();
      atom = this.parseQuantifier(atom);
      items.push(atom);
    }
  }

  private parseAlt(): RegexNode {
    const alts: RegexNode[] = [{ t: 'cat', items: this.parseSeq(false) }];
    while (this.eat(0x7c)) alts.push({ t: 'cat', items: this.parseSeq(false) });
    return alts.length === 1 ? alts[0] : { t: 'alt', items: alts };
  }

  private parseQuantifier(atom: RegexNode): RegexNode {
    for (;;) {
      const c = this.peek();
      let min: number, max: number;
      if (c === 0x2a) [min, max] = [0, Infinity];
      else if (c === 0x2b) [min, max] = [1, Infinity];
      else if (c === 0x3f) [min, max] = [0, 1];
      else if (c === 0x7b) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.offsetOf(this.i)));
        if (!m) return atom; // a literal '{' is handled by parseAtom
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        if (max < min) this.fail('quantifier range out of order');
        if (min > REP_LIMIT || (max !== Infinity && max > REP_LIMIT)) this.fail('repetition count too large');
        this.i += m[0].length - 1;
      } else return atom;
      this.i++;
      this.eat(0x3f); // lazy: same language
      atom = { t: 'rep', item: atom, min, max };
    }
  }

  /** Index into the UTF-16 source of code point index `cpIndex`. */
  private offsetOf(cpIndex: number): number {
    let off = 0;
    for (let k = 0; k < cpIndex; k++) off += this.cps[k] > 0xffff ? 2 : 1;
    return off;
  }

  private parseAtom(): RegexNode {
    const c = this.cps[this.i++];
    switch (c) {
      case 0x28: {
        // (
        if (this.eat(0x3f)) {
          if (this.eat(0x3a)) {
            /* (?: */
          } else if (this.peek() === 0x3c && this.cps[this.i + 1] !== 0x3d && this.cps[this.i + 1] !== 0x21) {
            while (this.i < this.cps.length && this.cps[this.i] !== 0x3e) this.i++;
            if (!this.eat(0x3e)) this.fail('unterminated group name');
          } else this.fail('lookaround is not supported');
        }
        const inner = this.parseAlt();
        if (!this.eat(0x29)) this.fail('missing )');
        return inner;
      }
      case 0x5b:
        return { t: 'set', set: this.parseClass() };
      case 0x2e:
        return { t: 'set', set: DOT };
      case 0x5c:
        return { t: 'set', set: this.parseEscape(false) };
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return this.fail('nothing to repeat');
      case 0x29:
        return this.fail('unmatched )');
      default:
        return { t: 'set', set: [c, c] };
    }
  }

  private parseEscape(inClass: boolean): CharSet {
    const c = this.cps[this.i++];
    if (c === undefined) this.fail('trailing backslash');
    const ch = String.fromCodePoint(c);
    switch (ch) {
      case 'd':
        return DIGIT;
      case 'D':
        return negateSet(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return negateSet(WORD);
      case 's':
        return SPACE;
      case 'S':
        return negateSet(SPACE);
      case 'n':
        return [10, 10];
      case 'r':
        return [13, 13];
      case 't':
        return [9, 9];
      case 'v':
        return [11, 11];
      case 'f':
        return [12, 12];
      case '0':
        if (this.peek() !== undefined && this.peek()! >= 0x30 && this.peek()! <= 0x39) this.fail('octal escapes are not supported');
        return [0, 0];
      case 'b':
        if (inClass) return [8, 8];
        return this.fail('word boundary \\b is not supported');
      case 'B':
        return this.fail('\\B is not supported');
      case 'x': {
        const h = this.hex(2);
        return [h, h];
      }
      case 'u': {
        if (this.eat(0x7b)) {
          let v = 0;
          let n = 0;
          while (this.peek() !== undefined && this.peek() !== 0x7d) {
            v = v * 16 + this.hexDigit(this.cps[this.i++]);
            n++;
          }
          if (!this.eat(0x7d) || n === 0 || v > MAX_CP) this.fail('bad \\u{…} escape');
          return [v, v];
        }
        let v = this.hex(4);
        if (v >= 0xd800 && v <= 0xdbff && this.cps[this.i] === 0x5c && this.cps[this.i + 1] === 0x75) {
          const save = this.i;
          this.i += 2;
          const lo = this.hex(4);
          if (lo >= 0xdc00 && lo <= 0xdfff) v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
          else this.i = save;
        }
        return [v, v];
      }
      case 'c': {
        const l = this.cps[this.i++];
        if (l === undefined || !/[A-Za-z]/.test(String.fromCodePoint(l))) this.fail('bad \\c escape');
        return [l % 32, l % 32];
      }
      case 'p':
      case 'P':
        return this.fail('unicode property escapes are not supported');
      case 'k':
        return this.fail('named backreferences are not supported');
      default:
        if (c >= 0x31 && c <= 0x39) this.fail('backreferences are not supported');
        if (/[A-Za-z]/.test(ch)) this.fail(`unknown escape \\${ch}`);
        return [c, c];
    }
  }

  private hexDigit(c: number | undefined): number {
    const s = c === undefined ? '' : String.fromCodePoint(c);
    if (!/^[0-9a-fA-F]$/.test(s)) this.fail('bad hex escape');
    return parseInt(s, 16);
  }
  private hex(n: number): number {
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 16 + this.hexDigit(this.cps[this.i++]);
    return v;
  }

  private parseClass(): CharSet {
    const negate = this.eat(0x5e);
    const ranges: number[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('unterminated character class');
      if (c === 0x5d && !first) {
        this.i++;
        break;
      }
      if (c === 0x5d && first) {
        // "[]" matches nothing, "[^]" matches anything
        this.i++;
        return negate ? ANY : [];
      }
      first = false;
      const lo = this.classAtom();
      if (this.peek() === 0x2d && this.cps[this.i + 1] !== 0x5d && this.cps[this.i + 1] !== undefined) {
        this.i++;
        const hi = this.classAtom();
        if (lo.length !== 2 || hi.length !== 2 || lo[0] !== lo[1] || hi[0] !== hi[1]) this.fail('bad class range');
        if (hi[0] < lo[0]) this.fail('class range out of order');
        ranges.push(lo[0], hi[0]);
      } else ranges.push(...lo);
    }
    const set = normSet(ranges);
    return negate ? negateSet(set) : set;
  }

  private classAtom(): CharSet {
    const c = this.cps[this.i++];
    if (c === 0x5c) return this.parseEscape(true);
    return [c, c];
  }
}
