import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AcceleratedAgent } from '../../src/proxy/accelerated-agent.js';
import { LeanPool } from '../../src/proxy/lean-pool.js';

// The lean exchange against a raw TCP server that writes exactly the bytes a test
// gives it: framings, interim heads, malformed answers, closes and silences that
// node:http would never produce on its own.

type Answer = (request: string, socket: net.Socket, index: number) => void;

interface RawServer {
  origin: string;
  /** Request heads in arrival order, and the connection (0, 1, …) each came on. */
  requests: { head: string; connection: number }[];
  connections: number;
  /** Connections open at the same time, at most. */
  peak: number;
}

const servers: net.Server[] = [];
const agents: AcceleratedAgent[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(agents.splice(0).map((a) => a.destroy().catch(() => undefined)));
  for (const s of servers.splice(0)) s.close();
});

async function rawServer(answer: Answer): Promise<RawServer> {
  const state: RawServer = { origin: '', requests: [], connections: 0, peak: 0 };
  let open = 0;
  let index = 0;
  const server = net.createServer((socket) => {
    const connection = state.connections++;
    open += 1;
    state.peak = Math.max(state.peak, open);
    socket.on('close', () => (open -= 1));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        state.requests.push({ head, connection });
        answer(head, socket, index++);
      }
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function agent(options: ConstructorParameters<typeof AcceleratedAgent>[0] = {}): AcceleratedAgent {
  const a = new AcceleratedAgent(options);
  agents.push(a);
  return a;
}

interface Outcome {
  statuses: number[];
  headers: Record<string, unknown>;
  body: string;
  error: (Error & { code?: string }) | undefined;
}

/** One request through `dispatcher` with a new-API handler, as the proxy makes it. */
function exchange(
  dispatcher: Dispatcher,
  origin: string,
  opts: Partial<Dispatcher.DispatchOptions> = {},
  onStart?: (c: Dispatcher.DispatchController) => void,
  onData?: (c: Dispatcher.DispatchController) => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { statuses: [], headers: {}, body: '', error: undefined };
    dispatcher.dispatch(
      { origin, path: '/', method: 'GET', headers: ['x-test', '1'], ...opts } as Dispatcher.DispatchOptions,
      {
        onRequestStart: (c) => onStart?.(c),
        onResponseStart: (_c, status, headers) => {
          out.statuses.push(status);
          if (status >= 200) out.headers = headers as Record<string, unknown>;
        },
        onResponseData: (c, chunk) => {
          out.body += chunk.toString('latin1');
          onData?.(c);
        },
        onResponseEnd: () => resolve(out),
        onResponseError: (_c, err) => {
          out.error = err;
          resolve(out);
        },
      },
    );
  });
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

describe('the lean exchange (bodiless GET/DELETE/OPTIONS to http origins)', () => {
  it('takes a GET, writes the head undici would, and reuses the connection for the next one', async () => {
    const spy = vi.spyOn(LeanPool.prototype, 'dispatch');
    const s = await rawServer((_h, socket, i) => socket.write(ok(`r${i}`)));
    const a = agent();
    const first = await exchange(a, s.origin, { path: '/p?q=1' });
    const second = await exchange(a, s.origin, { method: 'DELETE' });
    expect([first.body, second.body]).toEqual(['r0', 'r1']);
    expect(spy).toHaveBeenCalledTimes(2);
    const port = new URL(s.origin).port;
    expect(s.requests[0]!.head).toBe(`GET /p?q=1 HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: keep-alive\r\nx-test: 1\r\n\r\n`);
    expect(s.requests.map((r) => r.connection)).toEqual([0, 0]);
    expect(a.idleConnections(s.origin)).toBe(1);
  });

  it('leaves HEAD, bodies, upgrades, odd headers and lean: false to undici', async () => {
    const spy = vi.spyOn(LeanPool.prototype, 'dispatch');
    const s = await rawServer((h, socket) => socket.write(h.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n' : ok('ok')));
    const a = agent();
    expect((await exchange(a, s.origin, { method: 'HEAD' })).statuses).toEqual([200]);
    expect((await exchange(a, s.origin, { method: 'POST', body: 'x' })).body).toBe('ok');
    expect((await exchange(a, s.origin, { headers: ['expect', '100-continue'] })).error).toBeDefined(); // undici refuses it
    expect((await exchange(a, s.origin, { headers: { 'x-object': 'form' } as never })).body).toBe('ok');
    expect((await exchange(agent({ lean: false }), s.origin)).body).toBe('ok');
    expect(spy).not.toHaveBeenCalled();
  });

  it('reads chunked bodies with trailers, and bodies delimited by the close', async () => {
    const s = await rawServer((h, socket) => {
      if (h.includes('/chunked')) socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-t\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end');
    });
    const a = agent();
    const chunked = await exchange(a, s.origin, { path: '/chunked' });
    expect(chunked.body).toBe('abcde');
    expect(chunked.headers['transfer-encoding']).toBe('chunked');
    const closing = await exchange(a, s.origin, { path: '/close' });
    expect(closing).toMatchObject({ body: 'until the end', error: undefined });
    // The chunked connection was kept; the closed one is gone.
    expect(s.requests.map((r) => r.connection)).toEqual([0, 0]);
  });

  it('reports 1xx heads (an unsolicited 100, 103) before the final one', async () => {
    const s = await rawServer((_h, socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      setTimeout(() => socket.write('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n' + ok('final')), 20);
    });
    const out = await exchange(agent(), s.origin);
    expect(out).toMatchObject({ statuses: [100, 103, 200], body: 'final', error: undefined });
  });

  it('a head split across many reads is read whole', async () => {
    const s = await rawServer((_h, socket) => {
      const bytes = ok('split', `x-long: ${'v'.repeat(3000)}\r\nx-more: 2\r\n`);
      let at = 0;
      const step = (): void => {
        socket.write(bytes.slice(at, at + 7));
        at += 7;
        if (at < bytes.length) setImmediate(step);
      };
      step();
    });
    const out = await exchange(agent(), s.origin);
    expect(out.body).toBe('split');
    expect(out.headers['x-more']).toBe('2');
    expect((out.headers['x-long'] as string).length).toBe(3000);
  });

  it('a malformed answer fails with llhttp\'s code, and so do bytes after the response', async () => {
    const s = await rawServer((h, socket) => {
      if (h.includes('/garbage')) socket.write('HTTP/1.1 2000 What\r\n\r\n');
      else socket.write(ok('one') + 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    const a = agent();
    const bad = await exchange(a, s.origin, { path: '/garbage' });
    expect(bad.error?.code).toMatch(/^HPE_/);
    // The extra response is nobody's: the first answer stands, and its connection is not reused.
    expect((await exchange(a, s.origin, { path: '/extra' })).body).toBe('one');
    expect((await exchange(a, s.origin, { path: '/extra' })).body).toBe('one');
    expect(new Set(s.requests.slice(1).map((r) => r.connection)).size).toBe(2);
  });

  it('a reused connection closed under a GET is replayed on a fresh one; a headers timeout is not', async () => {
    const s = await rawServer((h, socket, i) => {
      if (h.includes('/slow')) return; // never answers
      if (i === 1) socket.destroy(); // the second request finds the kept connection gone
      else socket.write(ok(`r${i}`));
    });
    const a = agent({ headersTimeoutMs: 200 });
    const retries: string[] = [];
    a.events.on('retry', (e) => retries.push(e.reason));
    expect((await exchange(a, s.origin)).body).toBe('r0');
    expect((await exchange(a, s.origin)).body).toBe('r2');
    expect(retries).toEqual(['connection-lost']);
    const slow = await exchange(a, s.origin, { path: '/slow' });
    expect(slow.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(retries).toHaveLength(1);
  });

  it('a body cut short by the close fails as undici reports it (UND_ERR_SOCKET), after what came', async () => {
    const s = await rawServer((_h, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
    const out = await exchange(agent(), s.origin);
    expect(out).toMatchObject({ body: 'abc', statuses: [200] });
    expect(out.error?.code).toBe('UND_ERR_SOCKET');
  });

  it('a body that stalls past bodyTimeout fails with undici\'s code', async () => {
    const s = await rawServer((_h, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
    const out = await exchange(agent({ bodyTimeoutMs: 150 }), s.origin);
    expect(out.body).toBe('abc');
    expect(out.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
  });

  it('headers and body timeouts of the same length: the body\'s runs from the head, and each fails with its own code', async () => {
    const s = await rawServer((h, socket) => {
      if (h.includes('/silent')) return;
      // The head alone: no body byte restarts the timer, only the head does.
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n'), 100);
    });
    const a = agent({ headersTimeoutMs: 150, bodyTimeoutMs: 150 });
    const started = performance.now();
    const stalled = await exchange(a, s.origin);
    expect(stalled.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(stalled.statuses).toEqual([200]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
    expect((await exchange(a, s.origin, { path: '/silent' })).error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('does not reuse a connection after Connection: close or a Keep-Alive timeout it cannot trust', async () => {
    const s = await rawServer((h, socket) => {
      if (h.includes('/close')) socket.write(ok('c', 'connection: close\r\n'));
      else if (h.includes('/short')) socket.write(ok('s', 'keep-alive: timeout=1\r\n'));
      else socket.write(ok('k', 'keep-alive: timeout=30\r\n'));
    });
    const a = agent();
    for (const path of ['/close', '/short', '/keep', '/keep']) await exchange(a, s.origin, { path });
    expect(s.requests.map((r) => r.connection)).toEqual([0, 1, 2, 2]);
  });

  it('holds at most its share of maxUpstreamConnections; the rest wait their turn', async () => {
    const s = await rawServer((_h, socket, i) => setTimeout(() => socket.write(ok(`r${i}`)), 60));
    // 5: one for replays, four for first attempts: three lean, one for undici.
    const a = agent({ connections: 5 });
    const outs = await Promise.all(Array.from({ length: 7 }, () => exchange(a, s.origin)));
    expect(outs.every((o) => o.error === undefined && o.body.startsWith('r'))).toBe(true);
    expect(s.peak).toBe(3);
    expect(s.connections).toBe(3);
  });

  it('a request paused by its reader and never resumed does not stall the next one on its connection', async () => {
    const s = await rawServer((_h, socket, i) => socket.write(ok(`r${i}`)));
    const a = agent();
    // The proxy pauses when its client is slow and resumes on 'drain', which need not come once the response ended.
    const first = await exchange(a, s.origin, {}, undefined, (c) => c.pause());
    expect(first.body).toBe('r0');
    const second = await Promise.race([exchange(a, s.origin), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
    expect(second?.body).toBe('r1');
    expect(s.requests.map((r) => r.connection)).toEqual([0, 0]);
  });

  it('an abort mid-body ends the request with the reason and gives the connection up', async () => {
    const s = await rawServer((_h, socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart'));
    let controller: Dispatcher.DispatchController | undefined;
    const pending = exchange(agent(), s.origin, {}, (c) => (controller = c));
    await new Promise((r) => setTimeout(r, 50));
    controller!.abort(new Error('client went away'));
    const out = await pending;
    expect(out.error?.message).toBe('client went away');
    expect(out.body).toBe('part');
  });

  it('an abort as the request starts, on a new connection: nothing is written, the connection closes, the next request gets a new one', async () => {
    const s = await rawServer((_h, socket, i) => socket.write(ok(`r${i}`)));
    const a = agent();
    const out = await exchange(a, s.origin, {}, (c) => c.abort(new Error('client went away')));
    expect(out.error?.message).toBe('client went away');
    await new Promise((r) => setTimeout(r, 50));
    expect(s.requests).toHaveLength(0);
    expect(a.idleConnections(s.origin)).toBe(0);
    const next = await exchange(a, s.origin);
    expect(next.body).toBe('r0');
    expect(s.requests.map((r) => r.connection)).toEqual([1]);
  });

  it('a response that comes back at once, with the server closing: read whole', async () => {
    // The connection's listeners are set after its first write (lean-connection.ts): in the same turn, before any byte can be read.
    const s = await rawServer((_h, socket) => socket.end(ok('quick', 'connection: close\r\n')));
    const a = agent();
    for (let i = 0; i < 3; i++) expect((await exchange(a, s.origin)).body).toBe('quick');
    expect(s.connections).toBe(3);
  });

  it('destroy() ends a request whose connection is still being made; close() lets a running one finish', async () => {
    const s = await rawServer((_h, socket, i) => setTimeout(() => socket.write(ok(`r${i}`)), 50));
    const a = agent();
    const cut = exchange(a, s.origin);
    await a.destroy();
    expect((await cut).error).toBeDefined();
    const b = agent();
    const running = exchange(b, s.origin);
    await new Promise((r) => setTimeout(r, 20));
    await b.close();
    expect((await running).body).toBe('r0');
    // The destroyed agent's connect never carried a request.
    expect(s.requests).toHaveLength(1);
  });

  it('a refused connect fails with the connect error, untouched', async () => {
    const s = await rawServer(() => undefined);
    const port = new URL(s.origin).port;
    for (const srv of servers.splice(0)) srv.close();
    await new Promise((r) => setTimeout(r, 20));
    const out = await exchange(agent(), `http://127.0.0.1:${port}`);
    expect(out.error?.code).toBe('ECONNREFUSED');
  });
});
