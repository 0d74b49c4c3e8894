// The request patterns. Every contender runs the same pattern, interleaved
// (sequential: one request each in turn; burst: one burst each in turn;
// poisson: all streams at the same time), so machine noise hits all alike.
// Every loop is bounded by a count, and every request by REQUEST_DEADLINE_MS.
import type { Contender } from './contender.js';
import { openConnectionsForRate } from './direct-open.js';
import { poissonSchedule, seededRandom } from './poisson-schedule.js';
import { SampleSink, timedGet } from './timed-request.js';

export interface WorkloadContext {
  signal: AbortSignal;
  /** Called once per finished request. */
  onRequest: () => void;
}

/** Waits until performance.now() reaches `at`; false when aborted first. */
export function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  const ms = at - performance.now();
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The contenders in turn, the first one rotating each round so no contender is always first. */
function rotated<T>(items: readonly T[], round: number): T[] {
  const k = round % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

/** `rounds` rounds of one request per contender; a round starts no sooner than `gapMs` after the previous one. */
export async function runSequential(contenders: readonly Contender[], sinks: Map<Contender, SampleSink>, rounds: number, gapMs: number, ctx: WorkloadContext): Promise<void> {
  for (let round = 0; round < rounds && !ctx.signal.aborted; round++) {
    const start = performance.now();
    for (const c of rotated(contenders, round)) {
      if (ctx.signal.aborted) return;
      await c.prepare?.(1);
      sinks.get(c)!.record(await timedGet(c.target));
      ctx.onRequest();
    }
    if (round < rounds - 1 && !(await sleepUntil(start + gapMs, ctx.signal))) return;
  }
}

/** `bursts` rounds of `size` simultaneous requests per contender, one contender at a time. */
export async function runBursts(contenders: readonly Contender[], sinks: Map<Contender, SampleSink>, bursts: number, size: number, gapMs: number, ctx: WorkloadContext): Promise<void> {
  for (let round = 0; round < bursts && !ctx.signal.aborted; round++) {
    const start = performance.now();
    for (const c of rotated(contenders, round)) {
      if (ctx.signal.aborted) return;
      await c.prepare?.(size);
      const due = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: size }, () =>
          timedGet(c.target, due).then((o) => {
            ctx.onRequest();
            return o;
          }),
        ),
      );
      for (const o of outcomes) sinks.get(c)!.record(o);
    }
    if (round < bursts - 1 && !(await sleepUntil(start + gapMs, ctx.signal))) return;
  }
}

/** Hard cap on arrivals per contender, whatever rate × duration says. */
export const MAX_POISSON_ARRIVALS = 100_000;

/** Open-loop Poisson arrivals, all contenders at once, the same seeded schedule each. */
export async function runPoisson(
  contenders: readonly Contender[],
  sinks: Map<Contender, SampleSink>,
  ratePerSec: number,
  durationMs: number,
  seed: number,
  ctx: WorkloadContext,
): Promise<void> {
  await Promise.all(contenders.map((c) => c.prepare?.(openConnectionsForRate(ratePerSec))));
  const start = performance.now() + 20;
  // One schedule for all, so every contender gets the same arrivals; contender i
  // runs it shifted by i/k of the mean gap, so their requests do not coincide.
  const schedule = poissonSchedule(ratePerSec, durationMs, MAX_POISSON_ARRIVALS, seededRandom(seed));
  const shiftMs = 1000 / ratePerSec / Math.max(1, contenders.length);
  await Promise.all(
    contenders.map(async (c, i) => {
      const inFlight: Promise<void>[] = [];
      for (const offset of schedule) {
        const due = start + offset + i * shiftMs;
        if (!(await sleepUntil(due, ctx.signal))) break;
        inFlight.push(
          timedGet(c.target, due).then((o) => {
            sinks.get(c)!.record(o);
            ctx.onRequest();
          }),
        );
      }
      await Promise.all(inFlight);
    }),
  );
}

/** Requests per contender a workload will send (for the progress bar). */
export function expectedRequests(scenario: string, o: { requests: number; ratePerSec: number; durationMs: number; burstSize: number; bursts: number }): number {
  if (scenario === 'poisson' || scenario === 'poisson-close') return Math.max(1, Math.round((o.ratePerSec * o.durationMs) / 1000));
  if (scenario === 'burst') return o.burstSize * o.bursts;
  return o.requests;
}
