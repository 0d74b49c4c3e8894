// One request over this process's own loopback before the proxy takes clients:
// client → a throwaway proxy (the same ProxyServer and AcceleratedAgent code,
// plain connects) → an origin server in this process, all on 127.0.0.1, never
// an upstream. The first HTTP/1 connection undici makes compiles llhttp's
// WebAssembly, and the proxy's request path runs for the first time: the first
// client request after every start (and every worker restart) paid that on top
// of its round trips (the demo's first pooled request took 82–86 ms where the
// rest took ~46 at 40 ms RTT).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { resolveUpstream } from '../config/load-config.js';
import { AcceleratedAgent } from './accelerated-agent.js';
import { createProxyServer, type ProxyServer } from './proxy-server.js';

export interface WarmUpResult {
  /** Wall time of the warm-up request, ms; undefined when it could not run (no loopback) or timed out. */
  readonly ms: number | undefined;
  /** Why it did not run, when it did not. */
  readonly skipped?: string;
}

/** Bounded by `timeoutMs`; never throws. */
export async function warmUp(timeoutMs = 2_000): Promise<WarmUpResult> {
  const server = http.createServer((_req, res) => res.end('ok'));
  let client: Client | undefined;
  let proxy: ProxyServer | undefined;
  let agent: AcceleratedAgent | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    agent = new AcceleratedAgent({});
    proxy = createProxyServer({ upstream: await resolveUpstream(`http://127.0.0.1:${port}`), dispatcher: agent });
    const front = await proxy.listen(0, '127.0.0.1');
    const t0 = performance.now();
    client = new Client(`http://127.0.0.1:${front.port}`);
    const c = client;
    const request = (async () => {
      const res = await c.request({ path: '/', method: 'GET' });
      await res.body.text();
    })();
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    if ((await Promise.race([request.then(() => 'done' as const), timeout])) === 'timeout') {
      request.catch(() => undefined);
      return { ms: undefined, skipped: `no answer within ${timeoutMs} ms` };
    }
    return { ms: performance.now() - t0 };
  } catch (err) {
    return { ms: undefined, skipped: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
    await client?.destroy().catch(() => undefined);
    await proxy?.close(0).catch(() => false);
    await agent?.destroy().catch(() => undefined);
    server.closeAllConnections();
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}
