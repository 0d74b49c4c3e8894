import { describe, expect, it } from 'vitest';
import type { ColdRunResult } from '../../bench/own-time/cold-run.js';
import { OwnTimeUsageError, parseOwnTimeArgs } from '../../bench/own-time/own-time-args.js';
import { verdicts } from '../../bench/own-time/own-time-report.js';
import type { OwnTimeSummary } from '../../bench/own-time/own-time-summary.js';

describe('own-time command line', () => {
  it('runs every mode and contender by default, with a pool as large as the burst', () => {
    const o = parseOwnTimeArgs([]);
    expect(o.modes).toEqual(['idle', 'tight', 'burst']);
    expect(o.contenders).toEqual(['synpool', 'no-accel', 'node-proxy', 'nginx', 'no-accel-warm', 'node-proxy-warm', 'no-accel-local', 'node-proxy-local', 'relay-warm', 'lean-warm', 'floor']);
    expect(o.burst).toBe(32);
    expect(o.poolSize).toBe(32);
    expect(o.synpoolCli).toBeUndefined();
    const q = parseOwnTimeArgs(['--quick']);
    expect([q.burst, q.poolSize, q.requests]).toEqual([8, 8, 5]);
  });

  it('takes modes, contenders (kept in table order), burst and pool size', () => {
    const o = parseOwnTimeArgs(['--modes', 'burst', '--contenders', 'floor,synpool', '--burst', '16', '--pool-size', '8', '--synpool-cli', '/x/cli.js']);
    expect(o.modes).toEqual(['burst']);
    expect(o.contenders).toEqual(['synpool', 'floor']);
    expect([o.burst, o.poolSize, o.synpoolCli]).toEqual([16, 8, '/x/cli.js']);
    expect(parseOwnTimeArgs(['--synpool-workers', '2']).synpoolWorkers).toBe(2);
    expect(parseOwnTimeArgs([]).synpoolWorkers).toBeUndefined();
  });

  it('names the flag and what it takes', () => {
    expect(() => parseOwnTimeArgs(['--modes', 'idle,warm'])).toThrow(/--modes takes idle, tight, burst/);
    expect(() => parseOwnTimeArgs(['--contenders', 'haproxy'])).toThrow(OwnTimeUsageError);
    expect(() => parseOwnTimeArgs(['--burst', '1'])).toThrow(/--burst/);
    expect(() => parseOwnTimeArgs(['--pool-size', '0'])).toThrow(/--pool-size/);
  });
});

function summary(clientP50: number, ownP50: number): OwnTimeSummary {
  return {
    sent: 32,
    matched: 32,
    ok: 32,
    connections: { pool: 32 },
    requestMs: { p50: ownP50 - 1, p99: ownP50 },
    responseMs: { p50: 1, p99: 2 },
    totalMs: { p50: ownP50, p99: ownP50 + 1 },
    clientMs: { p50: clientP50, p99: clientP50 + 5 },
    upstreamWaitP50Ms: 40,
  };
}

function burstRun(
  synpoolClientP50: number,
  warm?: { clientP50: number; ownP50: number },
  local?: { clientP50: number; ownP50: number },
  relay?: { clientP50: number; ownP50: number },
  lean?: { clientP50: number; ownP50: number },
): ColdRunResult {
  const result = (contender: string, s: OwnTimeSummary) => ({ contender, mode: 'burst' as const, summary: s, unmatched: [], clientErrors: [], records: [] });
  return {
    mode: 'burst',
    capture: { segments: 0, droppedByKernel: 0, frames: 0, skipped: 0, truncated: 0, kept: undefined },
    results: [
      result('synpool', summary(synpoolClientP50, 20)),
      ...(warm ? [result('node proxy, warm', { ...summary(warm.clientP50, warm.ownP50), connections: { reused: 32 } })] : []),
      ...(local ? [result('synpool --no-accel, local', { ...summary(local.clientP50, local.ownP50), connections: { plain: 32 } })] : []),
      ...(relay ? [result('node:net relay, warm', { ...summary(relay.clientP50, relay.ownP50), connections: { reused: 32 } })] : []),
      ...(lean ? [result('node:http lean proxy, warm', { ...summary(lean.clientP50, lean.ownP50), connections: { reused: 32 } })] : []),
      result('node:http floor', summary(15, 10)),
    ],
  };
}

describe('burst verdict', () => {
  it('holds the client p50 against RTT + 5 ms when the pool is as large as the burst', () => {
    const met = verdicts([burstRun(44)], [], { burst: 32, poolSize: 32, measuredRttMs: 40 });
    expect(met.burstOverRttP50Ms).toBe(4);
    expect(met.burstMet).toBe(true);
    const missed = verdicts([burstRun(83)], [], { burst: 32, poolSize: 32, measuredRttMs: 40 });
    expect(missed.burstMet).toBe(false);
    expect(missed.lines.join('\n')).toMatch(/RTT \+ 43\.00 ms .*MISSED/);
    expect(missed.lines.join('\n')).toMatch(/floor in the same burst .* client p50 15\.00 ms/);
  });

  it('sets no target when the pool is smaller than the burst', () => {
    const v = verdicts([burstRun(83)], [], { burst: 32, poolSize: 8, measuredRttMs: 40 });
    expect(v.burstMet).toBeUndefined();
    expect(v.lines.join('\n')).toMatch(/smaller than the burst: no target/);
  });

  it('sets the warm contenders beside synpool when they ran, and says nothing of them when they did not', () => {
    const v = verdicts([burstRun(83, { clientP50: 70, ownP50: 16 })], [], { burst: 32, poolSize: 32, measuredRttMs: 40 });
    const line = v.lines.find((l) => l.startsWith('same burst'));
    expect(line).toMatch(/node proxy, warm: own p50 16\.00 \/ p99 17\.00 ms, client p50 70\.00 ms = RTT \+ 30\.00 \(reused 32\)/);
    expect(line).toMatch(/synpool pooled: own p50 20\.00 \/ p99 21\.00 ms, client p50 83\.00 ms = RTT \+ 43\.00$/);
    expect(verdicts([burstRun(83)], [], { burst: 32, poolSize: 32, measuredRttMs: 40 }).lines.some((l) => l.startsWith('same burst'))).toBe(false);
  });

  it('sets the local contenders (new connections, no link) on a line of their own, their client time without an RTT', () => {
    const run = { ...burstRun(83, { clientP50: 70, ownP50: 16 }, { clientP50: 25, ownP50: 19 }), mode: 'idle' as const };
    const v = verdicts([run], [], { burst: 32, poolSize: 32, measuredRttMs: 40 });
    const lines = v.lines.filter((l) => l.startsWith('after idleness'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/already open/);
    expect(lines[0]).not.toMatch(/local/);
    expect(lines[1]).toMatch(/new connection per request .*synpool --no-accel, local: own p50 19\.00 \/ p99 20\.00 ms, client p50 25\.00 ms \(plain 32\); synpool pooled: own p50 20\.00/);
    expect(lines[1]).not.toMatch(/client p50 25\.00 ms = RTT/);
  });

  it('judges the relay floor (no HTTP parsed) against the cold-path target, and sets it beside synpool on a line of its own', () => {
    const run = (relayOwnP50: number): ColdRunResult => ({ ...burstRun(83, undefined, undefined, { clientP50: 42, ownP50: relayOwnP50 }), mode: 'idle' });
    const over = verdicts([run(1.5)], [], undefined).lines;
    expect(over.find((l) => l.startsWith('relay floor'))).toMatch(/p50 1\.50 ms, p99 2\.50 ms: a Node proxy that parses no HTTP at all misses/);
    expect(over.find((l) => l.startsWith('after idleness'))).toMatch(/byte relay .*node:net relay, warm: own p50 1\.50 .*synpool pooled: own p50 20\.00/);
    const within = verdicts([run(0.5)], [], undefined).lines;
    expect(within.find((l) => l.startsWith('relay floor'))).toMatch(/p50 0\.50 ms, p99 1\.50 ms: within the cold-path target/);
    expect(verdicts([burstRun(83)], [], undefined).lines.some((l) => l.startsWith('relay floor'))).toBe(false);
  });

  it('judges the lean HTTP floor (node:http, hand-written upstream side) against the cold-path target, and sets it beside synpool', () => {
    const run = (leanOwnP50: number): ColdRunResult => ({ ...burstRun(83, undefined, undefined, undefined, { clientP50: 42, ownP50: leanOwnP50 }), mode: 'idle' });
    const over = verdicts([run(1.2)], [], undefined).lines;
    expect(over.find((l) => l.startsWith('lean HTTP floor'))).toMatch(/p50 1\.20 ms, p99 2\.20 ms: even a Node proxy with a hand-written upstream side misses/);
    expect(over.find((l) => l.startsWith('after idleness'))).toMatch(/hand-written upstream exchange .*node:http lean proxy, warm: own p50 1\.20 .*synpool pooled: own p50 20\.00/);
    const within = verdicts([run(0.8)], [], undefined).lines;
    expect(within.find((l) => l.startsWith('lean HTTP floor'))).toMatch(/p50 0\.80 ms, p99 1\.80 ms: within the cold-path target: a Node proxy that parses HTTP on both sides can meet it here/);
    const burst = verdicts([burstRun(83, undefined, undefined, undefined, { clientP50: 52, ownP50: 6 })], [], { burst: 32, poolSize: 32, measuredRttMs: 40 }).lines;
    expect(burst.find((l) => l.startsWith('same burst'))).toMatch(/node:http lean proxy, warm: own p50 6\.00 \/ p99 7\.00 ms, client p50 52\.00 ms = RTT \+ 12\.00/);
    expect(verdicts([burstRun(83)], [], undefined).lines.some((l) => l.startsWith('lean HTTP floor'))).toBe(false);
  });

  it('judges the relay and lean floors against the burst target when the pool is as large as the burst', () => {
    const run = burstRun(83, undefined, undefined, { clientP50: 46.5, ownP50: 1 }, { clientP50: 48, ownP50: 3 });
    const lines = verdicts([run], [], { burst: 32, poolSize: 32, measuredRttMs: 40 }).lines;
    expect(lines.find((l) => l.startsWith('relay floor in the same burst'))).toMatch(/client p50 46\.50 ms = RTT \+ 6\.50 ms: even a Node proxy that parses no HTTP misses the burst target/);
    expect(lines.find((l) => l.startsWith('lean HTTP floor in the same burst'))).toMatch(/RTT \+ 8\.00 ms: a Node proxy that parses HTTP misses the burst target/);
    const fast = verdicts([burstRun(83, undefined, undefined, { clientP50: 44, ownP50: 1 }, { clientP50: 45, ownP50: 3 })], [], { burst: 32, poolSize: 32, measuredRttMs: 40 }).lines;
    expect(fast.find((l) => l.startsWith('relay floor in the same burst'))).toMatch(/RTT \+ 4\.00 ms: within the burst target$/);
    expect(fast.find((l) => l.startsWith('lean HTTP floor in the same burst'))).toMatch(/RTT \+ 5\.00 ms: within the burst target: a Node proxy that parses HTTP can meet it here$/);
    const unsized = verdicts([run], [], { burst: 32, poolSize: 8, measuredRttMs: 40 }).lines;
    expect(unsized.some((l) => / floor in the same burst/.test(l) && /relay|lean/.test(l))).toBe(false);
  });
});
