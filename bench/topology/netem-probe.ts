// Whether this kernel can delay packets with sch_netem (many CI kernels cannot).
import { isOnPath, type CommandResult } from './run-command.js';

let cached: boolean | undefined;

/**
 * Tries `tc qdisc add dev lo root netem` once per process. `exec` must run in a
 * scratch namespace (createTopology passes its fresh client namespace), never
 * the host's.
 */
export async function netemSupported(exec: (cmd: string, args: readonly string[]) => Promise<CommandResult>): Promise<boolean> {
  if (cached !== undefined) return cached;
  if (!isOnPath('tc')) return (cached = false);
  try {
    await exec('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    await exec('tc', ['qdisc', 'del', 'dev', 'lo', 'root']);
    cached = true;
  } catch {
    cached = false;
  }
  return cached;
}
