// What every upstream starter returns, and the readiness wait they share.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { probeConnect } from '../topology/connect-probe.js';
import { captureStderr, describeExit, stderrTail } from '../topology/child-output.js';
import { isOnPath } from '../topology/run-command.js';
import { TopologyError } from '../topology/topology-error.js';
import type { Topology } from '../topology/topology.js';

export interface UpstreamServer {
  /** The port it listens on, at topology.serverAddr. */
  readonly port: number;
  /** The pid of the server process (nginx: its master). */
  readonly pid: number;
  /** Stops the server (bounded: escalates to SIGKILL) and removes its files. */
  stop(): Promise<void>;
}

/** How long a server gets to accept its first connection. */
export const READY_DEADLINE_MS = 5_000;

/**
 * Resolves once `child` itself listens on host:port (default serverAddr) (per `ss`, so a
 * different process already holding the port does not count) and the port
 * accepts a TCP connection from the client namespace. Rejects, naming `server`
 * and quoting its stderr, if the child exits first or the deadline passes.
 */
export async function waitUntilAccepting(
  topo: Topology,
  child: ChildProcess,
  server: string,
  port: number,
  host: string = topo.serverAddr,
  ns: 'server' | 'client' = 'server',
): Promise<void> {
  captureStderr(child);
  let onClose: (() => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onClose = () => reject(new TopologyError('TOPOLOGY_ERR_NOT_READY', `${server} ${describeExit(child)} before it accepted connections`));
    if (child.exitCode !== null || child.signalCode !== null) onClose();
    else child.once('close', onClose);
  });
  exited.catch(() => {});
  const deadline = Date.now() + READY_DEADLINE_MS;
  try {
    await Promise.race([waitUntilListening(topo, child, port, deadline, ns), exited]);
    const left = Math.max(deadline - Date.now(), 100);
    await Promise.race([probeConnect(topo, host, port, { deadlineMs: left }), exited]);
  } catch (err) {
    if (err instanceof TopologyError && err.code === 'TOPOLOGY_ERR_NOT_READY') throw err;
    const stderr = stderrTail(child);
    throw new TopologyError(
      'TOPOLOGY_ERR_NOT_READY',
      `${server} did not accept connections on ${host}:${port} within ${READY_DEADLINE_MS} ms${stderr ? `; stderr: ${stderr}` : ''}`,
      { cause: err },
    );
  } finally {
    if (onClose) child.removeListener('close', onClose);
  }
}

/** Polls `ss -ltnp` in the server namespace until a listener on port belongs to child's pid. */
async function waitUntilListening(topo: Topology, child: ChildProcess, port: number, deadline: number, ns: 'server' | 'client'): Promise<void> {
  if (!isOnPath('ss') || child.pid === undefined) return;
  const owner = `pid=${child.pid},`;
  for (;;) {
    const { stdout } = await topo.exec(ns, 'ss', ['-Hltnp', `sport = :${port}`], { allowFailure: true });
    if (stdout.includes(owner)) return;
    if (Date.now() > deadline) {
      const other = stdout.trim() ? `; the port is held by: ${stdout.trim()}` : '';
      throw new TopologyError('TOPOLOGY_ERR_NOT_READY', `pid ${child.pid} is not listening on port ${port}${other}`);
    }
    await sleep(20);
  }
}
