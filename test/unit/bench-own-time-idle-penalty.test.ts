import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ColdRunResult } from '../../bench/own-time/cold-run.js';
import { formatPlan, measureIdlePenalty, parsePlan, parseProbe, penaltyRatios, type IdlePenaltyProbe } from '../../bench/own-time/idle-penalty.js';
import { parseOwnTimeArgs } from '../../bench/own-time/own-time-args.js';
import { idlePenaltyLine, verdicts } from '../../bench/own-time/own-time-report.js';
import type { OwnTimeSummary } from '../../bench/own-time/own-time-summary.js';

const PROBE = fileURLToPath(new URL('../../dist/bench/own-time/idle-penalty-probe.js', import.meta.url));

const probe: IdlePenaltyProbe = {
  workload: 'w',
  steps: [
    { gapMs: 0, samples: 200, p50Us: 20, p90Us: 25 },
    { gapMs: 40, samples: 100, p50Us: 110, p90Us: 150 },
    { gapMs: 1000, samples: 15, p50Us: 130, p90Us: 200 },
  ],
};

function own(p50: number): OwnTimeSummary {
  return { sent: 5, matched: 5, ok: 5, connections: {}, requestMs: undefined, responseMs: undefined, totalMs: { p50, p99: p50 * 2 }, clientMs: undefined, upstreamWaitP50Ms: undefined };
}

function run(mode: 'idle' | 'tight', floorP50: number, nginxP50: number): ColdRunResult {
  const result = (contender: string, s: OwnTimeSummary) => ({ contender, mode, summary: s, unmatched: [], clientErrors: [], records: [] });
  return {
    mode,
    capture: { segments: 0, droppedByKernel: 0, frames: 0, skipped: 0, truncated: 0, kept: undefined },
    results: [result('node:http floor', own(floorP50)), result('nginx', own(nginxP50))],
  };
}

describe('idle penalty', () => {
  it('reads and writes the probe plan, and names a bad item', () => {
    expect(parsePlan('0:200, 40:100,1000:15')).toEqual([
      { gapMs: 0, samples: 200 },
      { gapMs: 40, samples: 100 },
      { gapMs: 1000, samples: 15 },
    ]);
    expect(formatPlan(parsePlan('0:5,40:3'))).toBe('0:5,40:3');
    expect(() => parsePlan('0:200,40')).toThrow(/GAP_MS:SAMPLES, got "40"/);
    expect(() => parsePlan('5:0')).toThrow(/"5:0"/);
    expect(() => parsePlan('-1:3')).toThrow(/"-1:3"/);
  });

  it('refuses probe output that is not a measurement', () => {
    expect(parseProbe(JSON.stringify(probe))).toEqual(probe);
    expect(() => parseProbe('{"workload":"w","steps":[]}')).toThrow(/unexpected probe output/);
    expect(() => parseProbe('{"workload":"w","steps":[{"gapMs":0,"samples":1,"p50Us":null,"p90Us":1}]}')).toThrow(/unexpected probe output/);
    expect(() => parseProbe('warning: something')).toThrow(/unexpected probe output warning/);
  });

  it('gives each pause against back to back, and nothing without a back-to-back step', () => {
    expect(penaltyRatios(probe)).toEqual([
      { gapMs: 40, ratio: 5.5 },
      { gapMs: 1000, ratio: 6.5 },
    ]);
    expect(penaltyRatios({ workload: 'w', steps: probe.steps.slice(1) })).toBeUndefined();
  });

  it('reports the penalty beside the floor paying it in the same run', () => {
    const line = idlePenaltyLine(probe, [run('idle', 0.6, 0.45), run('tight', 0.2, 0.42)]);
    expect(line).toContain('p50 20 µs back to back, 110 µs after 40 ms, 130 µs after 1000 ms of idleness (× 5.5, × 6.5)');
    expect(line).toContain('runs several times slower than back to back');
    expect(line).toContain('the node:http floor: own p50 0.20 ms back to back (tight), 0.60 ms after idleness (× 3.0)');
    expect(line).toContain('nginx, with a small footprint per request: 0.42 ms tight, 0.45 ms after idleness');
    // Without the cold runs, the machine's figures alone.
    expect(idlePenaltyLine(probe, [])).not.toContain('floor');
    expect(verdicts([], [], undefined, probe).lines).toEqual([idlePenaltyLine(probe, [])]);
    expect(verdicts([], []).lines).toEqual([]);
    // A host without the penalty is not said to have one.
    const flat: IdlePenaltyProbe = { workload: 'w', steps: probe.steps.map((s) => ({ ...s, p50Us: s.gapMs === 0 ? 20 : 25 })) };
    expect(idlePenaltyLine(flat, [])).toContain('(× 1.3, × 1.3): no marked penalty on this host (under × 2)');
    expect(idlePenaltyLine(flat, [])).not.toContain('several times');
  });

  it('is a part of its own, on by default', () => {
    expect(parseOwnTimeArgs([]).parts).toEqual({ cold: true, throughput: true, machine: true });
    expect(parseOwnTimeArgs(['--parts', 'machine']).parts).toEqual({ cold: false, throughput: false, machine: true });
    expect(() => parseOwnTimeArgs(['--parts', 'cold,warm'])).toThrow(/--parts takes cold, throughput, machine/);
  });

  it('measures with the real probe in a fresh process', async () => {
    const p = await measureIdlePenalty(parsePlan('0:20,5:5'), AbortSignal.timeout(60_000), PROBE);
    expect(p.steps.map((s) => [s.gapMs, s.samples])).toEqual([
      [0, 20],
      [5, 5],
    ]);
    expect(p.steps.every((s) => s.p50Us > 0 && s.p90Us >= s.p50Us)).toBe(true);
    expect(p.workload).toMatch(/1 MiB/);
  });
});
