// The own-time bench's relay floor (bench/own-time/relay-floor.ts, built to
// dist): the own-time client's requests, each on a fresh connection with
// `Connection: close`, are relayed over one upstream connection kept open, and
// every answer arrives whole. On loopback, against a keep-alive node:http server.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ownTimeRequest } from '../../bench/own-time/request-client.js';
import { stopChild, waitForJsonLine } from '../../bench/topology/child-output.js';

const RELAY = fileURLToPath(new URL('../../dist/bench/own-time/relay-floor.js', import.meta.url));

let upstream: http.Server;
let relay: ChildProcess;
let relayPort: number;
const upstreamConnections: number[] = [];
const connectionHeaders: (string | undefined)[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    connectionHeaders.push(req.headers.connection);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
  });
  upstream.keepAliveTimeout = 60_000;
  upstream.on('connection', (s) => upstreamConnections.push(s.remotePort ?? 0));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as AddressInfo;
  relay = spawn(process.execPath, [RELAY, '--upstream', `127.0.0.1:${port}`, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  relayPort = (await waitForJsonLine<{ listening: number }>(relay, 10_000, 'relay floor')).listening;
});

afterAll(async () => {
  if (relay) await stopChild(relay, 2_000);
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

describe('relay floor', () => {
  test('relays each request whole over one kept upstream connection, asking the upstream to keep it', async () => {
    for (let id = 1; id <= 5; id++) {
      const r = await ownTimeRequest(relayPort, id);
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(200);
      await sleep(20);
    }
    expect(upstreamConnections).toHaveLength(1);
    expect(connectionHeaders).toEqual(Array(5).fill('keep-alive'));
  });

  test('a burst opens an upstream connection per client at once, and they are kept for the next burst', async () => {
    const before = upstreamConnections.length;
    const burst = async (base: number) => Promise.all(Array.from({ length: 4 }, (_, i) => ownTimeRequest(relayPort, base + i)));
    for (const r of await burst(100)) expect(r.status).toBe(200);
    const opened = upstreamConnections.length - before;
    expect(opened).toBeGreaterThanOrEqual(3);
    // The relay takes an upstream connection back when it sees its client's close.
    await sleep(100);
    for (const r of await burst(200)) expect(r.status).toBe(200);
    expect(upstreamConnections.length - before).toBe(opened);
  });
});
