// maxUpstreamConnections holds for the proxy as a whole: first attempts and
// replays (two undici agents) share it. A slow upstream on loopback drops every
// request's first attempt without answering (so each is replayed on a plain
// connection) and answers the replay late; more concurrent requests than the
// cap; the upstream counts its own concurrent connections.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveInProcess, type InProcessSynpool } from '../helpers/proxy-process.js';

const CAP = 4;
const REQUESTS = 12;
/** A first attempt is dropped this long after it arrived: the connection stays busy meanwhile. */
const DROP_AFTER_MS = 100;
/** A replay is answered this late. */
const ANSWER_AFTER_MS = 150;

let upstream: http.Server;
let proxy: InProcessSynpool | undefined;
const open = new Set<Socket>();
let maxOpen = 0;
let dropped = 0;
const seen = new Set<string>();

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    if (!seen.has(req.url!)) {
      seen.add(req.url!);
      setTimeout(() => {
        dropped++;
        req.socket.destroy();
      }, DROP_AFTER_MS);
      return;
    }
    setTimeout(() => res.end('ok\n'), ANSWER_AFTER_MS);
  });
  upstream.on('connection', (socket: Socket) => {
    open.add(socket);
    maxOpen = Math.max(maxOpen, open.size);
    socket.once('close', () => open.delete(socket));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  proxy = await serveInProcess({ upstream: `http://127.0.0.1:${port}`, accel: false, maxUpstreamConnections: CAP, headersTimeoutMs: 20_000 });
});

afterAll(async () => {
  await proxy?.stop();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

describe('maxUpstreamConnections', () => {
  it(`${REQUESTS} concurrent requests, each replayed once: the upstream never sees more than ${CAP} connections at once`, async () => {
    const statuses = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        const res = await fetch(`${proxy!.url}/r/${i}`, { signal: AbortSignal.timeout(30_000) });
        await res.text();
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(REQUESTS).fill(200));
    // Every first attempt was dropped and every request replayed: both agents were busy.
    expect(dropped).toBe(REQUESTS);
    expect(proxy!.log.requests().length).toBe(REQUESTS);
    expect(maxOpen, 'the cap was reached (else this test proves nothing)').toBeGreaterThanOrEqual(CAP - 1);
    expect(maxOpen, `concurrent upstream connections (max ${maxOpen})`).toBeLessThanOrEqual(CAP);
  });
});
