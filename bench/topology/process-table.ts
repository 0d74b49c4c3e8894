// Reads /proc to tell whether a pid still names the process we started (pids
// get reused) and to find the members of a process group. Synchronous on
// purpose: the exit hook and the stale sweep cannot await.
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  state: string;
  ppid: number;
  pgid: number;
  /** Field 22: start time in clock ticks after boot; with the pid it identifies a process. */
  startTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after its last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    startTicks: Number(rest[19]),
  };
}

/** The start time of `pid` in clock ticks, or undefined when there is no such process. */
export function processStartTicks(pid: number): number | undefined {
  return readStat(pid)?.startTicks;
}

/** True while `pid` runs (a zombie counts as gone); with `startTicks`, only if it is still that same process. */
export function isProcessAlive(pid: number, startTicks?: number): boolean {
  const st = readStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTicks === undefined || st.startTicks === startTicks;
}

/** Pids of the living processes whose process group is `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  return scan((st) => st.pgid === pgid);
}

/** Pids of the living direct children of `ppid`. */
export function childrenOf(ppid: number): number[] {
  return scan((st) => st.ppid === ppid);
}

function scan(match: (st: ProcStat) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readStat(pid);
    if (st && st.state !== 'Z' && match(st)) out.push(pid);
  }
  return out;
}

/** process.kill that ignores ESRCH (already gone). */
export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already, or never ours
  }
}
