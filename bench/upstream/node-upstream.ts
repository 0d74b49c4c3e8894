// bench/upstream/http-server.mjs, run inside the server namespace.
import { fileURLToPath } from 'node:url';
import { stopChild, waitForJsonLine } from '../topology/child-output.js';
import type { Topology } from '../topology/topology.js';
import { READY_DEADLINE_MS, waitUntilAccepting, type UpstreamServer } from './upstream-server.js';

export interface NodeUpstreamOptions {
  /** Default 0: any free port (read back from the server). */
  port?: number;
  /** listen() backlog; Node's default is 511. */
  backlog?: number;
  /** server.keepAliveTimeout, ms; Node's default is 5 000. */
  keepAliveTimeoutMs?: number;
  /** Send `Connection: close` on every response. */
  connectionClose?: boolean;
  /** Serve HTTPS (node:https) with this PEM certificate and key. */
  tls?: { certFile: string; keyFile: string };
  /** The address to listen on; default topology.serverAddr. '::' serves both families of a dual-stack topology. */
  host?: string;
}

const SCRIPT = fileURLToPath(new URL('./http-server.mjs', import.meta.url));

export async function startNodeUpstream(topo: Topology, opts: NodeUpstreamOptions = {}): Promise<UpstreamServer> {
  // stdin is a pipe from us: the server exits when this process dies, however it dies.
  const args = [SCRIPT, '--host', opts.host ?? topo.serverAddr, '--port', String(opts.port ?? 0), '--exit-on-stdin-eof'];
  if (opts.backlog !== undefined) args.push('--backlog', String(opts.backlog));
  if (opts.keepAliveTimeoutMs !== undefined) args.push('--keep-alive-timeout-ms', String(opts.keepAliveTimeoutMs));
  if (opts.connectionClose) args.push('--connection-close');
  if (opts.tls !== undefined) args.push('--tls-cert', opts.tls.certFile, '--tls-key', opts.tls.keyFile);

  const child = topo.spawn('server', process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = (): Promise<void> => stopChild(child, 2_000);
  try {
    const { listening: port } = await waitForJsonLine<{ listening: number }>(child, READY_DEADLINE_MS, 'node upstream (bench/upstream/http-server.mjs)');
    child.stdout?.resume();
    // A wildcard host listens on serverAddr too.
    await waitUntilAccepting(topo, child, 'node upstream (bench/upstream/http-server.mjs)', port, opts.host === undefined || opts.host === '::' || opts.host === '0.0.0.0' ? topo.serverAddr : opts.host);
    return { port, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
