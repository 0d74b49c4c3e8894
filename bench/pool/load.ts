// The request side of the pool benchmark: Poisson arrivals (or one burst),
// each one request the way the proxy makes it: pool.acquire(target), else a
// plain connect; one GET with Connection: close; a pooled reset is reported
// and replayed once on a plain connection.
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { PoolManager } from '../../src/pool/pool-manager.js';
import { httpGet } from './http-get.js';

export interface RequestSample {
  /** acquire() returned a socket. */
  readonly hit: boolean;
  /** How long acquire() took (take + handoff for a hit), µs. */
  readonly acquireUs: number;
  /** Arrival → first response byte, ms (for a replayed request: of the replay, from arrival). */
  readonly ttfbMs: number;
  readonly status: number;
  /** The pooled connection was reset on first use and the request replayed. */
  readonly replayed: boolean;
  readonly error?: string;
}

export interface LoadContext {
  readonly pool: PoolManager;
  readonly target: Endpoint;
  readonly timeoutMs: number;
}

const POOLED_RESET = 'SYNPOOL_ERR_POOLED_RESET';

export async function pooledRequest(ctx: LoadContext): Promise<RequestSample> {
  const { pool, target } = ctx;
  const t0 = performance.now();
  const socket = pool.acquire(target);
  const acquireUs = (performance.now() - t0) * 1000;
  const get = { host: target.address, port: target.port, startedAt: t0, timeoutMs: ctx.timeoutMs };
  try {
    const res = await httpGet(socket === undefined ? get : { ...get, socket });
    return { hit: socket !== undefined, acquireUs, ttfbMs: res.ttfbMs, status: res.status, replayed: false };
  } catch (err) {
    if (socket !== undefined && (err as { code?: string }).code === POOLED_RESET) {
      // acquire() watches its socket: the pool already learned from this reset.
      try {
        const res = await httpGet(get);
        return { hit: true, acquireUs, ttfbMs: res.ttfbMs, status: res.status, replayed: true };
      } catch (again) {
        return { hit: true, acquireUs, ttfbMs: Number.NaN, status: 0, replayed: true, error: String(again) };
      }
    }
    return { hit: socket !== undefined, acquireUs, ttfbMs: Number.NaN, status: 0, replayed: false, error: String(err) };
  }
}

/** A plain connect + GET that never touches the pool: the baseline. */
export async function plainRequest(ctx: LoadContext): Promise<number> {
  const t0 = performance.now();
  const res = await httpGet({ host: ctx.target.address, port: ctx.target.port, startedAt: t0, timeoutMs: ctx.timeoutMs });
  return res.status === 200 ? res.ttfbMs : Number.NaN;
}

export interface ArrivalOptions {
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Each arrival also sends a baseline request with this probability. */
  readonly baselineProbability: number;
  readonly random?: () => number;
}

/**
 * Poisson arrivals at `ratePerSec` for `durationMs` (absolute schedule, so
 * timer lateness does not lower the rate). Resolves when the last arrival has
 * been sent; `inflight` holds every request still running.
 */
export async function poissonArrivals(
  ctx: LoadContext,
  o: ArrivalOptions,
  sink: { samples: RequestSample[]; baseline: number[]; inflight: Set<Promise<unknown>> },
): Promise<void> {
  const random = o.random ?? Math.random;
  const start = performance.now();
  const maxArrivals = Math.ceil((o.ratePerSec * o.durationMs) / 1000) * 3 + 100;
  let at = start;
  for (let i = 0; i < maxArrivals; i++) {
    at += (-Math.log(1 - random()) / o.ratePerSec) * 1000;
    if (at - start >= o.durationMs) break;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    track(sink.inflight, pooledRequest(ctx).then((s) => sink.samples.push(s)));
    if (random() < o.baselineProbability) {
      track(sink.inflight, plainRequest(ctx).then((ms) => sink.baseline.push(ms), () => sink.baseline.push(Number.NaN)));
    }
  }
  const rest = start + o.durationMs - performance.now();
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
}

function track(set: Set<Promise<unknown>>, p: Promise<unknown>): void {
  const q = p.finally(() => set.delete(q));
  set.add(q);
}
