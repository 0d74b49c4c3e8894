// Counts the SYNs that reach one namespace, with tcpdump: the wire's view of
// what a pool sent, independent of the pool's and the driver's own counters.
import type { ChildProcess } from 'node:child_process';
import { stopChild } from '../topology/child-output.js';
import type { Side, Topology } from '../topology/topology.js';

export interface SynCapture {
  /** Stops tcpdump (bounded) and returns the SYNs seen, one `{ dst, at }` per SYN (at: ms since start). */
  stop(): Promise<CapturedSyn[]>;
}

export interface CapturedSyn {
  /** `address.port` as tcpdump prints it. */
  readonly dst: string;
  readonly atMs: number;
}

/** tcpdump prints "listening on …" to stderr once the capture is armed. */
const READY_DEADLINE_MS = 5_000;
/** Time for packets already on the wire to be printed before we stop. */
const DRAIN_MS = 200;

/**
 * Starts tcpdump in `side`'s namespace on every interface, matching SYNs
 * without ACK (pure connection openings) to `hosts`. Resolves once tcpdump
 * is listening.
 */
export async function startSynCapture(topo: Topology, side: Side, hosts: readonly string[]): Promise<SynCapture> {
  const hostExpr = hosts.map((h) => `dst host ${h}`).join(' or ');
  const filter = `tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn${hostExpr ? ` and (${hostExpr})` : ''}`;
  const child = topo.spawn(side, 'tcpdump', ['-i', 'any', '-nn', '-l', '-tt', '-Q', 'in', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const start = Date.now();
  const syns: CapturedSyn[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      // "1712345678.123456 eth0 In  IP 10.1.2.1.40000 > 10.1.2.2.8080: Flags [S], …"
      const m = / > (\d+\.\d+\.\d+\.\d+\.\d+): Flags \[S\]/.exec(line);
      if (m?.[1] !== undefined) syns.push({ dst: m[1], atMs: Date.now() - start });
    }
  });
  await waitListening(child);
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, DRAIN_MS));
      await stopChild(child, 2_000, 'SIGINT');
      return syns;
    },
  };
}

function waitListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    const done = (e?: Error): void => {
      clearTimeout(timer);
      child.stderr?.removeListener('data', onData);
      child.removeListener('close', onClose);
      if (e) {
        void stopChild(child, 1_000);
        reject(e);
      } else resolve();
    };
    const onData = (c: Buffer | string): void => {
      err += String(c);
      if (err.includes('listening on')) done();
    };
    const onClose = (): void => done(new Error(`tcpdump exited before listening: ${err.trim()}`));
    const timer = setTimeout(() => done(new Error(`tcpdump not listening within ${READY_DEADLINE_MS} ms: ${err.trim()}`)), READY_DEADLINE_MS);
    child.stderr?.on('data', onData);
    child.once('close', onClose);
  });
}
