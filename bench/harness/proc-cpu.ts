// CPU time of a process from /proc/PID/stat (utime + stime), in milliseconds.
import { readdirSync, readFileSync } from 'node:fs';
import { childrenOf } from '../topology/process-table.js';

/** Linux clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on every mainstream kernel config. */
const CLK_TCK = 100;

/**
 * The fields of a /proc/PID/stat line after the ')' that closes comm (comm may hold spaces and
 * parentheses): index 0 is field 3 (state), so field N is at index N − 3.
 */
function statFields(stat: string): string[] | undefined {
  const close = stat.lastIndexOf(')');
  return close < 0 ? undefined : stat.slice(close + 2).split(' ');
}

/** The sum of the given fields (numbered as in proc(5)), or undefined when one is missing or not a number. */
function sumFields(stat: string, ...numbers: number[]): number | undefined {
  const fields = statFields(stat);
  if (fields === undefined) return undefined;
  let sum = 0;
  for (const n of numbers) {
    const v = Number(fields[n - 3]);
    if (!Number.isFinite(v)) return undefined;
    sum += v;
  }
  return sum;
}

/** utime + stime (fields 14 and 15), in ticks. */
export function parseProcStatCpuTicks(stat: string): number | undefined {
  return sumFields(stat, 14, 15);
}

/** stime alone (field 15): the part of parseProcStatCpuTicks spent in the kernel, in ticks. */
export function parseProcStatSystemTicks(stat: string): number | undefined {
  return sumFields(stat, 15);
}

/** cutime + cstime (fields 16 and 17): the CPU of the process's children that it has waited for, in ticks. */
export function parseProcStatChildTicks(stat: string): number | undefined {
  return sumFields(stat, 16, 17);
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
  return own === undefined ? undefined : sumOver(childrenOf(pid), read, own);
}

/** `read` summed over `pids` (one that cannot be read counts 0), from `start`; undefined when `start` is. */
export function sumOver(pids: readonly number[], read: (pid: number) => number | undefined, start: number | undefined): number | undefined {
  return start === undefined ? undefined : pids.reduce((sum, p) => sum + (read(p) ?? 0), start);
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
  return treeByProcess(pid, processCpuMs);
}

/**
 * processTreeCpuByProcessMs from the scheduler's own clock (processRunMs): exact to the
 * nanosecond where /proc/PID/stat counts 10 ms ticks, so a window of a few milliseconds
 * (one request, one burst) can be measured.
 */
export function processTreeRunMsByProcess(pid: number): Record<string, number> | undefined {
  return treeByProcess(pid, processRunMs);
}

function treeByProcess(pid: number, read: (pid: number) => number | undefined): Record<string, number> | undefined {
  const own = read(pid);
  if (own === undefined) return undefined;
  const out: Record<string, number> = { main: own };
  for (const c of childrenOf(pid).sort((a, b) => a - b)) {
    const ms = read(c);
    if (ms === undefined) continue;
    const base = processLabel(readArgv(c));
    let label = base;
    for (let k = 2; label in out; k++) label = `${base} #${k}`;
    out[label] = ms;
  }
  return out;
}

/** The first field of /proc/PID/task/TID/schedstat: time the thread ran on a CPU, ns. */
export function parseSchedstatRunNs(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0];
  const ns = Number(first);
  return first !== undefined && first !== '' && Number.isFinite(ns) && ns >= 0 ? ns : undefined;
}

/**
 * Time every thread of a process ran on a CPU (user and kernel alike), ms, from the
 * scheduler's sum_exec_runtime (/proc/PID/task/TID/schedstat): Node's helper threads
 * (libuv's pool, V8's GC) included. A thread that ended takes its time with it.
 */
export function processRunMs(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      ns += parseSchedstatRunNs(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')) ?? 0;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e6;
}
