import { setTimeout as sleep } from 'node:timers/promises';
import { awaitEstablished } from '../handshake/await-established.js';
import { formatEndpoint, type Endpoint } from '../handshake/endpoint.js';
import type { Handshaker } from '../handshake/handshaker.js';
import { median } from '../util/stats.js';
import type { ProbeTls } from './probe-tls.js';
import { timedGet, timedHttpsGet, type TimedGetOptions } from './timed-get.js';

export interface ProbeOptions {
  target: Endpoint;
  path: string;
  hostHeader: string;
  /** How long each entry waits half-open before its handoff, ms. */
  waitMs: number;
  count: number;
  synAckTimeoutMs: number;
  requestTimeoutMs: number;
  /** An https:// URL: TLS before the GET, its time reported apart. */
  tls?: ProbeTls;
}

export interface ProbeRun {
  accelerated: { synAckRttMs: number; handoffUs: number; ttfbMs: number; totalMs: number; status: number; tlsMs?: number };
  plain: { connectMs: number; ttfbMs: number; totalMs: number; status: number; tlsMs?: number };
}

export interface ProbeResult {
  target: string;
  count: number;
  accelerated: { synAckRttMs: number; handoffUs: number; ttfbMs: number; totalMs: number; tlsMs?: number };
  plain: { connectMs: number; ttfbMs: number; totalMs: number; tlsMs?: number };
}

/** One accelerated GET then one plain GET to the same target, measured the same way. */
export async function probeOnce(hs: Handshaker, o: ProbeOptions): Promise<ProbeRun> {
  const entry = hs.open(o.target);
  const synAckRttMs = await awaitEstablished(hs, entry, o.synAckTimeoutMs);
  await sleep(o.waitMs);
  // Accelerated timings start before the handoff: it is part of what a request pays.
  const start = performance.now();
  const socket = hs.handoff(entry);
  const handoffUs = (performance.now() - start) * 1000;
  const base: TimedGetOptions = { host: o.target.address, port: o.target.port, path: o.path, hostHeader: o.hostHeader, timeoutMs: o.requestTimeoutMs };
  const get = (extra: Partial<TimedGetOptions>) => (o.tls === undefined ? timedGet({ ...base, ...extra }) : timedHttpsGet({ ...base, ...extra, tls: o.tls }));
  const acc = await get({ socket, startedAt: start });
  const plain = await get({});
  const tls = (ms: number | undefined) => (ms === undefined ? {} : { tlsMs: ms });
  return {
    accelerated: { synAckRttMs, handoffUs, ...tls(acc.tlsMs), ttfbMs: acc.ttfbMs, totalMs: acc.totalMs, status: acc.status },
    plain: { connectMs: plain.connectMs ?? Number.NaN, ...tls(plain.tlsMs), ttfbMs: plain.ttfbMs, totalMs: plain.totalMs, status: plain.status },
  };
}

export function summarize(target: Endpoint, runs: readonly ProbeRun[]): ProbeResult {
  const m = (pick: (r: ProbeRun) => number) => round(median(runs.map(pick)));
  const https = runs[0]?.accelerated.tlsMs !== undefined;
  return {
    target: formatEndpoint(target),
    count: runs.length,
    accelerated: {
      synAckRttMs: m((r) => r.accelerated.synAckRttMs),
      handoffUs: m((r) => r.accelerated.handoffUs),
      ...(https ? { tlsMs: m((r) => r.accelerated.tlsMs!) } : {}),
      ttfbMs: m((r) => r.accelerated.ttfbMs),
      totalMs: m((r) => r.accelerated.totalMs),
    },
    plain: {
      connectMs: m((r) => r.plain.connectMs),
      ...(https ? { tlsMs: m((r) => r.plain.tlsMs!) } : {}),
      ttfbMs: m((r) => r.plain.ttfbMs),
      totalMs: m((r) => r.plain.totalMs),
    },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
