// The idle-penalty probe (idle-penalty.ts runs it in a fresh process): one fixed
// piece of CPU work, timed back to back and after each pause.
//   node dist/bench/own-time/idle-penalty-probe.js GAP_MS:SAMPLES[,GAP_MS:SAMPLES…]
// Prints one JSON line, an IdlePenaltyProbe.
import { setTimeout as sleep } from 'node:timers/promises';
import { quantile } from '../../src/util/stats.js';
import { formatPlan, IDLE_PENALTY_PLAN, parsePlan, type IdlePenaltyProbe, type IdlePenaltyStep } from './idle-penalty.js';

/** What a request's work touches, in small: a JSON round trip, short-lived objects, and 1 MiB of data. */
const WORKLOAD = 'a JSON round trip of a 2 KB object, 64 short-lived objects, one read per 64-byte line of a 1 MiB array';

const data = new Float64Array((1 << 20) / 8);
for (let i = 0; i < data.length; i++) data[i] = i;
const doc = { headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-header-${i}`, `value-${i}-${'v'.repeat(20)}`])) };

function work(): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 8) sum += data[i]!;
  const copy = JSON.parse(JSON.stringify(doc)) as typeof doc;
  const objs: { i: number; s: string }[] = [];
  for (let i = 0; i < 64; i++) objs.push({ i, s: `k${i}` });
  return sum + Object.keys(copy.headers).length + objs.length;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
/** Every result feeds this, so the compiler cannot drop the work as unused. */
let sink = 0;

async function timeAfter(gapMs: number, samples: number): Promise<IdlePenaltyStep> {
  const us: number[] = [];
  for (let i = 0; i < samples; i++) {
    // Back to back still yields to the event loop, as requests do; only the pause differs.
    if (gapMs > 0) await sleep(gapMs);
    else await new Promise<void>((resolve) => setImmediate(resolve));
    const t0 = process.hrtime.bigint();
    sink += work();
    us.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return { gapMs, samples, p50Us: round1(quantile(us, 0.5)), p90Us: round1(quantile(us, 0.9)) };
}

const plan = parsePlan(process.argv[2] ?? formatPlan(IDLE_PENALTY_PLAN));
// The JIT is warm before the first sample: what is left after a pause is the machine's, not the compiler's.
for (let i = 0; i < 2_000; i++) sink += work();
const steps: IdlePenaltyStep[] = [];
for (const p of plan) steps.push(await timeAfter(p.gapMs, p.samples));
process.stdout.write(`${JSON.stringify({ workload: WORKLOAD, steps } satisfies IdlePenaltyProbe)}\n`);
if (sink < 0) process.exitCode = 1;
