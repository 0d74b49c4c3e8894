// The machine's idle penalty: how much slower the same CPU work runs after a
// pause than back to back. On a VM whose idle vCPU halts (this host's haltpoll
// does not poll), caches are cold again after a few ms (large pages did not help:
// not the TLB), so every request that follows a pause pays it in proportion to what
// its code and data touch. Here it is what turns a Node HTTP proxy's work into
// 1.5–2 ms after idleness, while nginx, whose per-request footprint is small, barely
// pays it (docs/own-time.md, Results, stop 21).
// The probe runs in a fresh process (idle-penalty-probe.ts), before the contenders start.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface IdlePenaltyStep {
  /** Idleness before each sample (0: back to back, one event-loop turn apart). */
  gapMs: number;
  samples: number;
  p50Us: number;
  p90Us: number;
}

export interface IdlePenaltyProbe {
  workload: string;
  steps: IdlePenaltyStep[];
}

export interface IdlePenaltyPlanStep {
  gapMs: number;
  samples: number;
}

export const IDLE_PENALTY_PLAN: readonly IdlePenaltyPlanStep[] = [
  { gapMs: 0, samples: 200 },
  { gapMs: 40, samples: 100 },
  { gapMs: 1000, samples: 15 },
];
export const IDLE_PENALTY_PLAN_QUICK: readonly IdlePenaltyPlanStep[] = [
  { gapMs: 0, samples: 50 },
  { gapMs: 40, samples: 20 },
  { gapMs: 1000, samples: 3 },
];

export function formatPlan(plan: readonly IdlePenaltyPlanStep[]): string {
  return plan.map((s) => `${s.gapMs}:${s.samples}`).join(',');
}

/** `GAP_MS:SAMPLES,…`; anything else is an error naming the item. */
export function parsePlan(text: string): IdlePenaltyPlanStep[] {
  return text.split(',').map((item) => {
    const m = /^(\d{1,6}):(\d{1,5})$/.exec(item.trim());
    if (!m || Number(m[2]) < 1) throw new Error(`idle-penalty: expected GAP_MS:SAMPLES, got ${JSON.stringify(item)}`);
    return { gapMs: Number(m[1]), samples: Number(m[2]) };
  });
}

/** The probe's output line, checked: a probe that printed anything else is a failed measurement. */
export function parseProbe(line: string): IdlePenaltyProbe {
  let p: Partial<IdlePenaltyProbe>;
  try {
    p = JSON.parse(line) as Partial<IdlePenaltyProbe>;
  } catch {
    throw new Error(`idle-penalty: unexpected probe output ${line.slice(0, 200)}`);
  }
  const ok =
    typeof p.workload === 'string' &&
    Array.isArray(p.steps) &&
    p.steps.length > 0 &&
    p.steps.every((s) => [s.gapMs, s.samples, s.p50Us, s.p90Us].every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0));
  if (!ok) throw new Error(`idle-penalty: unexpected probe output ${line.slice(0, 200)}`);
  return p as IdlePenaltyProbe;
}

/** A pause's p50 at least this many times the back-to-back p50 is reported as a penalty. */
export const MARKED_PENALTY = 2;

/** Each pause's p50 over the back-to-back p50 (undefined without a back-to-back step). */
export function penaltyRatios(p: IdlePenaltyProbe): { gapMs: number; ratio: number }[] | undefined {
  const base = p.steps.find((s) => s.gapMs === 0);
  if (base === undefined || base.p50Us <= 0) return undefined;
  return p.steps.filter((s) => s.gapMs > 0).map((s) => ({ gapMs: s.gapMs, ratio: Math.round((s.p50Us / base.p50Us) * 10) / 10 }));
}

const PROBE = fileURLToPath(new URL('./idle-penalty-probe.js', import.meta.url));

/** `probe`: the compiled probe (tests run this file from source, beside no .js). */
export function measureIdlePenalty(plan: readonly IdlePenaltyPlanStep[], signal: AbortSignal, probe = PROBE): Promise<IdlePenaltyProbe> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [probe, formatPlan(plan)], { signal, timeout: 120_000 }, (err, stdout) => {
      if (err) return reject(err);
      try {
        resolve(parseProbe(stdout.trim().split('\n').pop() ?? ''));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
