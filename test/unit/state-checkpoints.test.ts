/** State checkpoint bookkeeping (LRU within a budget, pins, latest kept, truncation) and state files on disk. */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCheckpointBudget, StateCheckpoints } from '../../sessions/state-checkpoints.js';
import { loadStateFiles, persistCheckpoints, readStateFile, stateName } from '../../sessions/state-persist.js';
import { SnapshotCorruptError, ModelMismatchError } from '../../sessions/errors.js';

const blob = (n: number, v: number) => Buffer.alloc(n, v);

describe('StateCheckpoints', () => {
  it('defaults to a 64 MiB budget, or 8 states where a state is larger', () => {
    expect(defaultCheckpointBudget(2 ** 20)).toBe(64 * 2 ** 20);
    expect(defaultCheckpointBudget(63e6)).toBe(8 * 63e6); // a real Qwen3.6-35B-A3B state: 30 DeltaNet layers
    expect(new StateCheckpoints(20e6).budgetBytes).toBe(160e6);
  });

  it('finds the nearest checkpoint at or before a position, drops those past a cut', () => {
    const c = new StateCheckpoints(8, 1024);
    for (const p of [10, 30, 20]) c.add(p, blob(8, p));
    expect(c.figures().positions).toEqual([10, 20, 30]);
    expect(c.best(25)!.position).toBe(20);
    expect(c.best(30)!.position).toBe(30);
    expect(c.best(9)).toBeUndefined();
    expect(c.dropAfter(20).map((x) => x.position)).toEqual([30]);
    expect(c.best(100)!.position).toBe(20);
    c.add(20, blob(8, 99));
    expect(c.count).toBe(2);
    expect(c.get(20)!.bytes[0]).toBe(99);
    expect(() => c.add(5, blob(7, 0))).toThrow(RangeError);
  });

  it('evicts least recently used within the budget, never the latest nor a pinned one', () => {
    const c = new StateCheckpoints(100, 300);
    c.pin(10);
    c.add(10, blob(100, 1)); // pinned fork point
    c.add(20, blob(100, 2));
    c.add(30, blob(100, 3));
    c.best(20); // 20 used more recently than 30
    c.add(40, blob(100, 4)); // over budget: 30 is the LRU unpinned non-latest
    expect(c.figures().positions).toEqual([10, 20, 40]);
    c.add(50, blob(100, 5));
    expect(c.figures().positions).toEqual([10, 40, 50]);
    expect(c.bytes).toBeLessThanOrEqual(300);
    expect(c.figures().evicted).toBe(2);
    // A budget smaller than one state keeps the latest and the pinned one anyway.
    const tight = new StateCheckpoints(100, 50);
    tight.pin(1);
    tight.add(1, blob(100, 1));
    tight.add(2, blob(100, 2));
    tight.add(3, blob(100, 3));
    expect(tight.figures().positions).toEqual([1, 3]);
    tight.unpin(1);
    expect(tight.figures().positions).toEqual([3]);
    // Loaded unbounded, then bounded once the pins are known.
    const loaded = new StateCheckpoints(10, Infinity);
    for (const p of [1, 2, 3, 4]) loaded.add(p, blob(10, p));
    loaded.pin(1);
    loaded.setBudget(20);
    expect(loaded.figures().positions).toEqual([1, 4]);
  });

  it('hands a fork its checkpoints up to the fork point, unpersisted, buffers shared', () => {
    const c = new StateCheckpoints(4, 1 << 20);
    c.add(3, blob(4, 3), true);
    c.add(7, blob(4, 7), true);
    const child = new StateCheckpoints(4, 1 << 20);
    child.adopt(c.upTo(5));
    expect(child.figures().positions).toEqual([3]);
    expect(child.get(3)!.persisted).toBe(false);
    expect(child.get(3)!.bytes).toBe(c.get(3)!.bytes);
  });

  it('is inert without a recurrent state', () => {
    const c = new StateCheckpoints(0);
    expect(c.enabled).toBe(false);
    expect(c.best(10)).toBeUndefined();
    expect(c.figures()).toMatchObject({ count: 0, bytes: 0 });
    expect(() => c.add(1, Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe('state files', () => {
  const tokens = Array.from({ length: 50 }, (_, i) => 1000 + i);
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'resident-state-'));
    mkdirSync(join(dir, 'kv'));
    return dir;
  };

  it('round-trips the kept checkpoints and deletes the files of dropped ones', async () => {
    const dir = setup();
    const c = new StateCheckpoints(16, 1 << 20);
    c.add(10, blob(16, 10));
    c.add(40, blob(16, 40));
    expect(await persistCheckpoints(dir, 'm', tokens, c)).toBe(2);
    expect(await persistCheckpoints(dir, 'm', tokens, c)).toBe(0);
    c.dropAfter(20);
    await persistCheckpoints(dir, 'm', tokens, c);
    expect(readdirSync(join(dir, 'kv'))).toEqual([stateName(10)]);
    const back = new StateCheckpoints(16, 1 << 20);
    await loadStateFiles(dir, 's', 'm', tokens, back, () => {});
    expect(back.figures().positions).toEqual([10]);
    expect(back.get(10)!.bytes.equals(blob(16, 10))).toBe(true);
    expect(back.get(10)!.persisted).toBe(true);
  });

  it('deletes files whose tokens changed, quarantines damaged and refuses foreign ones', async () => {
    const dir = setup();
    const c = new StateCheckpoints(16, 1 << 20);
    c.add(10, blob(16, 10));
    c.add(30, blob(16, 30));
    c.add(45, blob(16, 45));
    await persistCheckpoints(dir, 'm', tokens, c);
    const f30 = join(dir, 'kv', stateName(30));
    const b = readFileSync(f30);
    b[b.length - 1] ^= 1;
    writeFileSync(f30, b);
    await expect(readStateFile(f30, 's', 'm', 16)).rejects.toBeInstanceOf(SnapshotCorruptError);
    await expect(readStateFile(join(dir, 'kv', stateName(10)), 's', 'other', 16)).rejects.toBeInstanceOf(ModelMismatchError);
    const changed = [...tokens.slice(0, 40), 7, ...tokens.slice(41)];
    const warnings: string[] = [];
    const back = new StateCheckpoints(16, 1 << 20);
    await loadStateFiles(dir, 's', 'm', changed, back, (m) => warnings.push(m));
    expect(back.figures().positions).toEqual([10]);
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/checksum/);
    expect(readdirSync(join(dir, 'kv')).sort()).toEqual([stateName(10), `${stateName(30)}.bad`]);
  });
});
