// The upstream servers of one topology, one per keep-alive behaviour a
// scenario needs, started on first use and stopped together.
import type { UpstreamServerKind } from './bench-args.js';
import { join } from 'node:path';
import { createPrivateCa, issueCert, startNginxUpstream, startNodeUpstream, startPythonUpstream, type UpstreamServer } from '../upstream/index.js';
import type { Topology } from '../topology/index.js';

/**
 * idle:  keep-alive, but the server forgets idle connections after upstreamIdleTimeoutMs;
 * close: every response carries `Connection: close` (keep-alive defeated);
 * warm:  ordinary keep-alive (node's 5 s, nginx's 75 s);
 * tls-close: HTTPS, TLS 1.3 only, every connection closed after its response;
 *        always nginx (whatever --upstream-server says), its certificate signed
 *        by a private CA made for the topology;
 * close6: as close, listening on the topology's IPv6 address (node or nginx; python is IPv4 here).
 */
export type UpstreamVariant = 'idle' | 'close' | 'warm' | 'tls-close' | 'close6' | 'tls-close6' | 'close3';

/** How a client reaches an https upstream: trust this CA, send and check this name. */
export interface UpstreamTls {
  /** PEM file of the private CA's certificate. */
  readonly caFile: string;
  readonly servername: string;
}

/** The name on the HTTPS upstream's certificate (the URL carries the address; SNI and the check use this). */
export const HTTPS_UPSTREAM_NAME = 'upstream.bench';

export interface RunningUpstream {
  readonly variant: UpstreamVariant;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** Set for an https upstream. */
  readonly tls: UpstreamTls | undefined;
  /** Several servers behind one upstream (close3); host/port/url are the first's. */
  readonly servers?: ReadonlyArray<{ readonly host: string; readonly port: number; readonly url: string }>;
}

/** nginx upstreams need a fixed port; these are free in a fresh namespace. */
const NGINX_PORTS: Record<UpstreamVariant, number> = { idle: 18081, close: 18082, warm: 18083, 'tls-close': 18443, close6: 18086, 'tls-close6': 18444, close3: 18087 };

export class UpstreamSet {
  private readonly running = new Map<UpstreamVariant, Promise<{ server: UpstreamServer; info: RunningUpstream }>>();

  constructor(
    private readonly topo: Topology,
    private readonly kind: UpstreamServerKind,
    private readonly idleTimeoutMs: number,
  ) {}

  get(variant: UpstreamVariant): Promise<RunningUpstream> {
    // python's http.server speaks HTTP/1.0 and closes every connection: one server serves every variant.
    const key: UpstreamVariant = this.kind === 'python' && variant !== 'tls-close' && variant !== 'close6' && variant !== 'tls-close6' && variant !== 'close3' ? 'close' : variant;
    let started = this.running.get(key);
    if (started === undefined) {
      started = this.start(key);
      this.running.set(key, started);
    }
    return started.then((s) => s.info);
  }

  private async start(variant: UpstreamVariant): Promise<{ server: UpstreamServer; info: RunningUpstream }> {
    const topo = this.topo;
    if (variant === 'close6') {
      const host = topo.serverAddr6;
      if (host === undefined) throw new Error('the ipv6-close scenario needs a topology with IPv6 addresses (ip: dual)');
      const server = await startNodeUpstream(topo, { connectionClose: true, host });
      return { server, info: { variant, host, port: server.port, url: `http://[${host}]:${server.port}`, pid: server.pid, tls: undefined } };
    }
    if (variant === 'tls-close' || variant === 'tls-close6') {
      const v6 = variant === 'tls-close6';
      const host = v6 ? topo.serverAddr6 : topo.serverAddr;
      if (host === undefined) throw new Error('the https6-close scenario needs a topology with IPv6 addresses (ip: dual)');
      // Removed with the topology's directory.
      const ca = createPrivateCa(join(topo.dir, 'bench-ca'), 'synpool bench CA');
      const cert = issueCert(ca, { name: 'origin', dns: [HTTPS_UPSTREAM_NAME] });
      const server = await startNginxUpstream(topo, {
        port: NGINX_PORTS[variant],
        keepaliveTimeoutS: 0,
        tls: { certFile: cert.certFile, keyFile: cert.keyFile, protocols: 'TLSv1.3' },
        ...(v6 ? { host } : {}),
      });
      const tls = { caFile: ca.certFile, servername: HTTPS_UPSTREAM_NAME };
      const url = v6 ? `https://[${host}]:${server.port}` : `https://${host}:${server.port}`;
      return { server, info: { variant, host, port: server.port, url, pid: server.pid, tls } };
    }
    const host = topo.serverAddr;
    if (variant === 'close3') {
      // Three node:http servers closing every connection (whatever --upstream-server says), on the one server address.
      const three = await Promise.all([0, 1, 2].map(() => startNodeUpstream(topo, { connectionClose: true })));
      const servers = three.map((s) => ({ host, port: s.port, url: `http://${host}:${s.port}` }));
      const server: UpstreamServer = { port: three[0]!.port, pid: three[0]!.pid, stop: async () => void (await Promise.all(three.map((s) => s.stop()))) };
      return { server, info: { variant, host, port: server.port, url: servers[0]!.url, pid: server.pid, tls: undefined, servers } };
    }
    let server: UpstreamServer;
    if (this.kind === 'node') {
      server = await startNodeUpstream(topo, {
        keepAliveTimeoutMs: variant === 'idle' ? this.idleTimeoutMs : undefined,
        connectionClose: variant === 'close',
      });
    } else if (this.kind === 'nginx') {
      const keepaliveTimeoutS = variant === 'idle' ? Math.max(1, Math.round(this.idleTimeoutMs / 1000)) : variant === 'close' ? 0 : undefined;
      server = await startNginxUpstream(topo, { port: NGINX_PORTS[variant], keepaliveTimeoutS });
    } else {
      server = await startPythonUpstream(topo, { port: 0 });
    }
    return { server, info: { variant, host, port: server.port, url: `http://${host}:${server.port}`, pid: server.pid, tls: undefined } };
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((p) => p.then((s) => s.server.stop(), () => undefined)));
  }
}
