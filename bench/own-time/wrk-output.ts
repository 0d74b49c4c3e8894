// Reads what `wrk --latency` prints: requests/s, the count, the latency
// distribution, and the error lines (present only when there were errors).
export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  seconds: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Socket errors (connect + read + write + timeout) plus non-2xx/3xx responses. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function durationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

export function parseWrkOutput(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(out);
  if (!rps || !total) throw new Error(`wrk printed no result: ${out.trim().slice(-400)}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sum = (m: RegExpExecArray | null): number => (m ? m.slice(1).reduce((a, x) => a + Number(x), 0) : 0);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    seconds: Number(total[2]) * UNIT_MS[total[3]!]! / 1e3,
    p50Ms: durationMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: durationMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: sum(socket) + sum(non2xx),
  };
}
