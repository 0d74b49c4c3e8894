// Quantiles of the own-time records of one contender in one mode.
import { quantile } from '../../src/util/stats.js';
import type { OwnTimeRecord, UpstreamConnection } from './own-time.js';

export interface Quantiles {
  p50: number;
  p99: number;
}

export interface OwnTimeSummary {
  /** Requests sent, matched across the capture, and answered 200 by the client's count. */
  sent: number;
  matched: number;
  ok: number;
  connections: Partial<Record<UpstreamConnection, number>>;
  requestMs: Quantiles | undefined;
  responseMs: Quantiles | undefined;
  totalMs: Quantiles | undefined;
  /** The client's own clock, connect → last response byte, successful requests (network waits included). */
  clientMs: Quantiles | undefined;
  /** Median data out → response in: about one round trip (sanity check on the link). */
  upstreamWaitP50Ms: number | undefined;
}

function q(values: readonly (number | undefined)[]): Quantiles | undefined {
  const v = values.filter((x): x is number => x !== undefined);
  if (v.length === 0) return undefined;
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r3(quantile(v, 0.5)), p99: r3(quantile(v, 0.99)) };
}

export function summarize(records: readonly OwnTimeRecord[], sent: number, ok: number, clientMs: readonly number[] = []): OwnTimeSummary {
  const connections: Partial<Record<UpstreamConnection, number>> = {};
  for (const r of records) if (r.connection) connections[r.connection] = (connections[r.connection] ?? 0) + 1;
  return {
    sent,
    matched: records.length,
    ok,
    connections,
    requestMs: q(records.map((r) => r.requestMs)),
    responseMs: q(records.map((r) => r.responseMs)),
    totalMs: q(records.map((r) => r.totalMs)),
    clientMs: q(clientMs),
    upstreamWaitP50Ms: q(records.map((r) => r.upstreamWaitMs))?.p50,
  };
}
