import { describe, expect, it } from 'vitest';
import { ResidencyPolicy } from '../../sessions/residency.js';
import { ResidencyError } from '../../sessions/errors.js';
import { planRestore, unusedSegments, type SegmentRef } from '../../sessions/kv-plan.js';
import { prefixHash } from '../../sessions/checksum.js';

describe('residency policy', () => {
  it('spills least recently used first, skipping pinned/busy sessions', () => {
    const p = new ResidencyPolicy({ maxSlots: 3, kvBudgetBytes: 1000 });
    for (const id of ['a', 'b', 'c']) p.admit(id, 100);
    p.touch('a');
    expect(p.victims('d', 100, () => true)).toEqual(['b']);
    expect(p.victims('d', 100, (id) => id !== 'b')).toEqual(['c']);
    expect(p.victims('a', 100, () => true)).toEqual([]); // already resident
    expect(() => p.victims('d', 100, () => false)).toThrow(ResidencyError);
  });

  it('respects the byte budget and reports totals', () => {
    const p = new ResidencyPolicy({ maxSlots: 10, kvBudgetBytes: 1000 });
    p.admit('a', 400);
    p.admit('b', 300);
    p.admit('c', 200);
    expect(p.totalBytes).toBe(900);
    expect(p.victims('d', 500, () => true)).toEqual(['a']); // 900 - 400 + 500 = 1000 fits
    expect(p.victims('d', 600, () => true)).toEqual(['a', 'b']);
    p.touch('a', 50);
    expect(p.victims('d', 500, () => true)).toEqual(['b']);
    expect(() => p.victims('d', 2000, () => true)).toThrow(/more than the whole budget/);
    p.remove('b');
    expect(p.ids().sort()).toEqual(['a', 'c']);
  });
});

describe('restore planning', () => {
  const toks = Array.from({ length: 100 }, (_, i) => i);
  const seg = (start: number, end: number, t: number[] = toks): SegmentRef => ({ file: `${start}-${end}`, start, end, prefixHash: prefixHash(t, start), tokens: t.slice(start, end) });

  it('chains segments, uses partially valid ones after a rollback, ignores stale ones', () => {
    const a = seg(0, 40);
    const b = seg(40, 80);
    expect(planRestore([a, b], toks).covered).toBe(80);
    // rollback to 60 then different tokens appended
    const edited = [...toks.slice(0, 60), 500, 501, 502];
    const r = planRestore([a, b], edited);
    expect(r.covered).toBe(60);
    expect(r.steps.map((s) => [s.seg.start, s.upTo])).toEqual([[0, 40], [40, 60]]);
    const c = seg(60, 63, edited);
    expect(planRestore([a, b, c], edited).covered).toBe(63);
    // a segment computed from another prefix is never used
    const foreign = seg(40, 80, [...toks.slice(0, 39), 7, ...toks.slice(40)]);
    expect(planRestore([a, foreign], toks).covered).toBe(40);
    expect(unusedSegments([a, foreign], toks)).toEqual([foreign]);
  });
});
