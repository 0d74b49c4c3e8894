// wrk (a C load generator: a Node one saturates near 10 000 req/s and would
// measure itself) in a namespace of the topology, bounded in time.
import type { Side, Topology } from '../topology/index.js';
import { stopChild, waitForExit } from '../topology/child-output.js';
import { parseWrkOutput, type WrkSummary } from './wrk-output.js';

export interface WrkOptions {
  readonly url: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationS: number;
}

/** wrk stops itself after durationS; past this much more it is killed and the run fails. */
const OVERRUN_MS = 10_000;

export async function runWrk(topo: Topology, side: Side, o: WrkOptions): Promise<WrkSummary & { readonly output: string }> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '5s', o.url];
  const child = topo.spawn(side, 'wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (output += t));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const exited = await Promise.race([waitForExit(child, o.durationS * 1000 + OVERRUN_MS), spawnError]);
  if (!exited) {
    await stopChild(child, 1_000, 'SIGKILL');
    throw new Error(`wrk ${args.join(' ')} ran past ${o.durationS} s + ${OVERRUN_MS} ms; output: ${output}`);
  }
  const summary = parseWrkOutput(output);
  if (child.exitCode !== 0 || summary === undefined) throw new Error(`wrk ${args.join(' ')} failed (exit ${String(child.exitCode ?? child.signalCode)}): ${output}`);
  return { ...summary, output };
}
