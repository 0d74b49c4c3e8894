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
      const start = performance.now();
      try {
        const res = await pool.request({ method: 'GET', path: o.path, headersTimeout: 10_000, bodyTimeout: 10_000 });
        await res.body.text();
        if (res.statusCode === 200) latenciesMs.push(performance.now() - start);
        else errors++;
      } catch {
        errors++;
      }
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
    const start = performance.now();
    try {
      const res = await pool.request({ method: 'GET', path: o.path, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.text();
      if (res.statusCode === 200) latenciesMs.push(performance.now() - start);
      else errors++;
    } catch {
      errors++;
    }
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  const seconds = (performance.now() - t0) / 1000;
  await pool.destroy();
  return { requests: latenciesMs.length, errors, seconds, latenciesMs };
}
