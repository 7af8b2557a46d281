/** The console's activity log: per-turn time to first token and decode rate, rates between counter readings, bounded rings. */
import { describe, expect, it } from 'vitest';
import { ActivityLog, type CounterReading } from '../../runtime/host/activity-log.js';
import type { TurnResult } from '../../runtime/chat/types.js';

const turn = (sessionId: string, completionTokens: number, timing?: TurnResult['timing']): TurnResult => ({
  sessionId, finish: 'stop', message: { role: 'assistant', content: 'x' }, toolCalls: [], tokens: [], warnings: [],
  usage: { promptTokens: 100, prefilled: 40, reused: 60, completionTokens }, timing,
});
const reading = (o: Partial<CounterReading>): CounterReading => ({ generated: 0, prefilled: 0, turns: 0, steps: 0, stepSecondsSum: 0, queueDepth: 0, kvBytes: 0, residentSessions: 0, inFlight: 0, ...o });

describe('ActivityLog', () => {
  it('records time to first token and the decode rate after the first token', () => {
    const log = new ActivityLog({ maxTurns: 3, maxSamples: 3, intervalMs: 1000 });
    log.addTurn(turn('a', 11, { firstTokenMs: 50, totalMs: 550 }), 1);
    log.addTurn(turn('b', 1, { firstTokenMs: 30, totalMs: 30 }), 2);
    log.addTurn(turn('c', 5, { firstTokenMs: null, totalMs: 10 }), 3);
    const [c, b, a] = log.recentTurns();
    expect(a).toMatchObject({ sessionId: 'a', ttftMs: 50, totalMs: 550, decodeTps: 20, prefilled: 40, reused: 60 }); // 10 tokens in 500 ms
    expect(b).toMatchObject({ sessionId: 'b', ttftMs: 30, decodeTps: null });
    expect(c).toMatchObject({ sessionId: 'c', ttftMs: null, decodeTps: null });
    expect(log.recentTurns((id) => id === 'b').map((t) => t.sessionId)).toEqual(['b']);
  });

  it('keeps only the last maxTurns turns and maxSamples samples', () => {
    const log = new ActivityLog({ maxTurns: 2, maxSamples: 2, intervalMs: 1000 });
    for (const id of ['a', 'b', 'c']) log.addTurn(turn(id, 2, { firstTokenMs: 1, totalMs: 2 }));
    expect(log.recentTurns().map((t) => t.sessionId)).toEqual(['c', 'b']);
    for (let i = 0; i <= 4; i++) log.sample(reading({ generated: i * 10 }), 1000 * (i + 1));
    expect(log.history().map((s) => s.at)).toEqual([4000, 5000]);
  });

  it('turns cumulative counters into rates over each interval; the first reading is the baseline', () => {
    const log = new ActivityLog({ maxTurns: 2, maxSamples: 10, intervalMs: 2000 });
    log.sample(reading({ generated: 100, prefilled: 1000, steps: 10, stepSecondsSum: 1 }), 10_000);
    expect(log.history()).toEqual([]);
    log.sample(reading({ generated: 160, prefilled: 1400, turns: 2, steps: 30, stepSecondsSum: 1.5, queueDepth: 3, kvBytes: 4096, residentSessions: 2, inFlight: 1 }), 12_000);
    log.sample(reading({ generated: 160, prefilled: 1400, turns: 2, steps: 30, stepSecondsSum: 1.5 }), 14_000);
    const [s1, s2] = log.history();
    expect(s1).toEqual({ at: 12_000, generatedPerS: 30, prefilledPerS: 200, turnsPerS: 1, stepMs: 25, queueDepth: 3, kvBytes: 4096, residentSessions: 2, inFlight: 1 });
    expect(s2).toMatchObject({ generatedPerS: 0, stepMs: null });
  });
});
