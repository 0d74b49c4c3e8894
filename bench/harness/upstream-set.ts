// The upstream servers of one topology, one per keep-alive behaviour a
// scenario needs, started on first use and stopped together.
import type { UpstreamServerKind } from './bench-args.js';
import { startNginxUpstream, startNodeUpstream, startPythonUpstream, type UpstreamServer } from '../upstream/index.js';
import type { Topology } from '../topology/index.js';

/**
 * idle:  keep-alive, but the server forgets idle connections after upstreamIdleTimeoutMs;
 * close: every response carries `Connection: close` (keep-alive defeated);
 * warm:  ordinary keep-alive (node's 5 s, nginx's 75 s).
 */
export type UpstreamVariant = 'idle' | 'close' | 'warm';

export interface RunningUpstream {
  readonly variant: UpstreamVariant;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
}

/** nginx upstreams need a fixed port; these are free in a fresh namespace. */
const NGINX_PORTS: Record<UpstreamVariant, number> = { idle: 18081, close: 18082, warm: 18083 };

export class UpstreamSet {
  private readonly running = new Map<UpstreamVariant, Promise<{ server: UpstreamServer; info: RunningUpstream }>>();

  constructor(
    private readonly topo: Topology,
    private readonly kind: UpstreamServerKind,
    private readonly idleTimeoutMs: number,
  ) {}

  get(variant: UpstreamVariant): Promise<RunningUpstream> {
    // python's http.server speaks HTTP/1.0 and closes every connection: one server serves every variant.
    const key: UpstreamVariant = this.kind === 'python' ? 'close' : variant;
    let started = this.running.get(key);
    if (started === undefined) {
      started = this.start(key);
      this.running.set(key, started);
    }
    return started.then((s) => s.info);
  }

  private async start(variant: UpstreamVariant): Promise<{ server: UpstreamServer; info: RunningUpstream }> {
    const topo = this.topo;
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
    const host = topo.serverAddr;
    return { server, info: { variant, host, port: server.port, url: `http://${host}:${server.port}`, pid: server.pid } };
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((p) => p.then((s) => s.server.stop(), () => undefined)));
  }
}
