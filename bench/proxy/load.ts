// A bounded closed-loop load generator: `concurrency` keep-alive clients, each
// sending its next request as soon as the previous one finished, for a fixed
// time (and at most `maxRequests`). Latencies are per request, in ms.
import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
}

/** One GET with its body read: the latency in ms, or undefined for an error or a status other than 200. */
async function timedGet(pool: Pool, path: string): Promise<number | undefined> {
  const start = performance.now();
  try {
    const res = await pool.request({ method: 'GET', path, headersTimeout: 10_000, bodyTimeout: 10_000 });
    await res.body.text();
    return res.statusCode === 200 ? performance.now() - start : undefined;
  } catch {
    return undefined;
  }
}

export async function closedLoop(o: { url: string; path: string; concurrency: number; durationMs: number; maxRequests: number }): Promise<LoadResult> {
  const pool = new Pool(o.url, { connections: o.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const latenciesMs: number[] = [];
  let errors = 0;
  let issued = 0;
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && issued < o.maxRequests) {
      issued++;
      const ms = await timedGet(pool, o.path);
      if (ms === undefined) errors++;
      else latenciesMs.push(ms);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  const seconds = (performance.now() - t0) / 1000;
  await pool.destroy();
  return { requests: latenciesMs.length, errors, seconds, latenciesMs };
}

/** One request at a time, `gapMs` apart: the latency of a request that needs a new upstream connection. */
export async function sequential(o: { url: string; path: string; count: number; gapMs: number }): Promise<LoadResult> {
  const pool = new Pool(o.url, { connections: 1, keepAliveTimeout: 30_000 });
  const latenciesMs: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  for (let i = 0; i < o.count; i++) {
    const ms = await timedGet(pool, o.path);
    if (ms === undefined) errors++;
    else latenciesMs.push(ms);
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  const seconds = (performance.now() - t0) / 1000;
  await pool.destroy();
  return { requests: latenciesMs.length, errors, seconds, latenciesMs };
}
