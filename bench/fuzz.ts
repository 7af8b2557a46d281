/**
 * Fuzz benchmark: mutated requests over every route against a real server on the tiny model (a
 * fresh data folder), counting answers by status class. Goal: 0 5xx, 0 hangs, 0 crashes.
 *   npx tsx bench/fuzz.ts [--count 10000] [--seed 1] [--timeout-ms 30000] [--url http://127.0.0.1:8080] [--model ID] [--json]
 * `--url`: fuzz a running `resident serve` instead (its model id from /v1/models unless --model). Exit code 1 when
 * the goal is missed. The test suite runs a fixed-seed sample (test/model/http-fuzz.test.ts).
 */
import { parseArgs } from 'node:util';
import { startTestServer } from '../test/model/http-support.js';
import { runFuzz } from './fuzz-requests.js';

const { values: a } = parseArgs({ options: { count: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' }, 'timeout-ms': { type: 'string', default: '30000' }, url: { type: 'string' }, model: { type: 'string' }, json: { type: 'boolean', default: false } } });
const srv = a.url ? undefined : await startTestServer({ headersTimeoutMs: 5000, requestTimeoutMs: 30000 });
const url = a.url ?? srv!.url;
const model = a.model ?? srv?.host.modelId ?? ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data[0]!.id;
try {
  const count = Number(a.count);
  let shown = 0;
  const report = await runFuzz(url, {
    seed: Number(a.seed), count, timeoutMs: Number(a['timeout-ms']), model,
    onProgress: (n, r) => {
      if (a.json) return;
      while (shown < r.failures.length) {
        const f = r.failures[shown++]!;
        process.stderr.write(`  ${f.status} ${f.method} ${f.path} [${f.what}]: ${f.detail}\n`);
      }
      if (n % 250 === 0) process.stderr.write(`${n}/${count} ${JSON.stringify(r.byClass)}\n`);
    },
  });
  if (a.json) console.log(JSON.stringify(report));
  else {
    console.log(`sent ${report.sent} requests in ${report.seconds.toFixed(1)} s (seed ${a.seed})`);
    console.log(Object.entries(report.byClass).map(([k, v]) => `${k}: ${v}`).join('  '));
    for (const f of report.failures.slice(0, 20)) console.log(`  ${f.status} ${f.method} ${f.path} [${f.what}]: ${f.detail}`);
    console.log('slowest answers:');
    for (const s of report.slowest) console.log(`  ${s.ms} ms ${s.status} ${s.method} ${s.path} [${s.what}] (request #${s.i})`);
  }
  process.exitCode = report.byClass['5xx'] + report.byClass.hang + report.byClass.crash === 0 ? 0 : 1;
} finally {
  await srv?.close();
}
