import { describe, expect, it } from 'vitest';
import { compileSchema } from '../../engine/grammar/schema/schema-compiler.js';
import { SchemaCompileError } from '../../engine/grammar/errors.js';
import { acceptsBytes, canEnd, step, valueState, type Frame } from '../../engine/grammar/match/value-matcher.js';
import { patternDfa } from '../../engine/grammar/regex/byte-dfa.js';
import { FORMATS } from '../../engine/grammar/regex/formats.js';
import { validateOutput, outputValidation } from '../../engine/grammar/schema/validate-output.js';

const enc = new TextEncoder();
const accepts = (schema: unknown, text: string) => acceptsBytes(valueState(compileSchema(schema).root), enc.encode(text));

function refusal(schema: unknown): SchemaCompileError {
  try {
    compileSchema(schema);
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaCompileError);
    return e as SchemaCompileError;
  }
  throw new Error('schema was not refused');
}

describe('schema compiler: keywords', () => {
  it('objects: properties, required, additionalProperties (default true, false honored), whitespace bounded', () => {
    const s = { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } }, required: ['a'] };
    expect(accepts(s, '{"a":1}')).toBe(true);
    expect(accepts(s, '{"b":"x","a":-2,"zzz":[true,null]}')).toBe(true);
    expect(accepts(s, '{ "a" : 1 }')).toBe(true);
    expect(accepts(s, '{"a":1,"a":2}')).toBe(false); // duplicate key
    expect(accepts(s, '{"b":"x"}')).toBe(false);
    expect(accepts(s, '{"a":1.5}')).toBe(false);
    expect(accepts(s, '{    "a":1}')).toBe(false); // more than 2 whitespace in a row
    expect(accepts({ ...s, additionalProperties: false }, '{"a":1,"c":2}')).toBe(false);
    expect(accepts({ ...s, additionalProperties: { type: 'boolean' } }, '{"a":1,"c":true}')).toBe(true);
    expect(accepts({ ...s, additionalProperties: { type: 'boolean' } }, '{"a":1,"c":2}')).toBe(false);
  });

  it('type unions, nullable, enum and const', () => {
    expect(accepts({ type: ['string', 'null'] }, 'null')).toBe(true);
    expect(accepts({ type: ['string', 'null'] }, '1')).toBe(false);
    expect(accepts({ type: 'string', nullable: true }, 'null')).toBe(true);
    expect(accepts({ enum: ['a', 1, null, { x: [1] }] }, '{"x":[1]}')).toBe(true);
    expect(accepts({ enum: ['a', 1, null] }, '"b"')).toBe(false);
    expect(accepts({ type: 'string', enum: ['a', 1] }, '1')).toBe(false);
    expect(accepts({ const: 'x' }, '"x"')).toBe(true);
    expect(accepts({ enum: [1, 10] }, '10')).toBe(true);
    expect(accepts({ enum: [1, 10] }, '1')).toBe(true);
  });

  it('strings: minLength/maxLength count code points; pattern; format', () => {
    const s = { type: 'string', minLength: 2, maxLength: 3 };
    expect(accepts(s, '"ab"')).toBe(true);
    expect(accepts(s, '"中文字"')).toBe(true);
    expect(accepts(s, '"a"')).toBe(false);
    expect(accepts(s, '"abcd"')).toBe(false);
    expect(accepts({ type: 'string', maxLength: 100000 }, JSON.stringify('x'.repeat(5000)))).toBe(true);
    expect(accepts({ type: 'string', pattern: '^[A-Z]{2}-\\d+$' }, '"AB-12"')).toBe(true);
    expect(accepts({ type: 'string', pattern: '^[A-Z]{2}-\\d+$' }, '"AB-"')).toBe(false);
    expect(accepts({ type: 'string', pattern: 'b' }, '"abc"')).toBe(true); // unanchored
    expect(accepts({ type: 'string', format: 'date' }, '"2024-02-28"')).toBe(true);
    expect(accepts({ type: 'string', format: 'date' }, '"2024-13-01"')).toBe(false);
    expect(accepts({ type: 'string', format: 'uuid' }, '"123e4567-e89b-12d3-a456-426614174000"')).toBe(true);
    expect(accepts({ type: 'string' }, '"a\\"b\\\\c\\n\\u00e9"')).toBe(true);
    expect(accepts({ type: 'string' }, '"\\ud800"')).toBe(false);
    expect(accepts({ type: 'string' }, '"a\nb"')).toBe(false);
  });

  it('numbers: bounds, exclusive bounds, integers, multipleOf', () => {
    const s = { type: 'integer', minimum: -5, maximum: 120 };
    for (const [t, ok] of [['0', true], ['-5', true], ['120', true], ['121', false], ['-6', false], ['1.5', false], ['007', false]] as const) {
      expect(accepts(s, t), t).toBe(ok);
    }
    const n = { type: 'number', exclusiveMinimum: 0, maximum: 1.5 };
    for (const [t, ok] of [['0', false], ['0.001', true], ['1.5', true], ['1.51', false], ['1e-3', false]] as const) {
      expect(accepts(n, t), t).toBe(ok);
    }
    expect(accepts({ type: 'number' }, '-1.25e+10')).toBe(true);
    expect(accepts({ type: 'integer', multipleOf: 7 }, '49')).toBe(true);
    expect(accepts({ type: 'integer', multipleOf: 7 }, '50')).toBe(false);
    expect(accepts({ type: 'number', multipleOf: 0.25 }, '1.75')).toBe(true);
    expect(accepts({ type: 'number', multipleOf: 0.25 }, '1.7')).toBe(false);
  });

  it('arrays: items, prefixItems, minItems/maxItems', () => {
    const s = { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'integer' }, minItems: 2, maxItems: 3 };
    expect(accepts(s, '["a",1]')).toBe(true);
    expect(accepts(s, '["a",1,2]')).toBe(true);
    expect(accepts(s, '["a",1,2,3]')).toBe(false);
    expect(accepts(s, '["a"]')).toBe(false);
    expect(accepts(s, '[1,1]')).toBe(false);
  });

  it('anyOf, provably disjoint oneOf, allOf merged, $ref/$defs with recursion', () => {
    expect(accepts({ anyOf: [{ type: 'string' }, { type: 'integer', minimum: 3 }] }, '4')).toBe(true);
    expect(accepts({ anyOf: [{ type: 'string' }, { type: 'integer', minimum: 3 }] }, '2')).toBe(false);
    expect(accepts({ oneOf: [{ type: 'string' }, { type: 'integer' }] }, '"x"')).toBe(true);
    expect(accepts({ allOf: [{ type: 'integer' }, { minimum: 2 }, { maximum: 4 }] }, '5')).toBe(false);
    expect(accepts({ allOf: [{ properties: { a: { type: 'string' } } }, { required: ['a'] }] }, '{"a":"x"}')).toBe(true);
    const tree = { $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } }, additionalProperties: false } }, $ref: '#/$defs/node' };
    expect(accepts(tree, '{"kids":[{"kids":[]},{}]}')).toBe(true);
    expect(accepts(tree, '{"kids":[{"x":1}]}')).toBe(false);
    expect(accepts({ definitions: { a: { type: 'boolean' } }, $schema: 'http://json-schema.org/draft-07/schema#', $ref: '#/definitions/a' }, 'true')).toBe(true);
  });

  it('propertyNames and patternProperties', () => {
    expect(accepts({ propertyNames: { maxLength: 3 } }, '{"abc":1}')).toBe(true);
    expect(accepts({ propertyNames: { maxLength: 3 } }, '{"abcd":1}')).toBe(false);
    const pp = { patternProperties: { '^x-': { type: 'integer' } }, additionalProperties: false };
    expect(accepts(pp, '{"x-a":1}')).toBe(true);
    expect(accepts(pp, '{"x-a":"s"}')).toBe(false);
    expect(accepts(pp, '{"y":1}')).toBe(false);
  });
});

describe('schema compiler: refusals name the keyword and path', () => {
  it('invalid schema', () => {
    const e = refusal({ type: 'object', properties: { a: { type: 12 } } });
    expect(e.keyword).toBe('schema');
  });
  it('remote $ref', () => {
    const e = refusal({ properties: { a: { $ref: 'https://example.com/s.json' } } });
    expect(e.keyword).toBe('$ref');
    expect(e.path).toBe('#/properties/a');
    expect(e.message).toContain('remote');
  });
  it('unsupported keywords', () => {
    expect(refusal({ type: 'array', uniqueItems: true }).keyword).toBe('uniqueItems');
    const e = refusal({ properties: { list: { type: 'array', contains: { type: 'string' } } } });
    expect([e.keyword, e.path]).toEqual(['contains', '#/properties/list']);
    expect(refusal({ if: { type: 'string' }, then: { minLength: 2 } }).keyword).toBe('if');
    expect(refusal({ not: { required: ['a'] } }).keyword).toBe('not');
    expect(refusal({ type: 'string', pattern: '(?=a)' }).keyword).toBe('pattern');
    expect(refusal({ type: 'string', format: 'regex' }).keyword).toBe('format');
  });
  it('oneOf that is not provably disjoint', () => {
    expect(refusal({ oneOf: [{ type: 'number' }, { type: 'integer' }] }).keyword).toBe('oneOf');
  });
  it('compiles a tool schema in milliseconds', () => {
    const s = { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] }, days: { type: 'integer', minimum: 1, maximum: 14 } }, required: ['city'] };
    compileSchema(s);
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) compileSchema(s);
    expect((performance.now() - t0) / 20).toBeLessThan(50);
  });
});

describe('formats are subsets of ajv-formats', () => {
  // random walks through each format's DFA produce strings that ajv must accept
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (const name of ['date', 'time', 'date-time', 'email', 'uuid', 'uri', 'ipv4', 'ipv6', 'hostname']) {
    it(name, () => {
      const d = patternDfa(FORMATS[name].pattern);
      let made = 0;
      for (let i = 0; i < 150; i++) {
        let st = 0;
        const bytes: number[] = [];
        for (let k = 0; k < 60; k++) {
          if (d.accepting[st] && rnd() < 0.15) break;
          const opts: number[] = [];
          for (let b = 0x21; b < 0x7f; b++) if (b !== 0x22 && b !== 0x5c && d.step(st, b) >= 0) opts.push(b);
          if (!opts.length) break;
          const b = opts[Math.floor(rnd() * opts.length)];
          bytes.push(b);
          st = d.step(st, b);
        }
        if (!d.accepting[st]) continue;
        made++;
        const s = String.fromCharCode(...bytes);
        expect(validateOutput({ type: 'string', format: name }, JSON.stringify(s)).ok, `${name}: ${s}`).toBe(true);
      }
      expect(made).toBeGreaterThan(20);
    });
  }
});

describe('validateOutput', () => {
  it('re-validates with ajv and counts', () => {
    const before = { ...outputValidation };
    expect(validateOutput({ type: 'object', required: ['a'] }, '{"a":1}').ok).toBe(true);
    const bad = validateOutput({ type: 'object', required: ['a'] }, '{}');
    expect(bad.ok).toBe(false);
    expect(validateOutput({ type: 'object' }, '{oops').ok).toBe(false);
    expect(outputValidation.checked - before.checked).toBe(3);
    expect(outputValidation.failed - before.failed).toBe(2);
  });
});

describe('no dead ends', () => {
  it('random byte walks can always be completed', () => {
    const schema = {
      type: 'object',
      properties: { id: { type: 'integer', minimum: 10, maximum: 99 }, tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]{2,4}$' }, minItems: 1, maxItems: 2 }, kind: { enum: ['a', 'bb'] } },
      required: ['id', 'tags'], additionalProperties: false,
    };
    const root = compileSchema(schema).root;
    let x = 99;
    const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let walk = 0; walk < 30; walk++) {
      let states: Frame[] = [valueState(root)];
      const out: number[] = [];
      for (let k = 0; k < 400 && !states.some(canEnd); k++) {
        const options: [number, Frame[]][] = [];
        for (let b = 0x20; b < 0x7f; b++) {
          const next: Frame[] = [];
          for (const s of states) step(s, b, next);
          if (next.length) options.push([b, next]);
        }
        expect(options.length, `dead end after ${String.fromCharCode(...out)}`).toBeGreaterThan(0);
        // prefer closing bytes late in the walk so walks terminate
        const closers = options.filter(([b]) => '"]},'.includes(String.fromCharCode(b)));
        const pick = k > 40 && closers.length && rnd() < 0.7 ? closers : options;
        const [b, next] = pick[Math.floor(rnd() * pick.length)];
        out.push(b);
        states = next;
      }
      if (states.some(canEnd)) expect(validateOutput(schema, String.fromCharCode(...out)).ok, String.fromCharCode(...out)).toBe(true);
    }
  });
});
