// Parses wrk's text summary. Pure, so a unit test can feed it hostile text.

export interface WrkSummary {
  /** "N requests in Xs": responses completed (any status). */
  readonly requests: number;
  readonly durationS: number;
  readonly requestsPerSec: number;
  /** "Non-2xx or 3xx responses: N" (0 when wrk prints no such line). */
  readonly non2xx3xx: number;
  /** "Socket errors: connect A, read B, write C, timeout D" summed (0 when absent). */
  readonly socketErrors: number;
}

const DURATION_UNITS: Record<string, number> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** undefined when the text has no "N requests in Xs" and "Requests/sec:" lines (wrk failed). */
export function parseWrkOutput(text: string): WrkSummary | undefined {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m.exec(text);
  const rate = /^Requests\/sec:\s+([\d.]+)\s*$/m.exec(text);
  if (!total || !rate) return undefined;
  const non = /^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$/m.exec(text);
  const sock = /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$/m.exec(text);
  return {
    requests: Number(total[1]),
    durationS: Number(total[2]) * (DURATION_UNITS[total[3] as string] as number),
    requestsPerSec: Number(rate[1]),
    non2xx3xx: non ? Number(non[1]) : 0,
    socketErrors: sock ? sock.slice(1, 5).reduce((s, v) => s + Number(v), 0) : 0,
  };
}
