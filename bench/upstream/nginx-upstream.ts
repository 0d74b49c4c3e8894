// nginx inside the server namespace, from a generated config in a directory of
// its own: nothing of the system's nginx setup is read or written.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasExited, stopChild } from '../topology/child-output.js';
import { childrenOf, signalQuietly } from '../topology/process-table.js';
import { TopologyError } from '../topology/topology-error.js';
import type { Topology } from '../topology/topology.js';
import { nginxConfig } from './nginx-config.js';
import { waitUntilAccepting, type UpstreamServer } from './upstream-server.js';

export interface NginxUpstreamOptions {
  port: number;
  /** keepalive_timeout, seconds; nginx's default is 75. */
  keepaliveTimeoutS?: number;
  /** Serve HTTPS (ALPN http/1.1) with this PEM certificate and key; `protocols` default 'TLSv1.2 TLSv1.3'. */
  tls?: { certFile: string; keyFile: string; protocols?: string };
  /** Address to listen on (default the topology's server address); IPv6 without brackets. */
  host?: string;
  /** worker_processes (default 1); above 1 the listener gets `reuseport` (one accept queue per worker). */
  workers?: number;
  /** The namespace it runs in (default 'server'); in 'client', give `host` (e.g. 127.0.0.1: no link between it and the client's processes). */
  ns?: 'server' | 'client';
}

/** Served at /bytes. */
export const NGINX_BYTES_SIZE = 1024 * 1024;
/** After SIGQUIT (graceful), how long before SIGKILL. */
const QUIT_GRACE_MS = 3_000;

let counter = 0;

function tlsDirectives(opts: NginxUpstreamOptions): string {
  if (opts.tls === undefined) return '';
  return `    ssl_certificate ${opts.tls.certFile};
    ssl_certificate_key ${opts.tls.keyFile};
    ssl_protocols ${opts.tls.protocols ?? 'TLSv1.2 TLSv1.3'};
    ssl_session_tickets on;`;
}

function config(prefix: string, addr: string, opts: NginxUpstreamOptions): string {
  return nginxConfig(
    prefix,
    `  keepalive_timeout ${opts.keepaliveTimeoutS ?? 75}s;
  default_type application/octet-stream;
  server {
    listen ${addr.includes(':') ? `[${addr}]` : addr}:${opts.port} backlog=511${(opts.workers ?? 1) > 1 ? ' reuseport' : ''}${opts.tls === undefined ? '' : ' ssl'};
${tlsDirectives(opts)}
    root ${join(prefix, 'www')};
    location = / { default_type text/plain; return 200 "ok\\n"; }
    location /own-time/ { default_type text/plain; return 200 "ok\\n"; }
    location = /bytes { }
  }`,
    1024,
    opts.workers ?? 1,
  );
}

export async function startNginxUpstream(topo: Topology, opts: NginxUpstreamOptions): Promise<UpstreamServer> {
  if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) {
    throw new TopologyError('TOPOLOGY_ERR_PREREQUISITE', `nginx upstream needs a fixed port in 1…65535, got ${opts.port}`);
  }
  const prefix = join(topo.dir, `nginx-${counter++}`);
  // 0755 throughout: the workers run as nobody and must read www/.
  for (const d of ['', 'www', 'tmp']) mkdirSync(join(prefix, d), { recursive: true, mode: 0o755 });
  writeFileSync(join(prefix, 'www', 'bytes'), Buffer.alloc(NGINX_BYTES_SIZE, 0x61), { mode: 0o644 });
  const conf = join(prefix, 'nginx.conf');
  const host = opts.host ?? topo.serverAddr;
  writeFileSync(conf, config(prefix, host, opts));

  // -e: the error log for the time before the config is read (default is under /var/log).
  const ns = opts.ns ?? 'server';
  const child = topo.spawn(ns, 'nginx', ['-c', conf, '-p', prefix, '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const master = child.pid;

  const stop = async (): Promise<void> => {
    if (master !== undefined && !hasExited(child)) {
      // The workers outlive a SIGKILLed master: note them first.
      const workers = childrenOf(master);
      await stopChild(child, QUIT_GRACE_MS, 'SIGQUIT');
      for (const w of workers) signalQuietly(w, 'SIGKILL');
    }
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitUntilAccepting(topo, child, `nginx (${conf})`, opts.port, host, ns);
    return { port: opts.port, pid: master!, stop };
  } catch (err) {
    const log = existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8').trim().slice(-2000) : '';
    await stop();
    if (log && err instanceof Error) err.message += `; error.log: ${log}`;
    throw err;
  }
}
