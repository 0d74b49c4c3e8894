// CPU time of a process from /proc/PID/stat (utime + stime), in milliseconds.
import { readFileSync } from 'node:fs';
import { childrenOf } from '../topology/process-table.js';

/** Linux clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every mainstream kernel config. */
const CLK_TCK = 100;

/** Parses a /proc/PID/stat line; utime and stime are fields 14 and 15, counted after the ')' closing comm. */
export function parseProcStatCpuTicks(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14 → index 11, stime index 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined;
}

export function processCpuMs(pid: number): number | undefined {
  try {
    const ticks = parseProcStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : (ticks * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU of a process and its direct children (nginx: master + workers). */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = processCpuMs(pid);
  if (own === undefined) return undefined;
  return childrenOf(pid).reduce((sum, c) => sum + (processCpuMs(c) ?? 0), own);
}
