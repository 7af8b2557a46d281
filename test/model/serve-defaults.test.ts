/**
 * Defaults that are fast (runtime/host/fast-defaults.ts), on the real host and CLI:
 *   - bf16 activations are chosen by default exactly where the weights are BF16 and the CPU has AVX512_BF16
 *     (the oracle for the CPU: /proc/cpuinfo's flags and the engine's best kernel level); `--activations f32` opts out;
 *   - `--slots` and `--kv-budget` default to what the machine's memory and the model's KV size give, and
 *     `resident serve` prints them at start.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bf16DotAvailable, nativeBinding } from '../../engine/native.js';
import { serveConfig } from '../../runtime/config.js';
import { availableMemoryBytes, defaultKvBudget, defaultSlots } from '../../runtime/host/fast-defaults.js';
import { Host } from '../../runtime/host/host.js';
import { ensureModel } from '../support/models.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** AVX512_BF16 as the OS reports it, and the engine running its AVX-512 level (where the vdpbf16ps kernels live). */
function cpuHasAvx512Bf16(): boolean {
  if (!existsSync('/proc/cpuinfo')) throw new Error('/proc/cpuinfo is missing: this test reads the CPU flags from it');
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  return flags.includes('avx512_bf16') && nativeBinding().kernelLevels[0] === 'avx512' && !process.env.RESIDENT_KERNELS;
}

async function startHost(dtype: 'f32' | 'bf16', over: Parameters<typeof serveConfig>[0] = {}): Promise<Host> {
  const model = (await ensureModel('tiny', dtype)).dir;
  const dataDir = mkdtempSync(join(tmpdir(), 'resident-defaults-'));
  return new Host(serveConfig({ model, dataDir, port: 0, threads: 2, contextTokens: 4096, ...over }), { log: () => {} }).start();
}

async function closeHost(h: Host): Promise<void> {
  const dir = h.config.dataDir;
  await h.close();
  rmSync(dir, { recursive: true, force: true });
}

describe('bf16 activations by default', () => {
  it('the engine probe agrees with the CPU flags', () => {
    const has = cpuHasAvx512Bf16();
    console.log(`this CPU ${has ? 'has' : 'lacks'} AVX512_BF16 (with the AVX-512 kernels)`);
    expect(bf16DotAvailable()).toBe(has);
  });

  it('BF16 weights: bf16 exactly when the CPU has AVX512_BF16; --activations f32 opts out', async () => {
    const h = await startHost('bf16');
    expect(h.engine.activationMode).toBe(cpuHasAvx512Bf16() ? 'bf16' : 'f32');
    expect(h.resolved!.activations).toBe(h.engine.activationMode);
    await closeHost(h);
    const off = await startHost('bf16', { activations: 'f32' });
    expect(off.engine.activationMode).toBe('f32');
    await closeHost(off);
  }, 120_000);

  it('F32 weights and int8 weights: f32', async () => {
    const f = await startHost('f32');
    expect(f.engine.activationMode).toBe('f32');
    await closeHost(f);
    const q = await startHost('bf16', { weights: 'int8' });
    expect(q.engine.activationMode).toBe('f32');
    await closeHost(q);
  }, 120_000);
});

describe('--slots and --kv-budget from memory', () => {
  it('derives them from the available memory and the KV size of a session, and keeps given flags', async () => {
    const h = await startHost('f32');
    const probe = h.engine.createSlot(1);
    const avail = availableMemoryBytes();
    const weights = statSync(join(h.modelDir, 'model.safetensors')).size;
    const budget = h.resolved!.kvBudgetBytes;
    // memory moves a little between start and now: the budget is that of about the same available memory
    expect(Math.abs(budget - defaultKvBudget(avail, weights))).toBeLessThan(512 * 2 ** 20);
    expect(h.resolved!.slots).toBe(defaultSlots(budget, probe.bytesPerToken, probe.stateBytes, h.capacity));
    expect(h.store.memory()).toMatchObject({ maxResidentSlots: h.resolved!.slots, kvBudgetBytes: budget });
    probe.dispose();
    await closeHost(h);
    const given = await startHost('f32', { slots: 3, kvBudgetBytes: 2 ** 30 });
    expect(given.resolved).toMatchObject({ slots: 3, kvBudgetBytes: 2 ** 30 });
    await closeHost(given);
  }, 120_000);

  it('resident serve prints the slots, the KV budget, the activations and the durability at start', async () => {
    const model = (await ensureModel('tiny', 'f32')).dir;
    const dataDir = mkdtempSync(join(tmpdir(), 'resident-defaults-cli-'));
    const child = spawn(process.execPath, [join(ROOT, 'bin/resident.js'), 'serve', '--model', model, '--data', dataDir, '--port', '0', '--threads', '2', '--context', '4096'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    const deadline = Date.now() + 60_000;
    while (!/journal durability/.test(log)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    expect(log).toMatch(/resident: \d+ slots \(the budget \/ [\d.]+ GiB per 4096-token session; --slots N overrides\), KV budget [\d.]+ GiB \(half the available memory after the weights\)/);
    expect(log).toMatch(/resident: f32 activations \(f32 weights\)/);
    expect(log).toMatch(/resident: journal durability batched \(fdatasync every 50 ms\)/);
  }, 120_000);
});
