// What a topology owns, written to disk as it grows so that a later process can
// remove it if the owner died without cleaning up (SIGKILL, OOM, power cut of
// the test runner). One directory per topology under STATE_ROOT holds the
// state file and every file the topology creates (vde sockets, server temp
// dirs), so removing the directory removes them all.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive, signalQuietly } from './process-table.js';

export const STATE_ROOT = '/run/synpool-topology';
const STATE_FILE = 'state.json';
/** Every command of the synchronous teardown gets this long before SIGKILL. */
const SYNC_COMMAND_TIMEOUT_MS = 5_000;

export interface TrackedProcess {
  pid: number;
  /** From /proc/PID/stat, so a reused pid is never signalled. */
  startTicks: number;
  /** Signal the whole process group (a child that made its own). */
  group: boolean;
  label: string;
}

export interface TopologyState {
  name: string;
  ownerPid: number;
  ownerStartTicks: number;
  namespaces: string[];
  processes: TrackedProcess[];
  /** The topology's directory; removed last ('' for none). */
  dir: string;
}

export function stateDir(name: string): string {
  return join(STATE_ROOT, name);
}

export function writeState(state: TopologyState): void {
  mkdirSync(state.dir, { recursive: true });
  const file = join(state.dir, STATE_FILE);
  // Write then rename: a reader never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(state));
  renameSync(`${file}.tmp`, file);
}

/** Every state on disk, including broken ones (returned with only `name` and `dir` usable). */
export function readAllStates(): Array<{ state?: TopologyState; name: string; dir: string }> {
  let names: string[];
  try {
    names = readdirSync(STATE_ROOT);
  } catch {
    return [];
  }
  return names.map((name) => {
    const dir = join(STATE_ROOT, name);
    try {
      return { state: JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as TopologyState, name, dir };
    } catch {
      return { name, dir };
    }
  });
}

/** Pids of every process inside network namespace `ns` (empty if it does not exist). */
export function namespacePidsSync(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      timeout: SYNC_COMMAND_TIMEOUT_MS,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0);
  } catch {
    return [];
  }
}

export function namespaceExistsSync(ns: string): boolean {
  return existsSync(netnsPath(ns));
}

export function netnsPath(ns: string): string {
  return `/var/run/netns/${ns}`;
}

/**
 * Removes everything `state` names, synchronously and without throwing: SIGKILL
 * to each tracked process that is still the same process, SIGKILL to anything
 * left inside the namespaces (all of it is ours; this process itself excepted), delete the namespaces, remove
 * the directory. Used by the exit hook and the stale sweep; destroy() does the
 * graceful version first and then this as the backstop.
 */
export function teardownSync(state: TopologyState): void {
  for (const p of state.processes) {
    if (!isProcessAlive(p.pid, p.startTicks)) continue;
    if (p.group) signalQuietly(-p.pid, 'SIGKILL');
    signalQuietly(p.pid, 'SIGKILL');
  }
  for (const ns of state.namespaces) {
    // Never ourselves: a process whose thread has setns()-ed into the client namespace is
    // listed there too, and killing it here would leave the namespaces behind.
    for (const pid of namespacePidsSync(ns)) if (pid !== process.pid) signalQuietly(pid, 'SIGKILL');
  }
  let allGone = true;
  for (const ns of state.namespaces) {
    if (!namespaceExistsSync(ns)) continue;
    try {
      execFileSync('ip', ['netns', 'delete', ns], { timeout: SYNC_COMMAND_TIMEOUT_MS, stdio: 'ignore' });
    } catch {
      allGone = false;
    }
  }
  // Keep the state while a namespace survives, so a later sweep can retry.
  if (allGone && state.dir) rmSync(state.dir, { recursive: true, force: true });
}
