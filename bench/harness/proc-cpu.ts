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

/** stime alone (field 15): the part of parseProcStatCpuTicks spent in the kernel, in ticks. */
export function parseProcStatSystemTicks(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const stime = Number(stat.slice(close + 2).split(' ')[12]);
  return Number.isFinite(stime) ? stime : undefined;
}

/** cutime + cstime (fields 16 and 17): the CPU of the process's children that it has waited for, in ticks. */
export function parseProcStatChildTicks(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = stat.slice(close + 2).split(' ');
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  return Number.isFinite(cutime) && Number.isFinite(cstime) ? cutime + cstime : undefined;
}

/**
 * CPU of this process's children that have exited and been reaped, ms. Read before
 * and after a child's whole life (wrk), the difference is that child's CPU.
 */
export function reapedChildrenCpuMs(): number | undefined {
  try {
    const ticks = parseProcStatChildTicks(readFileSync('/proc/self/stat', 'utf8'));
    return ticks === undefined ? undefined : (ticks * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** The machine's CPU counters from /proc/stat's first line, in ticks: busy (all but idle and iowait) and total. */
export function parseProcStatMachine(text: string): { busy: number; total: number } | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 5 || v.some((x) => !Number.isFinite(x))) return undefined;
  const total = v.reduce((a, x) => a + x, 0);
  return { busy: total - v[3]! - v[4]!, total };
}

export function machineCpuTicks(): { busy: number; total: number } | undefined {
  try {
    return parseProcStatMachine(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

function statMs(pid: number, ticksOf: (stat: string) => number | undefined): number | undefined {
  try {
    const ticks = ticksOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : (ticks * 1000) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export function processCpuMs(pid: number): number | undefined {
  return statMs(pid, parseProcStatCpuTicks);
}

/** Of processCpuMs, the kernel's part (system time): syscalls, the network stack run on the process's behalf. */
export function processSystemCpuMs(pid: number): number | undefined {
  return statMs(pid, parseProcStatSystemTicks);
}

/** CPU of a process and its direct children (nginx: master + workers). */
export function processTreeCpuMs(pid: number): number | undefined {
  return treeSum(pid, processCpuMs);
}

/** Of processTreeCpuMs, the kernel's part. */
export function processTreeSystemCpuMs(pid: number): number | undefined {
  return treeSum(pid, processSystemCpuMs);
}

function treeSum(pid: number, read: (pid: number) => number | undefined): number | undefined {
  const own = read(pid);
  if (own === undefined) return undefined;
  return childrenOf(pid).reduce((sum, c) => sum + (read(c) ?? 0), own);
}

/**
 * A name for a process from its argv (/proc/PID/cmdline split at NUL): a node
 * process by its arguments after the script (synpool's children: `keeper`,
 * `worker 2`), anything else by its whole argv (nginx: `nginx: worker process`).
 */
export function processLabel(argv: readonly string[]): string {
  const args = argv.filter((a) => a !== '');
  if (args.length === 0) return '?';
  const exe = args[0]!.split('/').pop() ?? '';
  if (/^node(\d+)?$/.test(exe)) {
    // Skip node's own flags, then the script.
    let i = 1;
    while (i < args.length && args[i]!.startsWith('-')) i++;
    const rest = args.slice(i + 1);
    return rest.length > 0 && !rest[0]!.startsWith('-') ? rest.join(' ') : (args[i]?.split('/').pop() ?? 'node');
  }
  return args.join(' ');
}

function readArgv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/**
 * CPU of a process and each of its direct children, ms, by name: `main` for the
 * process itself, processLabel() for each child (a repeated name gets ` #2`…).
 */
export function processTreeCpuByProcessMs(pid: number): Record<string, number> | undefined {
  const own = processCpuMs(pid);
  if (own === undefined) return undefined;
  const out: Record<string, number> = { main: own };
  for (const c of childrenOf(pid).sort((a, b) => a - b)) {
    const ms = processCpuMs(c);
    if (ms === undefined) continue;
    const base = processLabel(readArgv(c));
    let label = base;
    for (let k = 2; label in out; k++) label = `${base} #${k}`;
    out[label] = ms;
  }
  return out;
}
